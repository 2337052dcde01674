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


def bench_brian2(sizes, T, targets) -> list[dict]:
    from neurochip.backends import brian2 as bb
    from neurochip.simulate import simulate

    rows = []
    for N in sizes:
        net, rate = workload(N)
        x = inputs(T, rate)
        simulate(net, x[:, :10])
        t0 = time.perf_counter(); ref = simulate(net, x); tf = time.perf_counter() - t0
        for tgt in targets:
            r = bb.run(net, x, target=tgt)
            rows.append({"N": N, "T": T, "target": tgt, "rate_hz": _rate(r.spikes), "build_s": r.meta["build_s"],
                         "run_ms_per_step": 1e3 * r.meta["run_s"] / T, "float_kernel_ms_per_step": 1e3 * tf / T,
                         "identical_to_simulate": bool((r.spikes == ref.z).all() and (r.outputs == ref.out).all())})
    return rows


def run(quick: bool = False) -> dict:
    T = 200 if quick else 1000
    ln = bench_lava_native([128] if quick else [256, 1024], T)
    targets = ["numpy", "cython"] if quick else ["numpy", "cython", "cpp_standalone"]
    b2 = bench_brian2([256] if quick else [256, 1024, 4096], T, targets)
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
    md += ["", "lava runs its own PyLifModelBitAcc here (reset to zero, n_ref = 1). One trial per run; 2 shared cores."]
    return {"title": "Peers: lava-nc and brian2 vs native", "markdown": "\n".join(md),
            "data": {"lava_native": ln, "brian2": b2, "quick": quick}}


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv[1:])
    print(res["markdown"])
