"""``neurochip analyse NET_OR_ARTIFACT [--task evidence] [--trials N] [--iters K] -o OUTDIR``: what a rule
converged to: loss-landscape curvature and generalization gap (Liu et al., NeurIPS 2022), float vs on-chip.

NET_OR_ARTIFACT is a saved float network (``neurochip train`` output) or a compiled artifact (``neurochip
compile`` output); a directory means its network.* or compiled.*. For a network only the float side is
analysed; for an artifact both its source float network and the chip (dequantised weights for the
curvature, native fixed-point runs for the gap), optionally after ``--learn-epochs`` of on-chip learning.
Writes OUTDIR/analysis.json and OUTDIR/analysis.png; an existing non-empty OUTDIR is refused unless --force.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "analyse", help="curvature (dominant surrogate-Hessian eigenvalue) and generalization gap, float vs on-chip",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="NET_OR_ARTIFACT",
                   help="saved network or compiled artifact: <stem> of <stem>.npz/.json, or a train/compile output directory")
    p.add_argument("--task", choices=["evidence", "pattern", "store_recall"], default="evidence",
                   help="task whose 'train' and 'test' draws are used (default evidence)")
    p.add_argument("--trials", type=int, default=16,
                   help="trials per batch (count); the curvature batch is train draw --train-first, the gap uses --batches "
                        "train and test draws of this size (default 16)")
    p.add_argument("--batches", type=int, default=1,
                   help="train and test draws each for the generalization gap (count, default 1)")
    p.add_argument("--iters", type=int, default=30,
                   help="maximum power iterations (Hessian-vector products, each 2 gradient evaluations; default 30)")
    p.add_argument("--tol", type=float, default=1e-3,
                   help="relative convergence tolerance of the eigenvalue (dimensionless, default 1e-3)")
    p.add_argument("--arnoldi", action="store_true",
                   help="when power iteration does not converge (a +-lambda or complex dominant pair), also run "
                        "Arnoldi (ARPACK) on the same operator and report its two largest-|lambda| eigenvalues")
    p.add_argument("--learn-epochs", type=int, default=0,
                   help="artifact only: passes of on-chip learning (native, the compiled rule) over the train "
                        "draws before the chip is analysed (count, default 0 = the artifact's weights)")
    p.add_argument("--learn-lr", type=float, default=None,
                   help="on-chip SGD learning rate for --learn-epochs (dimensionless; re-lowers the rule), default: "
                        "the compiled one (docs/native.md: rates >= 1e-4 collapse evidence accumulation)")
    p.add_argument("--learn-batch", type=int, default=None,
                   help="trials per on-chip weight application for --learn-epochs (count, default: every trial)")
    p.add_argument("--train-first", type=int, default=0,
                   help="index of the first 'train' draw (default 0; training seed s drew index s*10**6 + i at "
                        "iteration i, so 0..batches-1 are the first batches seed 0 trained on)")
    p.add_argument("--task-seed", type=int, default=0, help="seed of the task's draws (default 0)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the power-iteration start vector and of on-chip stochastic rounding (default 0)")
    p.add_argument("-o", "--out", required=True, help="output directory (created atomically; refused if non-empty)")
    p.add_argument("--force", action="store_true", help="replace a non-empty output directory whole")
    p.set_defaults(func=run)


def resolve(target: str) -> tuple[str, Path]:
    """('network' | 'compiled', bundle stem) of NET_OR_ARTIFACT, read from its JSON manifest's kind."""
    from ..errors import ArtifactError
    from ..io import bundle_paths
    t = Path(target)
    if t.is_dir():
        cands = [t / "compiled", t / "network"]
        found = [c for c in cands if c.with_suffix(".json").is_file()]
        if not found:
            raise ArtifactError(f"{t}: directory holds neither compiled.json nor network.json "
                                f"(expected a 'neurochip train' or 'neurochip compile' output)")
        t = found[0]
    _, js = bundle_paths(t)
    if not js.is_file():
        raise ArtifactError(f"{js}: file not found (a network or artifact is saved as <name>.npz + <name>.json)")
    try:
        kind = json.loads(js.read_text("utf-8")).get("kind")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as e:
        raise ArtifactError(f"{js}: manifest is not a neurochip bundle ({e.__class__.__name__})") from None
    if kind not in ("network", "compiled"):
        raise ArtifactError(f"{js}: holds a {kind!r}, expected a 'network' or a 'compiled' artifact")
    return kind, js.with_suffix("")


def _check(args) -> None:
    from ..errors import ConfigError
    for name, v, lo in (("--trials", args.trials, 1), ("--batches", args.batches, 1), ("--iters", args.iters, 1),
                        ("--learn-epochs", args.learn_epochs, 0), ("--train-first", args.train_first, 0)):
        if v < lo:
            raise ConfigError(f"{name} must be >= {lo}, got {v}")
    if args.learn_lr is not None and not (args.learn_lr > 0):
        raise ConfigError(f"--learn-lr must be > 0, got {args.learn_lr}")
    if args.learn_batch is not None and args.learn_batch < 1:
        raise ConfigError(f"--learn-batch must be >= 1 trials, got {args.learn_batch}")
    if not (0 < args.tol < 1):
        raise ConfigError(f"--tol must be in (0, 1), got {args.tol}")


def _learn(compiled, task, args, indices):
    """On-chip learning on the train draws; returns the learned mantissas and the per-epoch record."""
    import numpy as np
    from ..backends import get_backend
    from ..errors import ConfigError
    from ..tasks import Batch
    if compiled.rule is None:
        raise ConfigError("--learn-epochs needs an artifact compiled with a learning rule (neurochip compile --rule ...)")
    if args.learn_lr is not None:
        # the compiled rule at another rate: every other setting (trained matrices, regulariser, batch,
        # eligibility, rounding, seed) kept, as `neurochip run --lr` does
        from ..onchip import prepare_rule
        compiled = prepare_rule(compiled, lr=args.learn_lr)
    bs = [task.batch(args.trials, "train", i) for i in indices]
    b = Batch(x=np.concatenate([q.x for q in bs]), target=np.concatenate([q.target for q in bs]), loss=bs[0].loss,
              mask=np.concatenate([q.mask for q in bs]))
    r = get_backend("native").run(compiled, b.x, learn=True, targets=b, seed=args.seed, epochs=args.learn_epochs,
                                  batch_size=args.learn_batch)
    return r.weights, {"epochs": r.meta.get("epochs"), "lr": float(compiled.rule.lr), "batch_size": args.learn_batch}


def plot(report: dict, path, title: str) -> None:
    """Two panels: power-iteration histories, and curvature / gap bars per side. Written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..io import save_figure
    sides = [s for s in ("float", "chip") if s in report]
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.4))
    for s in sides:
        for key, ls in (("curvature", "-"), ("curvature_readout", "--")):
            if key in report[s]:
                h = report[s][key]["history"]
                ax[0].plot(range(1, len(h) + 1), h, ls, marker=".", label=f"{s} {'all weights' if ls == '-' else 'w_out'}")
    ax[0].set_xlabel("power iteration"); ax[0].set_ylabel("Rayleigh quotient"); ax[0].legend(fontsize=7)
    ax[0].set_title("dominant eigenvalue")
    xs = range(len(sides))
    ax[1].bar([x - 0.2 for x in xs], [report[s]["curvature"]["value"] for s in sides], 0.4, label="all weights (surrogate)")
    ax[1].bar([x + 0.2 for x in xs], [report[s].get("curvature_readout", {}).get("value", 0.0) for s in sides], 0.4,
              label="w_out (exact)")
    ax[1].set_xticks(list(xs)); ax[1].set_xticklabels(sides); ax[1].axhline(0, c="k", lw=0.5)
    ax[1].set_title("curvature lambda"); ax[1].legend(fontsize=7)
    for i, key in enumerate(("loss_gap", "error_gap")):
        ax[2].bar([x + (i - 0.5) * 0.4 for x in xs], [report[s]["gap"][key] for s in sides], 0.4,
                  yerr=[report[s]["gap"][key + "_se"] for s in sides], label=key.replace("_", " "))
    ax[2].set_xticks(list(xs)); ax[2].set_xticklabels(sides); ax[2].axhline(0, c="k", lw=0.5)
    ax[2].set_title("test - train (+- 1 s.e.)"); ax[2].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def _line(name: str, r: dict) -> str:
    c, g = r["curvature"], r["gap"]
    s = (f"  {name:5s}: lambda = {c['value']:+.4g} ({'converged' if c['converged'] else 'NOT converged'} in "
         f"{c['iterations']} it, residual {c['residual']:.2g}, flips {c['max_flips']})")
    if "arnoldi" in c:
        ev = ", ".join(f"{re:+.4g}{im:+.2g}i" for re, im in c["arnoldi"]["eigenvalues"])
        s += f"; Arnoldi: {ev}{'' if c['arnoldi']['converged'] else ' (NOT converged)'}"
    if "curvature_readout" in r:
        s += f", w_out block {r['curvature_readout']['value']:+.4g}"
    s += (f"; loss train {g['train']['loss']:.4g} / test {g['test']['loss']:.4g} (gap {g['loss_gap']:+.3g} +- "
          f"{g['loss_gap_se']:.2g}), error gap {g['error_gap']:+.3g} +- {g['error_gap_se']:.2g}")
    return s


def run(args) -> int:
    from ..analysis import analyse_network, chip_network, chip_with_weights, chip_outputs
    from ..errors import ConfigError
    from ..io import staged_output_dir, write_json
    from ..tasks import get_task

    _check(args)
    kind, stem = resolve(args.target)
    task = get_task(args.task, seed=args.task_seed)
    if kind == "network":
        from ..network import Network
        net, compiled = Network.load(stem), None
        if args.learn_epochs:
            raise ConfigError("--learn-epochs needs a compiled artifact with a learning rule; "
                              f"{args.target} is a float network")
    else:
        from ..compiler.artifact import CompiledNetwork
        from ..validate import float_network
        compiled = CompiledNetwork.load(stem)
        net = float_network(compiled)
    if (net.n_in, net.n_out) != (task.n_in, task.n_out):
        raise ConfigError(f"task {args.task!r} needs n_in={task.n_in}, n_out={task.n_out} but {args.target} has "
                          f"n_in={net.n_in}, n_out={net.n_out}")
    idx = list(range(args.train_first, args.train_first + args.batches))
    test_idx = list(range(args.batches))
    kw = dict(iters=args.iters, tol=args.tol, seed=args.seed, train_indices=idx, test_indices=test_idx,
              arnoldi_fallback=args.arnoldi)
    report = {"target": str(args.target), "kind": kind, "task": args.task, "task_seed": args.task_seed,
              "trials_per_batch": args.trials, "batches": args.batches,
              "units": {"curvature": "task loss per weight^2 (dimensionless weights)", "loss": "task loss",
                        "error": "1 - accuracy ('ce') or nmse ('mse')"},
              "float": analyse_network(net, task, args.trials, **kw)}
    if compiled is not None:
        weights, epochs = (None, None)
        if args.learn_epochs:
            weights, epochs = _learn(compiled, task, args, idx)
        cn = chip_with_weights(compiled, weights)
        report["chip"] = analyse_network(chip_network(compiled, weights), task, args.trials,
                                         outputs=chip_outputs(cn), **kw)
        report["chip"].update(backend="native", profile=compiled.profile_name, learn_epochs=args.learn_epochs,
                              learning_record=epochs,
                              curvature_note="float surrogate Hessian at the chip's dequantised weights; the gap is "
                                             "measured on the chip (native fixed point)")
    title = f"{args.target} - {args.task}, {args.trials} trials x {args.batches} draws"
    with staged_output_dir(args.out, force=args.force) as d:
        write_json(d / "analysis.json", report)
        plot(report, d / "analysis.png", title)
    lines = [f"analyse {args.target} ({kind}) on {args.task}: surrogate-Hessian dominant eigenvalue, generalization gap"]
    lines += [_line(s, report[s]) for s in ("float", "chip") if s in report]
    lines.append(f"  -> {Path(args.out) / 'analysis.json'}, {Path(args.out) / 'analysis.png'}")
    print("\n".join(lines))
    return 0
