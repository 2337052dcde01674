"""Native backend speed: fixed-point and float inference (synaptic events/s vs this machine's memory-
bandwidth bound), 1 vs 2 threads, and on-chip e-prop per sample (factorised, per-synapse) with memory at
two trial lengths.

Standard workload: recurrent LIF (reset by subtraction, n_ref 2), p = 0.1 (and p = 1 at N <= 1024),
10-30 Hz (input weights calibrated on a short run), T = 1000 steps, N = 256 / 1024 / 4096, 100 Poisson
inputs at 20 Hz, compiled for the loihi2 profile (9-bit weights stored as int16 in CSR; the inference
kernel reads uint16 targets). Fixed-point trials run on numba.get_num_threads() threads (batch slices).

    python benchmarks/bench_native.py [--quick]
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

TITLE = "Native backend (Numba): fixed-point inference and on-chip e-prop"


def _net(n: int, p: float, n_in: int = 100, n_out: int = 10, scale: float = 1.0, seed: int = 0):
    from neurochip.network import NeuronParams, init_network
    net = init_network(n_in, n, n_out, NeuronParams(kind="lif", n_ref=2), p_rec=p, seed=seed)
    rng = np.random.default_rng(seed + 1)
    # positive-mean input drive + balanced recurrence: rate set by `scale`
    w_in = np.abs(rng.standard_normal((n, n_in))) * scale
    return net.with_weights(w_in=w_in, w_rec=net.w_rec * 0.3)


def _inputs(B: int, T: int, n_in: int = 100, hz: float = 20.0, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((B, T, n_in)) < hz * 1e-3).astype(np.uint8)


def _compiled(n: int, p: float, rule=None, target_hz: float = 20.0, seed: int = 0):
    """Compile for loihi2 with the input scale bisected so the recurrent rate is in 10-30 Hz."""
    from neurochip.backends import native
    from neurochip.compiler.pipeline import CompileOptions, compile
    lo, hi = 0.0, 2.0
    x = _inputs(1, 200, seed=seed + 7)
    best = None
    for _ in range(10):
        s = 0.5 * (lo + hi)
        c = compile(_net(n, p, scale=s, seed=seed), "loihi2", rule, options=CompileOptions.make(v_headroom=8))
        rate = float(native.run(c, x).spikes.mean()) * 1000.0
        best = (c, rate)
        if 10.0 <= rate <= 30.0 and abs(rate - target_hz) < 5.0:
            break
        lo, hi = (s, hi) if rate < target_hz else (lo, s)
    return best


def bandwidth_bound(n_events: int = 40_000_000) -> dict:
    """Synaptic events/s of a pure streaming read of (1-byte weight + 4-byte index) per event, with the
    same scatter-accumulate as the kernel (acc[idx] += w) into a small (L1/L2-resident) buffer; 2 threads."""
    from numba import njit, prange, get_num_threads

    @njit(parallel=True, cache=False)
    def stream(w, idx, n_acc, nthr):
        out = np.zeros((nthr, n_acc), np.int64)
        chunk = (w.shape[0] + nthr - 1) // nthr
        for t in prange(nthr):
            acc = out[t]
            for k in range(t * chunk, min((t + 1) * chunk, w.shape[0])):
                acc[idx[k]] += w[k]
        return out.sum()

    rng = np.random.default_rng(0)
    w = rng.integers(-128, 127, n_events, dtype=np.int8)
    idx = np.sort(rng.integers(0, 4096, n_events).astype(np.int32).reshape(-1, 400), axis=1).ravel()
    nthr = get_num_threads()
    stream(w[:1000], idx[:1000], 4096, nthr)
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        stream(w, idx, 4096, nthr)
        best = min(best, time.perf_counter() - t0)
    return {"events_per_s": n_events / best, "bytes_per_event": 5, "GB_per_s": n_events * 5 / best / 1e9,
            "threads": nthr}


def time_inference(c, x, mode: str, threads: int, repeats: int) -> dict:
    import numba
    from neurochip.backends import native
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        native.run(c, x[:, :5], mode=mode)      # compile / warm
        best, res = 1e9, None
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = native.run(c, x, mode=mode)
            best = min(best, time.perf_counter() - t0)
    finally:
        numba.set_num_threads(old)
    ev = res.counts.syn_ops
    return {"ms_per_run": best * 1e3, "ms_per_trial": best * 1e3 / x.shape[0], "syn_events": int(ev),
            "events_per_s": ev / best, "rate_hz": float(res.spikes.mean()) * 1000.0}


def _learn_job(n: int, T: int, elig: str, seed: int = 0) -> dict:
    """One on-chip e-prop sample (MSE error every step: the learning signal is never idle)."""
    from neurochip.backends import native
    from neurochip.rules import LearningRule
    c, rate = _compiled(n, 0.1, LearningRule("eprop_random", lr=1e-4, eligibility=elig), seed=seed)
    x = _inputs(1, T, seed=seed + 3)
    tg = np.random.default_rng(seed).standard_normal((1, T, c.n_out)) * 0.1
    native.run(c, x[:, :5], learn=True, targets=tg[:, :5])
    t0 = time.perf_counter()
    r = native.run(c, x, learn=True, targets=tg, record=("outputs",))
    wall = time.perf_counter() - t0
    return {"s_per_sample": wall, "rate_hz": rate, "trace_updates": r.counts.trace_updates,
            "maxrss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def learn_in_child(n: int, T: int, elig: str) -> dict:
    """Run `_learn_job` in a fresh interpreter so ru_maxrss is this job's own peak."""
    code = (f"import json,sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import bench_native as b; print(json.dumps(b._learn_job({n}, {T}, {elig!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    import numba
    T = 200 if quick else 1000
    sizes = [256, 1024] if quick else [256, 1024, 4096]
    B = 2
    reps = 1 if quick else 3
    data: dict = {"T": T, "batch": B, "threads_available": numba.config.NUMBA_NUM_THREADS}
    bw = bandwidth_bound(10_000_000 if quick else 40_000_000)
    data["bandwidth_bound"] = bw
    rows = []
    for n in sizes:
        for p in ([0.1, 1.0] if n <= 1024 else [0.1]):
            c, rate = _compiled(n, p)
            x = _inputs(B, T, seed=1)
            row = {"N": n, "p": p, "calibrated_rate_hz": rate}
            for th in (1, 2):
                row[f"fixed_{th}t"] = time_inference(c, x, "fixed", th, reps)
            row["float_2t"] = time_inference(c, x, "float", 2, reps)
            rows.append(row)
    data["inference"] = rows
    learn = []
    lsizes = [(256, 200), (256, 2000)] if quick else [(1024, 1000), (1024, 10000)]
    for n, t in lsizes:
        for elig in ("factorised", "per_synapse"):
            r = learn_in_child(n, t, elig)
            learn.append({"N": n, "T": t, "eligibility": elig, **r})
    data["learning"] = learn
    bound = bw["events_per_s"]
    md = [f"Bandwidth bound (streaming 1-byte weight + 4-byte index, scatter-accumulate, {bw['threads']} threads): "
          f"**{bound:.3g} events/s** ({bw['GB_per_s']:.2f} GB/s). Workload: LIF, 100 Poisson inputs at 20 Hz, "
          f"T = {T}, batch {B}, loihi2 fixed point.", "",
          "| N | p | rate (Hz) | fixed 1 thr: ms/run | fixed 2 thr: ms/run | fixed events/s (1 thr) | "
          "fixed events/s (2 thr) | % of bound (2 thr) | 2/1 thread speed-up | float 2 thr: ms/run | float events/s |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f1, f2, fl = r["fixed_1t"], r["fixed_2t"], r["float_2t"]
        md.append(f"| {r['N']} | {r['p']} | {f2['rate_hz']:.1f} | {f1['ms_per_run']:.1f} | {f2['ms_per_run']:.1f} | "
                  f"{f1['events_per_s']:.3g} | {f2['events_per_s']:.3g} | {100 * f2['events_per_s'] / bound:.0f}% | "
                  f"{f1['ms_per_run'] / f2['ms_per_run']:.2f} | {fl['ms_per_run']:.1f} | {fl['events_per_s']:.3g} |")
    md += ["", "On-chip e-prop (eprop_random, loihi2 widths, 100 inputs, 10 outputs, MSE error every step), one sample, "
           "fresh process each (peak RSS includes the interpreter, numba and the compiled network):", "",
           "| N | T | eligibility | s per sample | peak RSS (MB) |", "|---|---|---|---|---|"]
    for r in learn:
        if "error" in r:
            md.append(f"| {r['N']} | {r['T']} | {r['eligibility']} | error: {r['error']} | |")
        else:
            md.append(f"| {r['N']} | {r['T']} | {r['eligibility']} | {r['s_per_sample']:.3f} | {r['maxrss_MB']:.0f} |")
    return {"title": TITLE, "markdown": "\n".join(md), "data": data}


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv)
    print(f"## {res['title']}\n")
    print(res["markdown"])
