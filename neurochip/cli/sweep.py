"""``neurochip sweep SPEC.toml -o OUT``: run a grid of pipeline configs (rules x seeds x tasks x any
config key; see `neurochip.sweep.spec`) as independent points, each written atomically to OUT/points/,
then OUT/summary.csv, summary.json and summary.png. A re-run with the same spec resumes: finished points
are skipped. Executors: a local process pool (default, ``--workers``) or Ray (``--address ADDR``;
``--address local`` starts a local Ray instance). Every point's config is checked before any runs.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid of configs (rules x seeds x ...) locally or on Ray, resumable",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", type=Path, help="sweep spec (TOML with [sweep], [base], [grid] or several [[grid]] tables, each "
                                           "with its own kind: train (float) or onchip)")
    p.add_argument("-o", "--outdir", type=Path, required=True, help="output folder (resumed if it holds the same sweep)")
    p.add_argument("--workers", type=int, default=None, help="parallel points (default: the number of cores)")
    p.add_argument("--address", default=None,
                   help="run on Ray at this address ('local' starts a local Ray instance); default: a local process pool")
    p.add_argument("--force", action="store_true", help="replace an OUTDIR that holds a different sweep")
    p.add_argument("--extend", action="store_true",
                   help="OUTDIR holds an earlier version of this sweep (same [sweep] name; e.g. more seeds or a new "
                        "grid table added): keep its finished points and run only the new ones")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run, resumes_outdir=True)   # resumes its own folder (prepare_outdir refuses another spec's)


def run(args) -> int:
    from ..errors import ConfigError
    from ..sweep import load_spec, run_sweep
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    spec = load_spec(args.spec)
    s = run_sweep(spec, args.outdir, executor="ray" if args.address else "local", workers=args.workers,
                  address=args.address, force=args.force, extend=args.extend, progress=not args.no_progress)
    c = s["gap_vs_curvature"]
    print(f"sweep {spec.name}: {s['finished']}/{s['points']} points finished -> {args.outdir}/summary.csv")
    if c.get("pearson_r") is not None:
        print(f"loss gap vs abs(W_rec curvature): Pearson r = {c['pearson_r']:.3f} (p = {c['pearson_p']:.3g}), "
              f"Spearman r = {c['spearman_r']:.3f} (p = {c['spearman_p']:.3g}), n = {c['n']}")
    for line in s["failed"]:
        print(f"failed: {line}")
    return 1 if s["failed"] else 0
