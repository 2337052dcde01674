"""``neurochip bench``: energy, communication and memory of a compiled network on one or more chips."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench", help="cost a compiled network: energy (uJ), communication, memory, NeuroBench metrics",
        description="Run a compiled artifact on the native backend to count events, then price them with each "
                    "chip profile's published per-event energies (pJ; unpublished costs are reported as unpriced "
                    "and the total flagged incomplete). Prints a side-by-side table and writes bench.json, "
                    "energy_breakdown.png and traffic_heatmap.png to OUTDIR.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("artifact", help="compiled network (<stem>.npz + <stem>.json written by 'neurochip compile')")
    p.add_argument("--chip", default=None,
                   help="chip profile(s), comma separated (names or .toml paths), e.g. loihi1,loihi2,reckon; "
                        "default: the artifact's own chip. Other chips are recompiled from the float network")
    p.add_argument("--learn", action="store_true",
                   help="also cost on-chip learning (energy per learning step = one sample, uJ)")
    p.add_argument("--compare", choices=["bptt"], default=None,
                   help="'bptt': also cost on-chip BPTT (state history O(N T) bits, backward traffic) and plot "
                        "BPTT vs e-prop memory/traffic over T = 100..10,000")
    p.add_argument("--task", default="evidence",
                   help="input workload: a task name (evidence, pattern, store_recall; test split) or 'poisson'")
    p.add_argument("--trials", type=int, default=2, help="number of trials (samples) to run")
    p.add_argument("--steps", type=int, default=None, help="truncate/set trial length in steps (poisson default 1000)")
    p.add_argument("--rate-hz", type=float, default=10.0, help="input rate for --task poisson (Hz)")
    p.add_argument("--step-ms", type=float, default=None,
                   help="wall-clock duration of one chip time step for static power (ms); default: the network's "
                        "dt, i.e. real-time pacing")
    p.add_argument("--counts", default=None,
                   help="saved EventCounts JSON (e.g. a run.json) to cost instead of running the backend "
                        "(artifact's own chip only)")
    p.add_argument("--approximate", default="",
                   help="neuron-model approximations accepted when recompiling for another chip, comma separated: "
                        "reset (reset to zero), adaptation (drop ALIF), refractory; or 'auto' (each chip gets "
                        "exactly the ones it needs, listed in the output)")
    p.add_argument("--seed", type=int, default=0, help="seed of the input draw")
    p.add_argument("-o", "--out", required=True, help="output directory (created atomically)")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory")
    p.set_defaults(func=run)


def _load_counts(path):
    """`cost.bench.load_counts` after checking every count is a whole number >= 0 (a NaN, a fraction or a
    negative count would give a meaningless or negative energy)."""
    import json
    import math
    from ..cost import bench as B
    from ..errors import ArtifactError
    try:
        d = json.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path}: cannot read event counts ({e.__class__.__name__}: {e})") from None
    if isinstance(d, dict) and isinstance(d.get("counts"), dict):
        d = d["counts"]

    def bad(v) -> bool:
        if isinstance(v, list):
            return any(bad(x) for x in v)
        return isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v != int(v)
    for k, v in (d.items() if isinstance(d, dict) else ()):
        if bad(v):
            raise ArtifactError(f"{path}: count '{k}' = {str(v)[:40]}: event counts must be whole numbers >= 0")
    return B.load_counts(path)


def check_memory(compiled, args) -> float:
    """`ConfigError` (one line) when --trials trials (the input draw and one chip run's recorded spikes and
    readout) cannot fit in the memory available (`neurochip.trial_memory`); returns the estimate in bytes."""
    from ..trial_memory import check_trials_memory, trial_bytes
    if args.task == "poisson":
        steps, loss, draw = args.steps or 1000, "ce", True
    else:
        from ..errors import NeurochipError
        from ..tasks import get_task
        try:
            t = get_task(args.task, seed=args.seed)
        except (NeurochipError, TypeError, ValueError):
            return 0.0                               # task_inputs names the problem in its own line
        steps, loss, draw = t.n_steps, getattr(t, "loss", "ce"), False   # drawn at full length, then cut
    one = trial_bytes(compiled.n_in, compiled.n_rec, compiled.n_out, steps, loss=loss, poisson_draw=draw)
    return check_trials_memory([("--trials", args.trials, one)])


def run(args) -> int:
    from ..compiler.artifact import CompiledNetwork
    from ..cost import bench as B
    from ..cost.report import markdown_table
    from ..io import staged_output_dir

    from ..errors import ConfigError
    for name in ("trials", "steps"):                 # one line, before any work
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ConfigError(f"--{name} must be an integer >= 1, got {v}")
    compiled = CompiledNetwork.load(args.artifact)
    chips = [c.strip() for c in (args.chip or compiled.profile_name).split(",") if c.strip()]
    dt = float((compiled.float_params or {}).get("dt", 1.0))
    check_memory(compiled, args)                     # impossible trial counts refused before any allocation
    x, targets = B.task_inputs(compiled, args.task, args.trials, args.seed, steps=args.steps, rate_hz=args.rate_hz,
                               dt_ms=dt)
    counts = _load_counts(args.counts) if args.counts else None
    from tqdm import tqdm
    bar = tqdm(total=len(chips), desc="bench", unit="chip", file=sys.stderr, disable=None)

    def progress(chip):
        bar.set_postfix_str(chip)
        bar.update(1)

    try:
        reports = B.bench(compiled, chips, x, learn=args.learn, compare_bptt=args.compare == "bptt",
                          step_ms=args.step_ms, counts=counts, progress=progress, targets=targets,
                          approximate=tuple(a.strip() for a in args.approximate.split(',') if a.strip()))
    finally:
        bar.close()
    with staged_output_dir(args.out, force=args.force) as d:
        B.write_outputs(reports, Path(d))
    ok = [r for r in reports if "error" not in r]
    print(f"neurochip bench: {args.artifact}, {x.shape[0]} trial(s) x {x.shape[1]} steps of '{args.task}', "
          f"time step {ok[0]['step_ms'] if ok else dt:g} ms (real-time pacing)")
    if ok:
        print(markdown_table(ok))
    for r in reports:
        if "error" in r:
            print(f"{r['chip']}: {r['error']}")
        for n in r.get("notes", []):
            print(f"{r['chip']}: {n}")
        for n in (r.get("inference") or {}).get("notes", []):
            print(f"{r['chip']}: {n}")
    print(f"wrote {args.out}/bench.json, energy_breakdown.png, traffic_heatmap.png"
          + (", bptt_scaling.png" if args.compare == "bptt" and ok else ""))
    return 0 if ok else 2
