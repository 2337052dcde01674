"""Native backend speed: fixed-point and float inference (synaptic events/s vs this machine's memory-
bandwidth bound), 1 vs 2 threads, and on-chip e-prop per sample (factorised, per-synapse) with memory at
two trial lengths (the PyTorch comparison of on-chip learning is bench_onchip.py).

Standard workload: recurrent LIF (reset by subtraction, n_ref 2), p = 0.1 (and p = 1 at N <= 1024),
10-30 Hz (input weights calibrated on a short run), T = 1000 steps, N = 256 / 1024 / 4096, 100 Poisson
inputs at 20 Hz, compiled for the loihi2 profile (9-bit weights stored as int16 in CSR; the inference
kernel reads uint16 targets). Fixed-point trials run on numba.get_num_threads() threads (batch slices).

    python benchmarks/bench_native.py [--quick]
"""
from __future__ import annotations

import json
import os
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
    """This machine's memory-bandwidth bound in synaptic events/s for 1-byte weights + 4-byte indices
    (the issue's definition): a pure streaming read of both arrays (far larger than the caches), best of
    1 and all threads. Also the scatter-accumulate ceiling (the same read plus acc[idx] += w into an
    L1/L2-resident buffer, the kernel's inner loop with nothing else), for reference."""
    import numba
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def read(w, idx, nthr):
        out = np.zeros(nthr, np.int64)
        chunk = (w.shape[0] + nthr - 1) // nthr
        for t in prange(nthr):
            s = 0
            for k in range(t * chunk, min((t + 1) * chunk, w.shape[0])):
                s += w[k] + idx[k]
            out[t] = s
        return out.sum()

    @njit(parallel=True, cache=False)
    def scatter(w, idx, nthr):
        out = np.zeros((nthr, 4096), np.int64)
        chunk = (w.shape[0] + nthr - 1) // nthr
        for t in prange(nthr):
            acc = out[t]
            for k in range(t * chunk, min((t + 1) * chunk, w.shape[0])):
                acc[idx[k]] += w[k]
        return out.sum()

    rng = np.random.default_rng(0)
    w = rng.integers(-128, 127, n_events, dtype=np.int8)
    idx = np.sort(rng.integers(0, 4096, n_events).astype(np.int32).reshape(-1, 400), axis=1).ravel()
    old = numba.get_num_threads()
    res = {}
    try:
        for th in sorted({1, old}):
            numba.set_num_threads(th)
            for name, f in (("read", read), ("scatter", scatter)):
                f(w[:1000], idx[:1000], th)
                best = 1e9
                for _ in range(3):
                    t0 = time.perf_counter()
                    f(w, idx, th)
                    best = min(best, time.perf_counter() - t0)
                res[f"{name}_{th}t"] = n_events / best
    finally:
        numba.set_num_threads(old)
    bound = max(v for k, v in res.items() if k.startswith("read"))
    scat = max(v for k, v in res.items() if k.startswith("scatter"))
    return {"events_per_s": bound, "bytes_per_event": 5, "GB_per_s": bound * 5 / 1e9, "threads": old,
            "scatter_events_per_s": scat, "detail": res}


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


def _learn_job(n: int, T: int, elig: str, seed: int = 0, repeats: int = 1) -> dict:
    """One on-chip e-prop sample (MSE error every step: the learning signal is never idle), best of
    ``repeats``; wall and CPU time (the learning kernel is single-threaded)."""
    from neurochip.backends import native
    from neurochip.rules import LearningRule
    c, rate = _compiled(n, 0.1, LearningRule("eprop_random", lr=1e-4, eligibility=elig), seed=seed)
    x = _inputs(1, T, seed=seed + 3)
    tg = np.random.default_rng(seed).standard_normal((1, T, c.n_out)) * 0.1
    native.run(c, x[:, :5], learn=True, targets=tg[:, :5])
    wall, cpu = 1e9, 1e9
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        r = native.run(c, x, learn=True, targets=tg, record=("outputs",))
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return {"s_per_sample": wall, "cpu_s_per_sample": cpu, "rate_hz": rate, "trace_updates": r.counts.trace_updates,
            "synapses": int(c.w_in.size + np.count_nonzero(c.rec_mask)),
            "maxrss_MB": _peak_mb()}


def _peak_mb() -> float:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from peak_rss import peak_rss_bytes
    return peak_rss_bytes() / 2**20


def learn_in_child(n: int, T: int, elig: str, repeats: int = 1) -> dict:
    """Run `_learn_job` in a fresh single-threaded interpreter so the peak RSS is this job's own."""
    code = (f"import json,sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import bench_native as b; print(json.dumps(b._learn_job({n}, {T}, {elig!r}, repeats={repeats})))")
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600, env=env)
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
            r = learn_in_child(n, t, elig, repeats=3 if t <= 1000 else 1)
            learn.append({"N": n, "T": t, "eligibility": elig, **r})
    data["learning"] = learn
    bound = bw["events_per_s"]
    md = [f"Memory-bandwidth bound (streaming read of a 1-byte weight + a 4-byte index per event, best of 1 and "
          f"{bw['threads']} threads): **{bound:.3g} events/s** ({bw['GB_per_s']:.2f} GB/s); the same read with the "
          f"scatter-accumulate `acc[idx] += w` reaches {bw['scatter_events_per_s']:.3g} events/s. The kernel reads "
          "1-2 byte weights and 2-byte targets from tables that fit the caches up to N = 4096 at p = 0.1, so it "
          "can pass this bound. Workload: LIF, 100 Poisson inputs at 20 Hz, "
          f"T = {T}, batch {B}, loihi2 fixed point.", "",
          "| N | p | rate (Hz) | fixed 1 thr: ms/run | fixed 2 thr: ms/run | fixed events/s (1 thr) | "
          "fixed events/s (2 thr) | % of bound (best thr) | 2/1 thread speed-up | float 2 thr: ms/run | float events/s |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f1, f2, fl = r["fixed_1t"], r["fixed_2t"], r["float_2t"]
        md.append(f"| {r['N']} | {r['p']} | {f2['rate_hz']:.1f} | {f1['ms_per_run']:.1f} | {f2['ms_per_run']:.1f} | "
                  f"{f1['events_per_s']:.3g} | {f2['events_per_s']:.3g} | "
                  f"{100 * max(f1['events_per_s'], f2['events_per_s']) / bound:.0f}% | "
                  f"{f1['ms_per_run'] / f2['ms_per_run']:.2f} | {fl['ms_per_run']:.1f} | {fl['events_per_s']:.3g} |")
    md += ["", "On-chip e-prop memory and time vs trial length (eprop_random, loihi2 widths, LIF, recurrent p = 0.1, "
           "100 inputs (all-to-all), 10 outputs, MSE error every step: the learning signal is never idle), one "
           "sample, fresh single-threaded process each (peak RSS includes the interpreter, numba and the compiled "
           "network). The comparison with PyTorch BPTT is in the section 'On-chip e-prop vs fair PyTorch BPTT'.", "",
           "| N | T | eligibility | trained synapses | wall s per sample | CPU s per sample | peak RSS (MB) |",
           "|---|---|---|---|---|---|---|"]
    for r in learn:
        if "error" in r:
            md.append(f"| {r['N']} | {r['T']} | {r['eligibility']} | | error: {r['error']} | | |")
            continue
        md.append(f"| {r['N']} | {r['T']} | {r['eligibility']} | {r['synapses']:,} | {r['s_per_sample']:.3f} | "
                  f"{r['cpu_s_per_sample']:.3f} | {r['maxrss_MB']:.0f} |")
    return {"title": TITLE, "markdown": "\n".join(md), "data": data}


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv)
    print(f"## {res['title']}\n")
    print(res["markdown"])
