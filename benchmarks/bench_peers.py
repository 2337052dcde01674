"""Time per step of the peers: lava-nc's emulator vs the native backend on the same compiled network, and
brian2 (each target, build time separate) on the standard workload.

Standard workload: recurrent LIF (reset to zero, no refractory period, so lava runs its own
PyLifModelBitAcc), connection probability p = 0.1, 100 Poisson inputs, input weights scaled so the
recurrent layer fires in the 10-30 Hz band, T = 1000 steps of 1 ms, N = 256 / 1024 (lava, native) and
256 / 1024 / 4096 (brian2, native float). One trial per run.

- lava: `neurochip.backends.lava.run` (child interpreter); "run ms/step" = lava's own stepping
  (``rec.run`` of steps 2..T+2) divided by the steps; "wall" adds interpreter start, graph build, process
  fork and Extractor/Monitor read-out.
- native: `neurochip.backends.native.run` (fixed point), after one warm-up call (Numba compile cached).
- brian2: numpy / cython (strict flags, own cache) / cpp_standalone; "build" = code generation and
  compilation (cython: cache load when warm), "run" = the simulation loop only.
- brian2 vs native, like for like: the same float network is compiled for loihi2
  (`neurochip.compiler.pipeline.compile`, default options: reset by subtraction kept) and run by
  `neurochip.backends.native.run` on the same inputs, fixed point and float mode, at 1 and 2 numba
  threads (one trial: the native kernels parallelise over trials, so a single trial runs serially and
  the second thread cannot help; brian2 cpp_standalone is single-threaded by default). Native times are
  the median of 5 runs after a warm-up; brian2's are one run (its run loop only, build excluded). The
  ratio column is brian2 cpp_standalone run ms/step / native fixed ms/step at 1 thread.
quick mode: N = 128 (and 256 for brian2), T = 200; cpp_standalone is skipped (a g++ build is ~15 s).
Run: ``python benchmarks/bench_peers.py [--quick]``.
"""
from __future__ import annotations

import sys
import time

import numpy as np


def workload(N: int, seed: int = 0):
    """(float Network, input rate Hz) for the standard workload at size N."""
    from neurochip.network import NeuronParams, init_network

    p = NeuronParams(kind="lif", n_ref=1, tau_m=20.0, v_th=0.6)
    net = init_network(100, N, 2, p, p_rec=0.1, seed=seed)
    # recurrence scaled by 0.3 (the default N(0,1)/sqrt(N p) runs away to ~200 Hz without a refractory
    # period); with 20 Hz inputs the layer then fires at ~16 Hz for every N (measured with simulate)
    return net.with_weights(w_rec=net.w_rec * 0.3), 20.0


def inputs(T: int, rate_hz: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((1, T, 100)) < rate_hz * 1e-3).astype(np.uint8)


def _rate(z: np.ndarray) -> float:
    return float(z.mean() * 1e3)


def bench_lava_native(sizes, T) -> list[dict]:
    from neurochip.backends import lava, native
    from neurochip.compiler import CompileOptions
    from neurochip.compiler.pipeline import compile

    rows = []
    for N in sizes:
        net, rate = workload(N)
        c = compile(net, "loihi2", options=CompileOptions.make(reset="zero", approximate=("reset",)))
        x = inputs(T, rate)
        native.run(c, x[:, :10])                                  # warm-up (numba cache)
        t0 = time.perf_counter(); rn = native.run(c, x); tn = time.perf_counter() - t0
        rl = lava.run(c, x, timeout_s=600)
        same = bool((rl.spikes == rn.spikes).all() and (rl.out_int == rn.out_int).all())
        rows.append({"N": N, "T": T, "rate_hz": _rate(rn.spikes), "lava_model": rl.meta["neuron_model"],
                     "lava_run_ms_per_step": rl.meta["run_ms_per_step"], "lava_wall_s": rl.meta["wall_s"],
                     "native_ms_per_step": 1e3 * tn / T, "speedup": rl.meta["run_ms_per_step"] / (1e3 * tn / T),
                     "identical": same})
    return rows


def _native_ms_per_step(c, x, mode: str, threads: int, repeats: int = 5) -> tuple[float, np.ndarray]:
    """Median ms/step of `native.run(c, x, mode=mode)` at ``threads`` numba threads (after a warm-up)."""
    import numba
    from neurochip.backends import native

    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        native.run(c, x[:, :10], mode=mode)                      # compile / warm (numba cache)
        ts, r = [], None
        for _ in range(repeats):
            t0 = time.perf_counter(); r = native.run(c, x, mode=mode); ts.append(time.perf_counter() - t0)
    finally:
        numba.set_num_threads(old)
    return 1e3 * float(np.median(ts)) / x.shape[1], r.spikes


def bench_native_same(N: int, T: int) -> dict:
    """The brian2 workload's float network compiled for loihi2 and run natively (same inputs, one trial)."""
    import numba
    from neurochip.compiler.pipeline import compile

    net, rate = workload(N)
    x = inputs(T, rate)
    c = compile(net, "loihi2")
    row = {"N": N, "T": T, "reset": c.reset, "threads_available": numba.config.NUMBA_NUM_THREADS}
    for mode in ("fixed", "float"):
        for th in (1, 2):
            ms, z = _native_ms_per_step(c, x, mode, min(th, numba.config.NUMBA_NUM_THREADS))
            row[f"{mode}_{th}t_ms_per_step"] = ms
        row[f"{mode}_rate_hz"] = _rate(z)
    return row


def bench_brian2(sizes, T, targets) -> tuple[list[dict], list[dict]]:
    from neurochip.backends import brian2 as bb
    from neurochip.simulate import simulate

    rows, same = [], []
    for N in sizes:
        net, rate = workload(N)
        x = inputs(T, rate)
        simulate(net, x[:, :10])
        t0 = time.perf_counter(); ref = simulate(net, x); tf = time.perf_counter() - t0
        nat = bench_native_same(N, T)
        for tgt in targets:
            r = bb.run(net, x, target=tgt)
            rows.append({"N": N, "T": T, "target": tgt, "rate_hz": _rate(r.spikes), "build_s": r.meta["build_s"],
                         "run_ms_per_step": 1e3 * r.meta["run_s"] / T, "float_kernel_ms_per_step": 1e3 * tf / T,
                         "identical_to_simulate": bool((r.spikes == ref.z).all() and (r.outputs == ref.out).all())})
            nat[f"brian2_{tgt}_ms_per_step"] = rows[-1]["run_ms_per_step"]
        nat["simulate_ms_per_step"] = 1e3 * tf / T
        same.append(nat)
    return rows, same


def run(quick: bool = False) -> dict:
    T = 200 if quick else 1000
    ln = bench_lava_native([128] if quick else [256, 1024], T)
    targets = ["numpy", "cython"] if quick else ["numpy", "cython", "cpp_standalone"]
    b2, same = bench_brian2([256] if quick else [256, 1024, 4096], T, targets)
    md = ["### lava-nc emulator vs native (same compiled loihi2 network, fixed point)", "",
          "| N | T | rate Hz | lava run ms/step | lava wall s (incl. start, build, read-out) | native ms/step | lava / native | bit-identical |",
          "|---|---|---|---|---|---|---|---|"]
    for r in ln:
        md.append(f"| {r['N']} | {r['T']} | {r['rate_hz']:.1f} | {r['lava_run_ms_per_step']:.3f} | {r['lava_wall_s']:.1f} | "
                  f"{r['native_ms_per_step']:.4f} | {r['speedup']:.0f}x | {r['identical']} |")
    md += ["", "### brian2 targets (float, strict FP flags) vs the float kernel (neurochip.simulate)", "",
           "| N | T | target | rate Hz | build s | run ms/step | float kernel ms/step | identical to simulate |",
           "|---|---|---|---|---|---|---|---|"]
    for r in b2:
        md.append(f"| {r['N']} | {r['T']} | {r['target']} | {r['rate_hz']:.1f} | {r['build_s']:.2f} | "
                  f"{r['run_ms_per_step']:.3f} | {r['float_kernel_ms_per_step']:.4f} | {r['identical_to_simulate']} |")
    ref_tgt = "cpp_standalone" if "cpp_standalone" in targets else targets[-1]
    md += ["", "### brian2 vs native on the same network and inputs (one trial; float network compiled for loihi2)", "",
           f"| N | T | native fixed rate Hz | native float rate Hz | brian2 {ref_tgt} ms/step | native fixed 1 thr ms/step | "
           f"native fixed 2 thr ms/step | native float 1 thr ms/step | native float 2 thr ms/step | "
           f"**brian2 {ref_tgt} / native fixed (1 thr)** | brian2 {ref_tgt} / native float (1 thr) |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in same:
        b = r[f"brian2_{ref_tgt}_ms_per_step"]
        md.append(f"| {r['N']} | {r['T']} | {r['fixed_rate_hz']:.1f} | {r['float_rate_hz']:.1f} | {b:.4f} | "
                  f"{r['fixed_1t_ms_per_step']:.4f} | {r['fixed_2t_ms_per_step']:.4f} | {r['float_1t_ms_per_step']:.4f} | "
                  f"{r['float_2t_ms_per_step']:.4f} | **{b / r['fixed_1t_ms_per_step']:.1f}x** | "
                  f"{b / r['float_1t_ms_per_step']:.1f}x |")
    md += ["", f"Native: median of 5 runs after a warm-up, numba threads as stated (one trial runs serially: the "
           f"native kernels parallelise over trials); brian2 {ref_tgt}: one run, its simulation loop only "
           f"(single-threaded). Native float mode = the float network's arithmetic (spikes identical to "
           f"neurochip.simulate); fixed = the loihi2 integer model (rate differs slightly from float).",
           "", "lava runs its own PyLifModelBitAcc here (reset to zero, n_ref = 1). One trial per run; 2 shared cores."]
    return {"title": "Peers: lava-nc and brian2 vs native", "markdown": "\n".join(md),
            "data": {"lava_native": ln, "brian2": b2, "brian2_vs_native": same, "quick": quick}}


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv[1:])
    print(res["markdown"])
