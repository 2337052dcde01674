"""Fixed-point inference CPU time at 1 thread: `native.run` against the plain Numba loop (numba_floor.py),
and the native kernel alone (the compiled batch loop called with the backend's own arguments), so the
per-call overhead is visible. CPU time (``time.process_time``), median of repeats: this machine is shared,
and CPU time is what a run costs whatever else is running.

Workload: the peers' standard network (bench_peers.workload: LIF, n_ref 1, 100 Poisson inputs at 20 Hz,
recurrence x0.3, ~16 Hz), compiled for loihi2 (reset by subtraction, lava overflow semantics), one trial,
T = 1000 steps; N = 256, 1024, 4096 at p = 0.1 and 1024 at p = 1; and the same N = 1024 network as ALIF
(the general neuron loop). Run with NUMBA_NUM_THREADS=1 (the child process sets it):

    python benchmarks/bench_inference_cpu.py [--quick]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TITLE = "Fixed-point inference: CPU time at 1 thread (native vs the plain Numba loop)"


def _median_cpu(f, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        c0 = time.process_time()
        f()
        ts.append(time.process_time() - c0)
    return float(np.median(ts))


def _job(N: int, p: float, kind: str, T: int, repeats: int) -> dict:
    """One row, in this (single-threaded) process."""
    import warnings
    sys.path.insert(0, str(HERE))
    warnings.simplefilter("ignore")
    import numba_floor as nf
    from bench_peers import inputs, workload

    import neurochip.kernels.fixed_forward as ff
    from neurochip.backends import native
    from neurochip.compiler.pipeline import compile
    from neurochip.network import NeuronParams, init_network

    net, rate = workload(N, p_rec=p)
    if kind == "alif":
        pa = NeuronParams(kind="alif", n_ref=1, tau_m=20.0, v_th=0.6)
        n2 = init_network(100, N, 2, pa, p_rec=p, seed=0)
        net = n2.with_weights(w_rec=n2.w_rec * 0.3)
    c = compile(net, "loihi2")
    x = inputs(T, rate)
    native.run(c, x[:, :10])                                       # compile / warm (numba cache)
    cap = {}
    k = ff.forward_fixed
    ff.forward_fixed = lambda *a: cap.setdefault("args", a)
    try:
        native.run(c, x)                                           # the kernel's arguments for this run
    finally:
        ff.forward_fixed = k
    args = cap["args"]
    r = native.run(c, x)
    run_s = _median_cpu(lambda: native.run(c, x), repeats)
    kern_s = _median_cpu(lambda: k(*args), repeats)
    row = {"N": N, "p": p, "kind": kind, "T": T, "rate_hz": float(r.spikes.mean()) * 1e3,
           "syn_events": int(r.counts.syn_ops), "native_run_ms": 1e3 * run_s, "kernel_ms": 1e3 * kern_s}
    if kind == "lif":
        pn = net.params
        fa = (*nf.tables(net), np.float32(pn.alpha), np.float32(pn.v_th), np.int32(pn.n_ref), np.float32(pn.kappa),
              np.float32(pn.c_kappa))
        nf.lif_floor(x[0, :10], *fa)
        row["floor_ms"] = 1e3 * _median_cpu(lambda: nf.lif_floor(x[0], *fa), repeats)
    return row


def _in_child(N: int, p: float, kind: str, T: int, repeats: int) -> dict:
    code = (f"import json,sys; sys.path.insert(0, {str(HERE)!r}); import bench_inference_cpu as b; "
            f"print(json.dumps(b._job({N}, {p}, {kind!r}, {T}, {repeats})))")
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800, env=env)
    if out.returncode != 0:
        return {"N": N, "p": p, "kind": kind, "error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    T = 200 if quick else 1000
    reps = 5 if quick else 11
    cases = [(256, 0.1, "lif"), (1024, 0.1, "lif"), (1024, 0.1, "alif")]
    if not quick:
        cases += [(4096, 0.1, "lif"), (1024, 1.0, "lif")]
    rows = [_in_child(N, p, k, T, reps) for N, p, k in cases]
    md = ["CPU ms per one-trial run (T = %d), median of %d, NUMBA_NUM_THREADS = 1. *kernel*: `fixed_forward.forward_fixed` "
          "alone (the compiled batch loop); *native.run* adds argument checks, table look-up, output arrays and counts; *floor*: "
          "`numba_floor.lif_floor` (float32, no fixed point, no counting). Ratios > 1: native slower." % (T, reps), "",
          "| N | p | neuron | rate Hz | kernel ms | native.run ms | floor ms | native.run / floor | kernel / floor |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            md.append(f"| {r['N']} | {r['p']} | {r['kind']} | error: {r['error']} | | | | | |")
            continue
        fl = r.get("floor_ms")
        f_ms, f_run, f_k = ("", "", "") if fl is None else (f"{fl:.2f}", f"{r['native_run_ms'] / fl:.2f}",
                                                          f"{r['kernel_ms'] / fl:.2f}")
        md.append(f"| {r['N']} | {r['p']} | {r['kind']} | {r['rate_hz']:.1f} | {r['kernel_ms']:.2f} | "
                  f"{r['native_run_ms']:.2f} | {f_ms} | {f_run} | {f_k} |")
    return {"title": TITLE, "markdown": "\n".join(md), "data": {"T": T, "repeats": reps, "rows": rows}}


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv)
    print(f"## {res['title']}\n")
    print(res["markdown"])
