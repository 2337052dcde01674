"""``neurochip run ARTIFACT --backend native [--learn] [--task evidence --trials N --seed S] -o OUTDIR``:
run (and optionally train on chip) a compiled network on a generated task."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run", help="run a compiled network on a backend (native | lava | brian2), optionally learning on chip",
        description="Load a compiled artifact (CompiledNetwork.load), draw trials of a generated task and run them on "
                    "a backend. With --learn (native backend) the compiled on-chip rule trains the network from its "
                    "compiled weights (random or pretrained): --iterations weight applications, each on a fresh batch "
                    "of --batch-size trials of the 'train' split (repeated --epochs times), evaluated every "
                    "--eval-every iterations on the held-out 'test' draw (--test-trials trials, never trained on). "
                    "Prints accuracy (or nmse), mean spike rate (Hz) and event counts; writes OUTDIR/run.json, "
                    "OUTDIR/raster.png and, with --learn, OUTDIR/learned.npz + learned.json (integer weight mantissas and the float "
                    "readout bias b_out), OUTDIR/compiled_learned.npz + .json (the learned network as a compiled "
                    "artifact, for run / validate / bench) and "
                    "the learning curve OUTDIR/onchip_curve.json + onchip_curve.png.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("artifact", help="compiled artifact: <stem> of <stem>.npz + <stem>.json (or its directory)")
    p.add_argument("--backend", default="native", help="backend: native, lava or brian2")
    p.add_argument("--mode", default="fixed", choices=["fixed", "float"],
                   help="native only: fixed-point chip arithmetic or the unquantised float network")
    p.add_argument("--learn", action="store_true", help="train on chip with the compiled learning rule (native)")
    p.add_argument("--task", default="evidence", help="generated task: evidence, pattern, store_recall or reward_pattern")
    p.add_argument("--trials", type=int, default=64,
                   help="held-out test trials; with --learn and no --iterations also the training trials per pass "
                        "(iterations = ceil(trials / batch-size))")
    p.add_argument("--test-trials", type=int, default=None, help="held-out test trials (default: --trials)")
    p.add_argument("--iterations", type=int, default=None,
                   help="on-chip weight applications per pass, each on a fresh batch (default: from --trials)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the same training draws when learning")
    p.add_argument("--batch-size", type=int, default=16, help="trials per on-chip weight application (B)")
    p.add_argument("--eval-every", type=int, default=None,
                   help="iterations between held-out evaluations (default: about 4 points per pass)")
    p.add_argument("--curve-trials", type=int, default=None,
                   help="held-out trials scored at intermediate curve points (default: min(test trials, 64)); the "
                        "first and last points score all held-out trials")
    p.add_argument("--lr", type=float, default=None,
                   help="on-chip learning rate (dimensionless; re-lowers the rule; an SGD rate unless --lr-mode "
                        "adam_equivalent), default: the compiled rule's chip setting (rate and mode)")
    p.add_argument("--lr-mode", default=None, choices=["sgd", "adam_equivalent"],
                   help="sgd: the chip steps -lr * grad (float SGD); adam_equivalent: each matrix's first update is "
                        "scaled to an rms step of lr (Adam's first step), then SGD; default: the compiled one, or sgd "
                        "with an explicit --lr")
    p.add_argument("--lr-decay", type=float, default=1.0,
                   help="step learning-rate schedule: the rate is multiplied by this every --lr-decay-every "
                        "iterations (over all epochs, as the float trainer's train.lr_decay); the chip scales by "
                        "powers of two, so 1 (constant, default), 0.5, 0.25, ...")
    p.add_argument("--lr-decay-every", type=int, default=100, help="iterations per phase of --lr-decay (default 100)")
    p.add_argument("--rounding", default=None, choices=["nearest", "stochastic"],
                   help="on-chip learning rounding (re-lowers the rule), default: the compiled one")
    p.add_argument("--eligibility", default=None, choices=["per_synapse", "factorised"],
                   help="on-chip eligibility form (re-lowers the rule), default: the compiled one")
    p.add_argument("--seed", type=int, default=0, help="task seed and stochastic-rounding seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-o", "--out", required=True, help="output directory (created atomically; an existing non-empty "
                   "directory is refused unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory (whole)")
    p.set_defaults(func=run)


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
    from ..io import save_figure
    save_figure(fig, path)


def learn_plan(args):
    """The `OnchipPlan` of ``neurochip run --learn`` (also used by the demo to draw identically)."""
    from ..onchip import OnchipPlan, default_curve_trials, default_eval_every
    its = args.iterations if args.iterations is not None else -(-int(args.trials) // max(1, int(args.batch_size)))
    ev = args.eval_every if args.eval_every is not None else default_eval_every(its)
    n_test = args.test_trials or args.trials
    ct = args.curve_trials if args.curve_trials is not None else default_curve_trials(n_test)
    return OnchipPlan(iterations=its, batch_size=args.batch_size, epochs=args.epochs, eval_every=ev,
                      eval_trials=n_test, seed=args.seed, curve_trials=ct,
                      lr_decay=getattr(args, "lr_decay", 1.0), lr_decay_every=getattr(args, "lr_decay_every", 100))


def check_memory(c, args, task) -> float:
    """`ConfigError` (one line) when the held-out draw (--test-trials, default --trials; chip run) and, with
    --learn, one training batch (--batch-size) cannot fit in the memory available (`neurochip.trial_memory`).
    More --trials with --learn only means more weight applications, one batch at a time: time, not memory."""
    from ..trial_memory import check_trials_memory, trial_bytes
    one = trial_bytes(c.n_in, c.n_rec, c.n_out, task.n_steps, loss=getattr(task, "loss", "ce"))
    parts = [("--test-trials" if args.test_trials else "--trials", args.test_trials or args.trials, one)]
    if args.learn:
        parts.append(("--batch-size", args.batch_size, one))
    return check_trials_memory(parts)


def run(args) -> int:
    import numpy as np

    from ..backends import get_backend
    from ..errors import ConfigError
    from ..io import save_bundle, staged_output_dir, write_json
    from ..onchip import check_output_dir
    from ..learning.losses import task_metrics
    from ..tasks import get_task

    for name in ("trials", "epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("test_trials", "iterations", "eval_every", "curve_trials"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    out = Path(args.out)
    check_output_dir(out, force=args.force)          # refuse an occupied OUTDIR before any work
    from ..compiler.artifact import CompiledNetwork
    c = CompiledNetwork.load(args.artifact)          # stem, .npz, .json or a compile output directory
    task = get_task(args.task, seed=args.seed)
    if task.n_in != c.n_in or task.n_out != c.n_out:
        raise ConfigError(f"task {args.task!r} has n_in={task.n_in}, n_out={task.n_out}; the artifact has "
                          f"n_in={c.n_in}, n_out={c.n_out}")
    check_memory(c, args, task)                      # impossible trial counts refused before any allocation
    be = get_backend(args.backend)
    caps = be.CAPABILITIES                           # ask what the backend declares, not its name
    if args.mode != "fixed" and args.mode not in caps.modes:
        raise ConfigError(f"--mode {args.mode}: backend {args.backend!r} offers no arithmetic modes beyond its own "
                          f"({caps.arithmetic})")
    kw = {"mode": args.mode} if "mode" in caps.options else {}
    summary: dict = {"artifact": str(args.artifact), "backend": args.backend, "task": args.task, "seed": args.seed,
                     "profile": c.profile_name}
    learned = None
    if args.learn:
        from ..onchip import check_plan, prepare_rule, summary_points, train_onchip, verdict
        if caps.learning != "compiled_rule":
            from ..backends import backends_with
            ok = [n for n in backends_with(arithmetic="fixed", learns=True) if get_backend(n).CAPABILITIES.learning == "compiled_rule"]
            raise ConfigError(f"--learn runs the compiled on-chip rule; backend {args.backend!r} does not execute it "
                              f"(learning: {caps.learning}); backends that do: {', '.join(ok)}")
        if args.mode != "fixed":
            raise ConfigError("--learn runs the chip's fixed-point rule; --mode float cannot learn")
        plan = learn_plan(args)
        c = prepare_rule(c, lr=args.lr, rounding=args.rounding, eligibility=args.eligibility,
                         batch_size=plan.batch_size, lr_mode=args.lr_mode)
        check_plan(c, task, plan)
        learned = train_onchip(c, task, plan, progress=not args.no_progress)
        c = learned.compiled
        cv = learned.curve
        summary["learning"] = {"iterations": plan.iterations, "epochs": plan.epochs, "batch_size": plan.batch_size,
                               "trials": plan.trials, "eval_every": plan.eval_every, "lr": cv["lr"], "lr_mode": cv.get("lr_mode"),
                               "lr_decay": cv["lr_decay"], "lr_decay_every": cv["lr_decay_every"],
                               "eligibility": cv["eligibility"], "rounding": cv["rounding"], "curve": summary_points(cv),
                               "before": cv["before"], "after": cv["after"], "lowered": cv["lowered"],
                               "wall_s": cv["wall_s"]}
    test = task.batch(args.test_trials or args.trials, "test", 0)
    res = be.run(c, test.x, **kw)
    metrics = task_metrics(res.outputs, test.target, test.mask, test.loss)
    rate = float(res.spikes.mean()) * 1000.0 / float(getattr(task, "dt", 1.0))
    summary.update({"test": metrics, "spike_rate_hz": rate, "counts": res.counts.to_dict(),
                    "wall_s": res.meta.get("wall_s")})
    with staged_output_dir(out, force=args.force) as d:
        write_json(d / "run.json", summary)
        raster_png(res.spikes[0], d / "raster.png", f"{args.task} test trial 0 on {args.backend} ({c.profile_name})")
        if learned is not None:
            from ..onchip import write_curve
            save_bundle(d / "learned", "learned-weights", 1,
                        {k: (np.asarray(getattr(c, k).toarray()) if hasattr(getattr(c, k), "toarray")
                             else np.asarray(getattr(c, k))) for k in ("w_in", "w_rec", "w_out", "b_out")},
                        {"rule": c.rule.to_dict() if c.rule is not None else c.plasticity, "curve": learned.curve})
            write_curve(d, learned.curve)
            # the learned network as a compiled artifact: run / validate / bench / nir take it like compile's output
            c.save(d / "compiled_learned")
    for k, v in metrics.items():
        print(f"test {k}: {v:.4f}")
    print(f"spike rate: {rate:.2f} Hz")
    cs = res.counts.scalars()
    print("events: " + ", ".join(f"{k}={v}" for k, v in cs.items() if v))
    if learned is not None:
        print(verdict(learned.curve))
    print(f"wrote {out / 'run.json'}, {out / 'raster.png'}" +
          (f", {out / 'learned.npz'}, {out / 'compiled_learned.npz'}, {out / 'onchip_curve.png'}"
           if learned is not None else ""))
    if learned is not None and learned.curve.get("metric") == "accuracy":
        # on-chip learning that made the network worse than validate's tolerance is a failure (exit 4), as in
        # the demo, never a silent success: every output is written above, so nothing is lost
        from ..errors import ValidationFailed
        from ..tolerances import learning_outcome_failures
        fails = learning_outcome_failures({"accuracy": learned.curve["before"]}, {"accuracy": learned.curve["after"]})
        if fails:
            raise ValidationFailed("run --learn: " + "; ".join(fails) + " (outputs written; lower --lr or see "
                                   "docs/onchip_learning.md)")
    return 0
