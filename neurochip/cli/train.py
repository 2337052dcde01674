"""``neurochip train``: train a float network on a generated task and write its artifacts.

OUTDIR receives network.npz + network.json (`Network.save`, read by ``neurochip compile``),
metrics.json (config, final train and held-out figures, learning history, timing) and
learning_curve.png; a rule that learns extra state also writes it (eprop_sg / bptt_sg: the learnt
synthetic-gradient module as synthetic_gradient.npz + synthetic_gradient.json, a checksummed bundle,
read back by ``neurochip.learning.synthetic.load_module``). An existing non-empty OUTDIR is refused before training unless --force, which
replaces it whole; the directory is built atomically (nothing half-written survives an error or Ctrl-C).

Without --config the task's reference settings apply (``neurochip.train.TASK_DEFAULTS``); with --config
FILE the pipeline config (the embedded default overridden by FILE, as ``neurochip demo`` reads it) is
validated whole and its [task] [network] [rule] [train] sections are used. Options override both; every
value is checked (types, ranges, memory) before training starts.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..tasks import TASKS

from ..errors import ConfigError
from ..rules import RULES


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a float spiking RNN on a task (e-prop, BPTT, ...)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=list(TASKS), default=None,
                   help="task to learn (default: evidence accumulation, or the config's task.name)")
    p.add_argument("--n-rec", type=int, default=None, help="number of recurrent neurons (default per task: 100)")
    p.add_argument("--neuron", choices=["lif", "alif"], default=None,
                   help="neuron kind; 'alif' makes half the neurons adaptive (default per task)")
    p.add_argument("--rule", default=None,
                   choices=list(RULES),
                   help="learning rule (default: eprop_random)")
    p.add_argument("--truncation", type=int, default=None,
                   help="window k (time steps) of truncated_bptt, eprop_sg and bptt_sg")
    p.add_argument("--sg-lr", type=float, default=None,
                   help="eprop_sg / bptt_sg: NLMS step of the synthetic-gradient module, in (0, 2) (default 0.05)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=None, help="optimiser (default per task)")
    p.add_argument("--lr", type=float, default=None, help="learning rate, dimensionless (default per task)")
    p.add_argument("--iterations", type=int, default=None, help="maximum number of weight updates")
    p.add_argument("--batch", type=int, default=None, help="trials per update (batch size)")
    p.add_argument("--seed", type=int, default=None, help="seed of the initial weights and the training draws")
    p.add_argument("--early-stop", type=float, default=None,
                   help="stop when the held-out error (classification, fraction) or nmse (regression) is below this")
    p.add_argument("--config", type=Path, default=None,
                   help="pipeline config TOML (the embedded default overridden by this file, as 'neurochip demo' reads "
                        "it; validated whole); its [task] [network] [rule] [train] are used, options override them")
    p.add_argument("-o", "--outdir", type=Path, required=True, help="output directory (built atomically)")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty OUTDIR whole")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def config_from_args(args) -> dict:
    """The training config ([task] [network] [rule] [train]) from --config and the options, validated."""
    from ..config import load_config, validate_config, validate_training
    where = f"{args.config}: " if args.config else ""
    if args.config:
        full = load_config(args.config)
        validate_config(full, where=where)  # the whole file, before any option is applied
        cfg = {k: dict(full[k]) for k in ("task", "network", "rule", "train")}
    else:
        cfg = {}
    for sec in ("task", "network", "rule", "train"):
        cfg.setdefault(sec, {})
        if not isinstance(cfg[sec], dict):
            raise ConfigError(f"config section [{sec}] must be a table, got {type(cfg[sec]).__name__}")
    if args.task:
        if cfg["task"].get("name") not in (None, args.task):
            cfg["task"] = {}  # options of another task do not apply
        cfg["task"]["name"] = args.task
    over = {("network", "n_rec"): args.n_rec, ("network", "kind"): args.neuron, ("rule", "name"): args.rule,
            ("rule", "truncation"): args.truncation, ("rule", "sg_lr"): args.sg_lr, ("rule", "optimizer"): args.optimizer, ("rule", "lr"): args.lr,
            ("train", "iterations"): args.iterations, ("train", "batch_size"): args.batch,
            ("train", "seed"): args.seed, ("train", "early_stop"): args.early_stop}
    for (sec, key), v in over.items():
        if v is not None:
            cfg[sec][key] = v
    if args.no_progress:
        cfg["train"]["progress"] = False
    validate_training(cfg, where)  # options included: types, ranges, memory
    return cfg


def check_outdir(outdir: Path, force: bool) -> None:
    """Refuse a non-empty OUTDIR before training (with --force it is replaced whole at the end)."""
    if outdir.exists():
        if not outdir.is_dir():
            raise ConfigError(f"output path {outdir} exists and is not a directory")
        if any(outdir.iterdir()) and not force:
            raise ConfigError(f"output directory {outdir} exists and is not empty; choose another -o or pass "
                              f"--force to replace it whole")


def write_outputs(outdir: Path, net, hist, metrics: dict, force: bool = False) -> list[str]:
    """Write the artifacts into OUTDIR (staged: all or nothing); returns the file names written."""
    from .. import rulebook
    from ..io import staged_output_dir, write_json
    from ..train import plot_learning_curve
    names = ["network.npz", "network.json", "metrics.json", "learning_curve.png"]
    with staged_output_dir(outdir, force=force) as d:
        net.save(d / "network")
        carried = rulebook.get(metrics["rule"]).carried
        if carried is not None and hist.rule_state is not None:
            carried.save(hist.rule_state, d / carried.artifact)
            names[2:2] = [f"{carried.artifact}.npz", f"{carried.artifact}.json"]
        write_json(d / "metrics.json", {**metrics, "history": hist.to_dict()})
        plot_learning_curve(hist, d / "learning_curve.png", f"{metrics['task']} / {metrics['rule']}")
    return names


def run(args) -> int:
    from ..train import train_from_config
    cfg = config_from_args(args)
    check_outdir(args.outdir, args.force)
    net, hist, metrics = train_from_config(cfg, progress=not args.no_progress)
    names = write_outputs(args.outdir, net, hist, metrics, force=args.force)
    tr, te = metrics["train_last"], metrics["test"]
    if "accuracy" in te:
        print(f"{metrics['task']} / {metrics['rule']}: {metrics['iterations']} iterations, train accuracy "
              f"{tr.get('accuracy', float('nan')):.3f} (last batch), test accuracy {te['accuracy']:.3f}, "
              f"test loss {te['loss']:.4f}")
    else:
        print(f"{metrics['task']} / {metrics['rule']}: {metrics['iterations']} iterations, train nmse "
              f"{tr.get('nmse', float('nan')):.4f}, test nmse {te['nmse']:.4f}")
    print(f"wrote {args.outdir}/{', '.join(names)} ({metrics['ms_per_sample']:.1f} ms per training sample)")
    return 0
