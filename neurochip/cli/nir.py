"""``neurochip export-nir NET -o FILE.nir`` and ``neurochip import-nir FILE.nir -o STEM``: NIR interchange.

export-nir writes a saved float network (and optionally its learning rule) as a NIR graph that other
tools read as a LIF network; neurochip reads it back exactly (docs/nir.md). import-nir reads a NIR
file written by neurochip or by another tool (snnTorch, Norse, ...) and saves it as a neurochip
network, ready for ``neurochip compile``.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    e = sub.add_parser(
        "export-nir", help="write a saved float network as a NIR graph (.nir, HDF5)",
        description="Write a saved Network as a NIR graph: Input -> Linear -> LIF (with its recurrent Linear) -> "
                    "Linear -> LI readout -> Output, NIR parameters in the forward-Euler convention with the graph's "
                    "dt (metadata 'dt', seconds). ALIF adaptation, reset by subtraction, the refractory period and "
                    "an on-chip learning rule are stored as neurochip metadata: standard NIR readers cannot "
                    "represent them and the file says so; 'neurochip import-nir' reads them back exactly.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("net", help="saved network: <stem> of <stem>.npz + <stem>.json (Network.save)")
    e.add_argument("-o", "--out", required=True, help="output .nir file (refused if it exists, unless --force)")
    e.add_argument("--rule", default=None,
                   help="learning rule to store with the network (bptt, eprop_random, eprop_symmetric, "
                        "eprop_adaptive, rflo); default: none")
    e.add_argument("--lr", type=float, default=None, help="learning rate stored with --rule (default: the rule's)")
    e.add_argument("--force", action="store_true", help="overwrite an existing output file")
    e.set_defaults(func=run_export)

    i = sub.add_parser(
        "import-nir", help="read a NIR graph (from neurochip or another tool) into a saved float network",
        description="Read a NIR file and save it as a neurochip Network (<stem>.npz + <stem>.json). Files written by "
                    "neurochip come back bit-identical. Files from other tools (Linear/Affine with zero bias + LIF, "
                    "or CubaLIF with a memoryless synapse, feed-forward or recurrent, optional Linear -> LI readout) "
                    "are mapped with forward Euler; each layer-to-layer projection adds one step of delay (docs/nir.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    i.add_argument("nir_file", help="input .nir file")
    i.add_argument("-o", "--out", required=True, help="output stem: writes <stem>.npz + <stem>.json")
    i.add_argument("--dt", type=float, default=None,
                   help="time step of the graph in SECONDS, for files that do not store it (snnTorch exports "
                        "with 1e-4, Norse with 1e-3); default: the file's metadata 'dt'")
    i.add_argument("--tau-out", type=float, default=None,
                   help="readout time constant (ms) for graphs whose output is spikes; default: tau_m")
    i.add_argument("--force", action="store_true", help="overwrite an existing <stem>.npz / <stem>.json")
    i.set_defaults(func=run_import)


def run_export(args) -> int:
    from ..errors import ConfigError
    from ..network import Network
    from ..nir import write_nir
    from ..rules import LearningRule

    out = Path(args.out)
    if out.exists() and not args.force:
        raise ConfigError(f"{out} exists; use --force to overwrite")
    if args.lr is not None and not args.rule:
        raise ConfigError("--lr needs --rule")
    net = Network.load(args.net)
    rule = None
    if args.rule:
        rule = LearningRule(name=args.rule) if args.lr is None else LearningRule(name=args.rule, lr=args.lr)
    write_nir(out, net, rule)
    p = net.params
    print(f"wrote {out}: {net.n_in} inputs, {net.n_rec} {p.kind.upper()} neurons, {net.n_out} outputs, "
          f"dt = {p.dt:g} ms (NIR metadata dt = {p.dt * 1e-3:g} s, forward Euler)")
    extras = ["reset by subtraction"]
    if p.n_ref > 1:
        extras.append(f"refractory period {p.n_ref} steps")
    if p.kind == "alif":
        extras.append("ALIF adaptation")
    if rule is not None:
        extras.append(f"learning rule {rule.name}")
    print("note: standard NIR readers see a LIF network with hard reset; not representable for them: "
          + ", ".join(extras) + " (kept as neurochip metadata; 'neurochip import-nir' restores them)")
    return 0


def run_import(args) -> int:
    from ..errors import ConfigError
    from ..nir import read_nir

    stem = Path(args.out)
    if stem.suffix in (".npz", ".json"):
        stem = stem.with_suffix("")
    targets = [stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")]
    if any(t.exists() for t in targets) and not args.force:
        raise ConfigError(f"{targets[0]} or {targets[1]} exists; use --force to overwrite")
    if args.tau_out is not None and not args.tau_out > 0:
        raise ConfigError(f"--tau-out must be > 0 ms, got {args.tau_out}")
    imp = read_nir(args.nir_file, dt=args.dt, tau_out_ms=args.tau_out)
    net = imp.network
    net.save(stem)
    p = net.params
    print(f"read {args.nir_file}: {'neurochip graph, exact' if imp.exact else 'foreign graph, mapped'}; "
          f"{net.n_in} inputs, {net.n_rec} {p.kind.upper()} neurons, {net.n_out} outputs, dt = {p.dt:g} ms, "
          f"tau_m = {p.tau_m:.6g} ms, v_th = {p.v_th:g}")
    for name, first, n in imp.layers:
        print(f"  layer {name}: neurons {first}..{first + n - 1}")
    for note in imp.notes:
        print(f"  note: {note}")
    if imp.rule is not None:
        print(f"  learning rule stored in the file: {imp.rule.name} (lr {imp.rule.lr:g}, {imp.rule.optimizer})")
    print(f"wrote {targets[0]}, {targets[1]}")
    return 0
