"""``neurochip compile NET --chip loihi2 [--rule eprop_random] -o OUTDIR``: lower a saved network to a chip."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compile", help="compile a saved float network to a chip profile (fixed point, cores, routes)",
        description="Check, quantise, partition, place and route a saved Network for a chip profile. Writes "
                    "OUTDIR/compiled.npz + compiled.json (the artifact), OUTDIR/report.json and OUTDIR/coremap.png, "
                    "and prints the compile report. A network that does not fit exits 2 with every violated "
                    "constraint named.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("net", help="saved network (Network.save): its stem, <stem>.npz, <stem>.json, or a 'neurochip train' "
                               "output directory")
    p.add_argument("--chip", default="loihi2", help="chip profile: a shipped name (see 'neurochip chips') or a .toml path")
    p.add_argument("--rule", default=None,
                   help="on-chip learning rule to lower (eprop_random, eprop_symmetric, eprop_adaptive, rflo; "
                        "stdp / rstdp on W_in for chips with a plasticity engine); default: inference only")
    p.add_argument("--task", default=None,
                   help="--rule rstdp: task whose 16 validation trials calibrate the tag scale (default: the task the "
                        "network was trained on; none for a bare network file)")
    p.add_argument("--eligibility", default=None, choices=["per_synapse", "factorised"],
                   help="on-chip eligibility form for --rule (default: the profile's first supported form)")
    p.add_argument("--rounding", default="nearest", choices=["nearest", "stochastic"],
                   help="rounding of weights to mantissas")
    p.add_argument("--lr", type=float, default=None,
                   help="on-chip SGD learning rate of --rule (dimensionless; default: the rule's own)")
    p.add_argument("--learn-rounding", default=None, choices=["nearest", "stochastic"],
                   help="rounding of the on-chip learning rule (default: the profile's first supported mode)")
    p.add_argument("--seed", type=int, default=0, help="seed of stochastic rounding (counter-based, repeatable)")
    p.add_argument("--reset", default="auto", choices=["auto", "subtract", "zero"],
                   help="neuron reset on chip; 'auto' = the float model's reset by subtraction when available")
    p.add_argument("--approximate", default="",
                   help="comma-separated approximations you accept when the chip lacks a feature: "
                        "reset (reset to zero), adaptation (drop ALIF adaptation), refractory (drop the refractory period)")
    p.add_argument("--v-headroom", type=float, default=16.0,
                   help="membrane range in units of v_th that must fit the membrane register (dimensionless)")
    p.add_argument("--rate", type=float, default=10.0,
                   help="expected firing rate per neuron (Hz) used to weight spike traffic in partition/place")
    p.add_argument("--overflow", default="warn", choices=["error", "warn", "allow"],
                   help="a register that can wrap or saturate (worst case, report 'overflow'): refuse it (exit 2), "
                        "warn (default) or accept it silently in the report")
    p.add_argument("-o", "--out", required=True, help="output directory (created atomically; an existing non-empty "
                   "directory is refused unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory (whole)")
    p.set_defaults(func=run)


def trained_rule(net_path):
    """The `LearningRule` a saved network was trained with, from the metrics its ``train`` (metrics.json) or
    ``demo`` (train_metrics.json) output wrote beside it (``config['rule']``); None for a bare network file."""
    import json
    from ..errors import ArtifactError
    from ..io import resolve_bundle
    from ..rules import LearningRule
    stem = resolve_bundle(net_path, ("network",))
    for name in ("metrics.json", "train_metrics.json"):
        f = stem.parent / name
        if stem.name == "network" and f.is_file():
            try:
                d = json.loads(f.read_text())["config"]["rule"]
                return LearningRule.from_dict(dict(d))
            except (ValueError, KeyError, TypeError) as e:
                raise ArtifactError(f"{f}: holds no readable training rule (config.rule: {e})") from None
    return None


def trained_task(net_path):
    """The task a saved network was trained on (``config['task']`` of its train / demo metrics), or None."""
    import json
    from ..io import resolve_bundle
    from ..tasks import get_task
    stem = resolve_bundle(net_path, ("network",))
    for name in ("metrics.json", "train_metrics.json"):
        f = stem.parent / name
        if stem.name == "network" and f.is_file():
            try:
                t = dict(json.loads(f.read_text())["config"]["task"])
            except (ValueError, KeyError, TypeError):
                return None
            return get_task(t.pop("name"), **t)
    return None


def run(args) -> int:
    from ..compiler import CompileOptions, PartitionOptions, compile
    from ..compiler.coremap import coremap_png
    from ..compiler.table import report_text
    from ..chips.profile import load_profile
    from ..errors import ConfigError
    from ..io import staged_output_dir, write_json
    from ..network import Network
    from ..rules import LearningRule
    from dataclasses import replace

    import math
    if not (math.isfinite(args.rate) and args.rate >= 0):
        raise ConfigError(f"--rate must be a finite number >= 0 Hz, got {args.rate}")
    if not (math.isfinite(args.v_headroom) and args.v_headroom > 0):
        raise ConfigError(f"--v-headroom must be a finite number > 0 (units of v_th), got {args.v_headroom}")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise ConfigError(f"--lr must be a finite number > 0, got {args.lr}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed}")
    approx = tuple(a.strip() for a in args.approximate.split(",") if a.strip())
    o = CompileOptions.make(rounding=args.rounding, seed=args.seed, reset=args.reset, approximate=approx,
                            learn_rounding=args.learn_rounding, v_headroom=args.v_headroom,
                            overflow=args.overflow)  # checks the options
    prof = load_profile(args.chip)
    net = Network.load(args.net)
    rule = None
    if args.rule:
        # the rule the network was trained with (its settings: trained matrices, regulariser, rate, ...)
        # when the network comes from a train / demo output, with --rule / --eligibility / --lr applied
        trained = trained_rule(args.net)
        base = trained or LearningRule(name=args.rule)
        elig = args.eligibility or (base.eligibility if trained is not None and base.eligibility in prof.learning.eligibility
                                    else (prof.learning.eligibility[0] if prof.learning.eligibility else "per_synapse"))
        kw = {"lr": args.lr} if args.lr is not None else {}
        rule = replace(base, name=args.rule, eligibility=elig, **kw)
    o = replace(o, partition=PartitionOptions(rate_hz=args.rate))
    calib = None
    if rule is not None and rule.name == "rstdp":
        # R-STDP's tag scale is calibrated on the float network's eligibility over 16 validation trials of
        # the task it was trained on (none for a bare network file: the report's calib_emax is then 1)
        from ..tasks import get_task
        task = get_task(args.task) if args.task else trained_task(args.net)
        calib = task.batch(16, "val", 999).x if task is not None else None
    cn = compile(net, prof, rule, options=o, calib_x=calib)
    out = Path(args.out)
    with staged_output_dir(out, force=args.force) as d:
        cn.save(d / "compiled")
        write_json(d / "report.json", cn.report)
        coremap_png(cn, d / "coremap.png")
    print(report_text(cn.report))
    print(f"\nwrote {out / 'compiled.npz'}, {out / 'compiled.json'}, {out / 'report.json'}, {out / 'coremap.png'}")
    return 0
