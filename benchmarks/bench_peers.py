"""Time per step of the peers on the standard workload: brian2 cpp_standalone with its default flags (the
headline), lava-nc's emulator, brian2's targets with strict flags (the bit-identity check), the native
backend and a plain Numba loop (the floor).

Standard workload: recurrent LIF (n_ref 1: no refractory period), connection probability p = 0.1 (and
p = 1 at N = 1024), 100 Poisson inputs at 20 Hz, recurrence scaled so the layer fires at ~16 Hz,
T = 1000 steps of 1 ms, one trial per run.

- brian2 vs native (headline): the float network run by brian2 cpp_standalone with brian2's *default*
  preferences (what a user runs: -O3 -ffast-math -march=native, single-threaded), its simulation loop
  timed by brian2 itself, best of 3 runs of the built binary; the same network compiled for loihi2
  (default options, reset by subtraction) run by `neurochip.backends.native.run` (fixed point, and float
  mode), and by `numba_floor.lif_floor`; best of 5 wall times at 1 numba thread (2 for one column).
  N = 256, 1024, 4096 at p = 0.1 and N = 1024 at p = 1.
- lava: `neurochip.backends.lava.run` (child interpreter; reset to zero so lava runs its own
  PyLifModelBitAcc); "run ms/step" = lava's own stepping (``rec.run`` of steps 2..T+2) divided by the
  steps; "wall" adds interpreter start, graph build, process fork and read-out. Native: best of 5.
- brian2 strict: numpy / cython / cpp_standalone with the backend's strict FP flags
  (``backends.brian2.STRICT_FLAGS``), needed for bit-identity with neurochip.simulate; kept as that check.
quick mode: N = 128 (lava), 256 (brian2), T = 200; the strict cpp_standalone build is skipped.
Run: ``python benchmarks/bench_peers.py [--quick]``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))   # numba_floor


def workload(N: int, seed: int = 0, p_rec: float = 0.1):
    """(float Network, input rate Hz) for the standard workload at size N (recurrent probability p_rec)."""
    from neurochip.network import NeuronParams, init_network

    p = NeuronParams(kind="lif", n_ref=1, tau_m=20.0, v_th=0.6)
    net = init_network(100, N, 2, p, p_rec=p_rec, seed=seed)
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
        tn = 1e9
        for _ in range(5):                                        # best of 5
            t0 = time.perf_counter(); rn = native.run(c, x); tn = min(tn, time.perf_counter() - t0)
        rl = lava.run(c, x, timeout_s=600)
        same = bool((rl.spikes == rn.spikes).all() and (rl.out_int == rn.out_int).all())
        rows.append({"N": N, "T": T, "rate_hz": _rate(rn.spikes), "lava_model": rl.meta["neuron_model"],
                     "lava_run_ms_per_step": rl.meta["run_ms_per_step"], "lava_wall_s": rl.meta["wall_s"],
                     "native_ms_per_step": 1e3 * tn / T, "speedup": rl.meta["run_ms_per_step"] / (1e3 * tn / T),
                     "identical": same})
    return rows


def _native_time(c, x, mode: str, threads: int, repeats: int = 5) -> dict:
    """Best-of-``repeats`` wall and CPU ms/step of `native.run(c, x, mode=mode)` at ``threads`` numba
    threads (after a warm-up), and the spikes."""
    import numba
    from neurochip.backends import native

    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        native.run(c, x[:, :10], mode=mode)                      # compile / warm (numba cache)
        wall, cpu, r = [], [], None
        for _ in range(repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            r = native.run(c, x, mode=mode)
            wall.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
    finally:
        numba.set_num_threads(old)
    T = x.shape[1]
    return {"wall_ms_per_step": 1e3 * min(wall) / T, "cpu_ms_per_step": 1e3 * min(cpu) / T, "spikes": r.spikes}


def _floor_time(net, x, repeats: int = 5) -> dict:
    """Best-of-``repeats`` ms/step of the plain Numba LIF loop (numba_floor.py), one trial."""
    import numba_floor as nf
    p = net.params
    args = (*nf.tables(net), np.float32(p.alpha), np.float32(p.v_th), np.int32(p.n_ref), np.float32(p.kappa),
            np.float32(p.c_kappa))
    nf.lif_floor(x[0, :10], *args)                                # compile / warm (numba cache)
    wall, cpu, z = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        z, _ = nf.lif_floor(x[0], *args)
        wall.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
    T = x.shape[1]
    return {"wall_ms_per_step": 1e3 * min(wall) / T, "cpu_ms_per_step": 1e3 * min(cpu) / T, "spikes": z[None]}


def brian2_default_standalone(net, x, repeats: int = 3) -> dict:
    """brian2 cpp_standalone with brian2's own default preferences (what a user gets: its default g++ flags,
    e.g. -O3 -ffast-math -march=native; single-threaded, openmp_threads = 0), one trial. The simulation loop
    time is brian2's own timer (`device._last_run_time`, the network.run loop inside the binary), best of
    ``repeats`` runs of the built binary; the binary's wall and CPU time (incl. loading the inputs and
    writing the results) are recorded too. Build (code generation + g++) is timed separately."""
    import resource
    import tempfile

    import brian2 as b2
    from neurochip.backends import brian2 as bb

    b2.prefs.reset_to_defaults()
    flags = list(b2.prefs.codegen.cpp.extra_compile_args_gcc)
    T = x.shape[1]
    loops, walls, cpus = [], [], []
    with tempfile.TemporaryDirectory(prefix="neurochip-b2default-") as d:
        b2.set_device("cpp_standalone", directory=d, build_on_run=False)
        try:
            b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]     # build parallelism only
            bnet, h = bb.build(net, x)
            bnet.run(T * net.params.dt * b2.ms, namespace={})
            t0 = time.perf_counter()
            b2.device.build(directory=d, compile=True, run=False, with_output=False)
            build_s = time.perf_counter() - t0
            for _ in range(repeats):
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                b2.device.run(directory=d, with_output=False)
                walls.append(time.perf_counter() - t0)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
                loops.append(float(b2.device._last_run_time))
            z, y, _ = bb._collect(net, h)
        finally:
            b2.device.reinit()
            b2.device.activate()
            b2.set_device("runtime")
            b2.prefs.reset_to_defaults()
    return {"flags": flags, "build_s": build_s, "loop_ms_per_step": 1e3 * min(loops) / T,
            "binary_wall_ms_per_step": 1e3 * min(walls) / T, "binary_cpu_ms_per_step": 1e3 * min(cpus) / T,
            "spikes": z}


def bench_default_flags(cases, T) -> list[dict]:
    """Headline inference comparison: brian2 cpp_standalone (default flags) vs native fixed point (and float
    mode, and the Numba floor) on the same float network and inputs, one trial, 1 thread each."""
    import numba
    from neurochip.compiler.pipeline import compile
    from neurochip.simulate import simulate

    rows = []
    for N, p in cases:
        net, rate = workload(N, p_rec=p)
        x = inputs(T, rate)
        ref = simulate(net, x).z
        c = compile(net, "loihi2")
        row = {"N": N, "p": p, "T": T, "reset": c.reset, "synapses_rec": int(np.count_nonzero(net.rec_mask)),
               "threads_available": numba.config.NUMBA_NUM_THREADS}
        b = brian2_default_standalone(net, x)
        row["brian2_default"] = {k: v for k, v in b.items() if k != "spikes"}
        row["brian2_default"]["rate_hz"] = _rate(b["spikes"])
        row["brian2_default"]["spike_agreement_with_simulate"] = float((b["spikes"] == ref).mean())
        for key, res in (("native_fixed_1t", _native_time(c, x, "fixed", 1)),
                         ("native_fixed_2t", _native_time(c, x, "fixed", min(2, numba.config.NUMBA_NUM_THREADS))),
                         ("native_float_1t", _native_time(c, x, "float", 1)),
                         ("numba_floor", _floor_time(net, x))):
            row[key] = {"wall_ms_per_step": res["wall_ms_per_step"], "cpu_ms_per_step": res["cpu_ms_per_step"],
                        "rate_hz": _rate(res["spikes"])}
        row["numba_floor"]["identical_to_simulate"] = bool((_floor_time(net, x, 1)["spikes"] == ref).all())
        rows.append(row)
    return rows


def bench_brian2(sizes, T, targets) -> list[dict]:
    """Every brian2 target with the backend's strict FP flags (the bit-identity check against simulate)."""
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
                         "flags": list(bb.STRICT_FLAGS),
                         "identical_to_simulate": bool((r.spikes == ref.z).all() and (r.outputs == ref.out).all())})
    return rows


def run(quick: bool = False) -> dict:
    T = 200 if quick else 1000
    ln = bench_lava_native([128] if quick else [256, 1024], T)
    targets = ["numpy", "cython"] if quick else ["numpy", "cython", "cpp_standalone"]
    b2 = bench_brian2([256] if quick else [256, 1024, 4096], T, targets)
    cases = [(256, 0.1)] if quick else [(256, 0.1), (1024, 0.1), (4096, 0.1), (1024, 1.0)]
    dflt = bench_default_flags(cases, T)
    md = ["### brian2 cpp_standalone (its default flags) vs native, one trial, 1 thread each", "",
          "The headline inference comparison. The same float network (LIF, n_ref 1, 20 Hz inputs, recurrence x0.3) "
          "and inputs; native runs it compiled for loihi2 (fixed point; float mode beside it). brian2 as a user "
          f"runs it: cpp_standalone with brian2's default preferences (g++ `{' '.join(dflt[0]['brian2_default']['flags'])}`, "
          "single-threaded), simulation loop time from brian2's own timer, best of 3 runs of the built binary "
          "(build excluded). Native and the floor: best of 5 wall times, numba threads = 1 (a single trial runs "
          "serially; the 2-thread column shows the second thread cannot help one trial). The **floor** is a plain "
          "Numba LIF loop (`benchmarks/numba_floor.py`: float32, no fixed point, no counting, no per-call setup), "
          "shown so the headroom of native is visible.", "",
          "| N | p | rate Hz (brian2 / native fixed / floor) | brian2 default ms/step | brian2 binary wall ms/step | "
          "native fixed 1 thr ms/step | native fixed 2 thr | native float 1 thr | floor ms/step | "
          "**brian2 / native fixed** | brian2 / native float | native fixed / floor |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in dflt:
        b, f1, f2, fl, fo = (r["brian2_default"], r["native_fixed_1t"], r["native_fixed_2t"], r["native_float_1t"],
                             r["numba_floor"])
        md.append(f"| {r['N']} | {r['p']} | {b['rate_hz']:.1f} / {f1['rate_hz']:.1f} / {fo['rate_hz']:.1f} | "
                  f"{b['loop_ms_per_step']:.4f} | {b['binary_wall_ms_per_step']:.4f} | {f1['wall_ms_per_step']:.4f} | "
                  f"{f2['wall_ms_per_step']:.4f} | {fl['wall_ms_per_step']:.4f} | {fo['wall_ms_per_step']:.4f} | "
                  f"**{b['loop_ms_per_step'] / f1['wall_ms_per_step']:.2f}x** | "
                  f"{b['loop_ms_per_step'] / fl['wall_ms_per_step']:.2f}x | "
                  f"{f1['wall_ms_per_step'] / fo['wall_ms_per_step']:.2f}x |")
    md += ["", "brian2 default flags include `-ffast-math`, so its spikes may differ from the strict reference: "
           "spike agreement with neurochip.simulate " + ", ".join(
               f"N = {r['N']} p = {r['p']}: {100 * r['brian2_default']['spike_agreement_with_simulate']:.3f} %" for r in dflt)
           + "; floor spikes identical to simulate: " + ", ".join(str(r["numba_floor"]["identical_to_simulate"]) for r in dflt) + ".",
           "", "### lava-nc emulator vs native (same compiled loihi2 network, fixed point)", "",
           "| N | T | rate Hz | lava run ms/step | lava wall s (incl. start, build, read-out) | native ms/step | lava / native | bit-identical |",
           "|---|---|---|---|---|---|---|---|"]
    for r in ln:
        md.append(f"| {r['N']} | {r['T']} | {r['rate_hz']:.1f} | {r['lava_run_ms_per_step']:.3f} | {r['lava_wall_s']:.1f} | "
                  f"{r['native_ms_per_step']:.4f} | {r['speedup']:.0f}x | {r['identical']} |")
    md += ["", "lava runs its own PyLifModelBitAcc here (reset to zero, n_ref = 1); native: best of 5 after a warm-up.",
           "", "### brian2 targets with strict FP flags (the bit-identity check) vs the float kernel (neurochip.simulate)", "",
           f"Flags `{' '.join(b2[0]['flags'])}` (no fast-math, no FMA contraction, no -march=native): needed for "
           "bit-identity with numpy and neurochip.simulate, slower than brian2's defaults, so not used for the "
           "speed comparison above.", "",
           "| N | T | target | rate Hz | build s | run ms/step | float kernel ms/step | identical to simulate |",
           "|---|---|---|---|---|---|---|---|"]
    for r in b2:
        md.append(f"| {r['N']} | {r['T']} | {r['target']} | {r['rate_hz']:.1f} | {r['build_s']:.2f} | "
                  f"{r['run_ms_per_step']:.3f} | {r['float_kernel_ms_per_step']:.4f} | {r['identical_to_simulate']} |")
    return {"title": "Peers: brian2 (default flags) and lava-nc vs native", "markdown": "\n".join(md),
            "data": {"brian2_default_vs_native": dflt, "lava_native": ln, "brian2_strict": b2, "quick": quick}}


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv[1:])
    print(res["markdown"])
