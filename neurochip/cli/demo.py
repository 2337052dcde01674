"""``neurochip demo``: the main job end to end on the embedded default (or a TOML config)."""
from __future__ import annotations

import argparse
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="run the main job end to end: train -> compile -> learn on-chip -> lava check -> validate -> cost",
        description="Train a spiking RNN with float e-prop on evidence accumulation, compile it to a chip "
                    "profile (default loihi2), continue learning on-chip on the native fixed-point backend, "
                    "confirm bit-exactness on lava for a few held-out trials, validate against the float "
                    "reference, and report energy (uJ), communication and memory against BPTT. Writes "
                    "OUTDIR/report.html, summary.json and the intermediate artifacts.")
    p.add_argument("-o", "--out", default="out/demo", help="output directory (default out/demo); built atomically")
    p.add_argument("--config", default=None, help="TOML file overriding the embedded default (sections: task, network, "
                   "rule, train, chip, onchip, lava, validate, bench; see neurochip/config.py); validated whole, "
                   "and the untrained network test-compiled to the chip, before training starts")
    p.add_argument("--chip", default=None, help="chip profile name or .toml path (overrides [chip] name)")
    p.add_argument("--iterations", type=int, default=None, help="float training iterations (overrides [train])")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory (whole)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..config import load_config, validate_config
    from ..pipeline import format_summary_rows, run_main_job

    cfg = load_config(args.config)
    if args.chip is not None:
        cfg["chip"]["name"] = args.chip
    if args.iterations is not None:
        cfg["train"]["iterations"] = args.iterations
    # Everything is checked now (types, ranges, chips, memory, and that the network compiles to the chip),
    # not after minutes of training.
    validate_config(cfg, where=f"{args.config}: " if args.config else "", main_job=True)
    s = run_main_job(cfg, args.out, force=args.force, progress=not args.no_progress)
    rows = format_summary_rows(s)
    w = max(len(k) for k in rows)
    print("\nneurochip main job summary")
    for k, v in rows.items():
        v = f"{v:.4g}" if isinstance(v, float) else v
        print(f"  {k:<{w}}  {v}")
    print(f"\nreport: {args.out}/report.html   machine-readable: {args.out}/summary.json")
    sys.stdout.flush()
    if not s.get("passed", True):
        # every output is written; the exit code says the chip run did not validate (exit 4, one line)
        from ..errors import ValidationFailed
        raise ValidationFailed("demo: validation failed: " + "; ".join(s["stages"]["validate"]["tolerance_failures"]))
    return 0
