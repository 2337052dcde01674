"""``neurochip run ARTIFACT --backend native [--learn] [--task evidence --trials N --seed S] -o OUTDIR``:
run (and optionally train on chip) a compiled network on a generated task."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run", help="run a compiled network on a backend (native | lava | brian2), optionally learning on chip",
        description="Load a compiled artifact (CompiledNetwork.load), draw trials of a generated task and run them on "
                    "a backend. With --learn (native backend) the compiled on-chip rule trains the network on the "
                    "'train' split for --epochs passes, then the learned integer weights are evaluated on held-out "
                    "'test' trials. Prints accuracy, mean spike rate (Hz) and event counts; writes OUTDIR/run.json, "
                    "OUTDIR/raster.png and, with --learn, OUTDIR/learned.npz + learned.json (integer mantissas).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("artifact", help="compiled artifact: <stem> of <stem>.npz + <stem>.json (or its directory)")
    p.add_argument("--backend", default="native", help="backend: native, lava or brian2")
    p.add_argument("--mode", default="fixed", choices=["fixed", "float"],
                   help="native only: fixed-point chip arithmetic or the unquantised float network")
    p.add_argument("--learn", action="store_true", help="train on chip with the compiled learning rule (native)")
    p.add_argument("--task", default="evidence", help="generated task: evidence, pattern or store_recall")
    p.add_argument("--trials", type=int, default=64, help="trials per split (train when learning, and test)")
    p.add_argument("--test-trials", type=int, default=None, help="held-out test trials (default: --trials)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training trials when learning")
    p.add_argument("--batch-size", type=int, default=None,
                   help="trials per on-chip weight application (default: every trial)")
    p.add_argument("--lr", type=float, default=None,
                   help="on-chip SGD learning rate (dimensionless; re-lowers the rule), default: the compiled one")
    p.add_argument("--rounding", default=None, choices=["nearest", "stochastic"],
                   help="on-chip learning rounding (re-lowers the rule), default: the compiled one")
    p.add_argument("--seed", type=int, default=0, help="task seed and stochastic-rounding seed")
    p.add_argument("-o", "--out", required=True, help="output directory (created atomically; an existing non-empty "
                   "directory is refused unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory (whole)")
    p.set_defaults(func=run)


def _load(path: str):
    from ..compiler.artifact import CompiledNetwork
    p = Path(path)
    if p.is_dir():
        p = p / "compiled"
    elif p.suffix in (".npz", ".json"):
        p = p.with_suffix("")
    return CompiledNetwork.load(p)


def raster_png(spikes, path, title: str) -> None:
    """Spike raster of one trial (spikes [T, n_rec] 0/1): time (ms steps) vs neuron index."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    t, j = np.nonzero(spikes)
    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    ax.scatter(t, j, s=1, c="k", marker="|")
    ax.set_xlabel("time step (dt)")
    ax.set_ylabel("neuron")
    ax.set_xlim(0, spikes.shape[0])
    ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
    ax.set_title(title)
    fig.tight_layout()
    import io as _io
    from ..io import atomic_write_bytes
    buf = _io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def run(args) -> int:
    from dataclasses import replace

    import numpy as np

    from ..backends import get_backend
    from ..errors import ConfigError
    from ..io import save_bundle, staged_output_dir, write_json
    from ..learning.losses import task_metrics
    from ..tasks import get_task

    for name in ("trials", "epochs"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be >= 1, got {getattr(args, name)}")
    c = _load(args.artifact)
    task = get_task(args.task, seed=args.seed)
    if task.n_in != c.n_in or task.n_out != c.n_out:
        raise ConfigError(f"task {args.task!r} has n_in={task.n_in}, n_out={task.n_out}; the artifact has "
                          f"n_in={c.n_in}, n_out={c.n_out}")
    be = get_backend(args.backend)
    kw = {"mode": args.mode} if args.backend == "native" else {}
    summary: dict = {"artifact": str(args.artifact), "backend": args.backend, "task": args.task, "seed": args.seed,
                     "profile": c.profile_name}
    learned = None
    if args.learn:
        if args.backend != "native":
            raise ConfigError(f"--learn runs the on-chip rule on the native backend; got --backend {args.backend}")
        if c.rule is None:
            raise ConfigError("--learn needs an artifact compiled with a learning rule (neurochip compile --rule ...)")
        if args.lr is not None or args.rounding is not None:
            from ..compiler.lower_rule import LowerRuleOptions, relower
            from ..rules import LearningRule
            rule = LearningRule(name=c.rule.name, eligibility=c.rule.eligibility, lr=args.lr or c.rule.lr)
            c = relower(c, rule, LowerRuleOptions(lr=args.lr, rounding=args.rounding or c.rule.rounding,
                                                  seed=c.rule.seed))
        train = task.batch(args.trials, "train", 0)
        r = be.run(c, train.x, learn=True, targets=train, seed=args.seed, epochs=args.epochs,
                   batch_size=args.batch_size)
        learned = r
        summary["learning"] = {"epochs": r.meta["epochs"], "counts": r.counts.to_dict(), "wall_s": r.meta["wall_s"],
                               "per_trial_s": r.meta["per_trial_s"], "eligibility": r.meta["eligibility"],
                               "rounding": r.meta["rounding"], "lr": float(c.rule.lr)}
        c = replace(c, w_in=r.weights["w_in"], w_rec=r.weights["w_rec"], w_out=r.weights["w_out"])
    test = task.batch(args.test_trials or args.trials, "test", 0)
    res = be.run(c, test.x, **kw)
    metrics = task_metrics(res.outputs, test.target, test.mask, test.loss)
    rate = float(res.spikes.mean()) * 1000.0 / float(getattr(task, "dt", 1.0))
    summary.update({"test": metrics, "spike_rate_hz": rate, "counts": res.counts.to_dict(),
                    "wall_s": res.meta.get("wall_s")})
    out = Path(args.out)
    with staged_output_dir(out, force=args.force) as d:
        write_json(d / "run.json", summary)
        raster_png(res.spikes[0], d / "raster.png", f"{args.task} test trial 0 on {args.backend} ({c.profile_name})")
        if learned is not None:
            save_bundle(d / "learned", "learned-weights", 1,
                        {k: (v.toarray() if hasattr(v, "toarray") else np.asarray(v)) for k, v in learned.weights.items()},
                        {"rule": c.rule.to_dict() if c.rule is not None else None, "epochs": learned.meta["epochs"]})
    if learned is not None:
        for h in learned.meta["epochs"]:
            acc = f", train accuracy {h['accuracy']:.3f}" if "accuracy" in h else ""
            print(f"epoch {h['epoch']}: train loss {h['loss']:.4f}{acc}")
    for k, v in metrics.items():
        print(f"test {k}: {v:.4f}")
    print(f"spike rate: {rate:.2f} Hz")
    cs = res.counts.scalars()
    print("events: " + ", ".join(f"{k}={v}" for k, v in cs.items() if v))
    if learned is not None:
        lc = learned.counts
        print(f"learning events: trace_updates={lc.trace_updates}, weight_updates={lc.weight_updates}, "
              f"learning_signal_msgs={lc.learning_signal_msgs}, learning_signal_hops={lc.learning_signal_hops}")
    print(f"wrote {out / 'run.json'}, {out / 'raster.png'}" + (f", {out / 'learned.npz'}" if learned is not None else ""))
    return 0
