"""A/B speed check of two commits on this machine, in one run (issue 12: "no speed regression").

Between-run variance on the 2-core VM is as large as the effects being looked for (docs/benchmarks.md:
the same unchanged inference kernel measured 1.7x and 1.1x against brian2 in two `make bench` runs), so two
`make bench` runs hours apart cannot tell a code regression from the machine. This script checks out the
two commits as git worktrees (so uncommitted edits never enter), then alternates old / new in fresh
single-threaded interpreters, ``--rounds``
times, and keeps each side's best (minimum CPU time) per workload. It also compares the outputs' spike
counts, so a speed difference that comes from changed semantics shows.

Workloads (the same code times both sides: the benchmark functions of this checkout, the package of each
commit; the old commit needs the same public API):

- on-chip e-prop (`bench_onchip._onchip_job`): evidence task, ALIF and LIF, factorised and per-synapse
  eligibility, loihi2, 8 trials per call, CPU s per trial (best of 3 per call);
- fixed-point inference (`native.run`): `bench_native._net` at N = 256 / 1024 (p = 0.1) and 1024 (p = 1),
  input scale giving ~20 Hz (found by `bench_onchip.calibrate_scale`), T = 1000, one trial, best of 9.

    python benchmarks/ab_speed.py OLD_REV [NEW_REV (default HEAD)] [--rounds 3] [--out docs/speed_ab]

Writes OUT.md and OUT.json; prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENV1 = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore"}
ONCHIP = [(wl, el) for wl in ("evidence_alif", "evidence_lif") for el in ("factorised", "per_synapse")]
INFER = [(256, 0.1), (1024, 0.1), (1024, 1.0)]
SCALE = 0.01953125          # bench_onchip.calibrate_scale: 20.6 / 21.4 / 21.2 Hz for the three networks


def _job() -> dict:
    """Every workload once in this interpreter (1 thread): {name: (cpu seconds, spike count)}."""
    import time
    sys.path.insert(0, str(HERE))
    import bench_onchip as b
    from bench_native import _inputs, _net
    from neurochip.backends import native
    from neurochip.compiler.pipeline import CompileOptions, compile
    out = {}
    for wl, el in ONCHIP:
        r = b._onchip_job(workload=wl, elig=el, quick=False, trials=8, repeats=3)
        out[f"on-chip {wl} {el} (s/trial)"] = (r["cpu_s_per_trial"], r["rate_hz"])
    for n, p in INFER:
        c = compile(_net(n, p, scale=SCALE, seed=0), "loihi2", options=CompileOptions.make(v_headroom=8))
        x = _inputs(1, 1000, seed=3)
        native.run(c, x[:, :10])                          # compile / cache load outside the timing
        best, spikes = 1e9, 0
        for _ in range(9):
            t0 = time.process_time()
            r = native.run(c, x)
            best = min(best, time.process_time() - t0)
            spikes = int(r.spikes.sum())
        out[f"inference N={n} p={p} (s/trial)"] = (best, spikes)
    return out


def _run_side(tree: Path, pythonpath: str) -> dict:
    env = {**os.environ, **ENV1, "PYTHONPATH": pythonpath, "NUMBA_CACHE_DIR": str(tree / ".numba_cache")}
    code = f"import json,sys; sys.path.insert(0, {str(HERE)!r}); import ab_speed; print(json.dumps(ab_speed._job()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tree, env=env,
                         timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"error: timing run in {tree} failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", help="the old commit (any git revision)")
    ap.add_argument("new", nargs="?", default="HEAD", help="the new commit (default HEAD)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "docs" / "speed_ab"))
    a = ap.parse_args(argv)
    if a.rounds < 1:
        raise SystemExit(f"error: --rounds {a.rounds}: must be >= 1")
    revs = []
    for r in (a.old, a.new):
        out = subprocess.run(["git", "rev-parse", "--short", r], cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"error: {r!r} is not a revision of this repository")
        revs.append(out.stdout.strip())
    old, new = revs
    from tqdm import tqdm
    with tempfile.TemporaryDirectory(prefix="ab_speed_") as tmp:
        trees = {side: Path(tmp) / side for side in ("old", "new")}
        try:
            for side, rev in (("old", old), ("new", new)):
                subprocess.run(["git", "worktree", "add", "--detach", str(trees[side]), rev], cwd=ROOT, check=True,
                               capture_output=True)
                for d in ("compiler", "backends", "kernels"):      # the installed layout, without installing
                    (trees[side] / "neurochip" / d).symlink_to(f"../{d}")
            best: dict = {"old": {}, "new": {}}
            for _ in tqdm(range(a.rounds), desc="A/B rounds", unit="round"):
                for side in ("old", "new"):
                    for k, (t, s) in _run_side(trees[side], str(trees[side])).items():
                        prev = best[side].get(k)
                        best[side][k] = (min(t, prev[0]) if prev else t, s)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    rows = ["| workload | old %s (ms) | new %s (ms) | new / old | output identical |" % (old, new), "|---|---|---|---|---|"]
    data = {"old": old, "new": new, "rounds": a.rounds, "workloads": {}}
    for k in best["new"]:
        (to, so), (tn, sn) = best["old"][k], best["new"][k]
        data["workloads"][k] = {"old_s": to, "new_s": tn, "ratio": tn / to, "old_check": so, "new_check": sn}
        rows.append(f"| {k.replace(' (s/trial)', '')} | {to * 1e3:.2f} | {tn * 1e3:.2f} | {tn / to:.2f} | {so == sn} |")
    md = (f"# A/B speed: {old} vs {new}\n\nGenerated by `python benchmarks/ab_speed.py {a.old} {a.new} --rounds {a.rounds}` "
          "(this machine, one run, old and new alternated in fresh 1-thread interpreters, best CPU time per side; "
          "'output identical' compares the spike rate / count). new / old < 1: new is faster.\n\n" + "\n".join(rows) + "\n")
    Path(a.out + ".md").write_text(md)
    Path(a.out + ".json").write_text(json.dumps(data, indent=1) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
