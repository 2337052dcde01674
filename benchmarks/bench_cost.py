"""Cost model on the standard workload, every shipped chip costed the same way (no timing).

Workload: recurrent LIF layer, N = 256 / 1024 / 4096, connection probability p = 0.1, 64 inputs at
10 Hz, recurrent spikes Poisson at 20 Hz (the middle of the 10-30 Hz band), T = 1000 steps of 1 ms.
The spikes are drawn directly (not simulated) so every chip sees exactly the same activity; the
events are counted on each chip's own compile of the network (``backends.counts.counts_from_spikes``:
the same counting conventions as the native kernels) and priced by ``neurochip.cost.energy``.
Static power is charged for real-time pacing (1 ms per step). Also: BPTT vs e-prop scaling and the
TrueNorth validation of ``docs/cost_model.md``.

``python benchmarks/bench_cost.py [--quick]``
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHIPS = ("loihi1", "loihi1_sanafe", "loihi2", "reckon", "generic")


def _workload(n: int, T: int, seed: int = 0):
    from neurochip.network import NeuronParams, init_network
    net = init_network(64, n, 2, NeuronParams(kind="lif", n_ref=1), p_rec=0.1, seed=seed)
    rng = np.random.default_rng(seed)
    x = (rng.random((1, T, 64)) < 10e-3).astype(np.uint8)
    z = (rng.random((1, T, n)) < 20e-3).astype(np.uint8)
    return net, x, z


def run(quick: bool = False) -> dict:
    from neurochip.backends.counts import counts_from_spikes
    from neurochip.compiler.pipeline import CompileOptions, compile
    from neurochip.cost import bptt, validation
    from neurochip.cost.comm import communication
    from neurochip.cost.energy import energy
    from neurochip.chips.profile import load_profile
    from neurochip.errors import ChipConstraintError

    sizes = (256, 1024) if quick else (256, 1024, 4096)
    T = 200 if quick else 1000
    data: dict = {"T": T, "rows": []}
    lines = ["| chip | N | cores | SOP / step | dynamic uJ / step | static uJ / step | pJ per SOP (all-in) | "
             "mean hops | cross-core share | unpriced |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for n in sizes:
        net, x, z = _workload(n, T)
        for chip in CHIPS:
            try:
                c = compile(net, chip, options=CompileOptions.make(approximate=("reset",)))
            except ChipConstraintError as e:
                lines.append(f"| {chip} | {n} | - | - | - | - | - | - | - | does not fit: {e.violations[0].rule if e.violations else e} |")
                data["rows"].append({"chip": chip, "N": n, "error": str(e)})
                continue
            k = counts_from_spikes(c, x, z)
            e = energy(k, c.profile, core_xy=c.core_xy, n_cores=c.n_cores, step_ms=1.0)
            com = communication(k, c.profile, c.core_xy)
            dyn = e.dynamic_pj / T * 1e-6
            st = None if e.static_pj is None else e.static_pj / T * 1e-6
            ge = "" if e.complete else ">= "
            lines.append(f"| {chip} | {n} | {c.n_cores} | {k.syn_ops / T:.4g} | {ge}{dyn:.4g} | "
                         f"{'-' if st is None else f'{st:.4g}'} | {ge}{e.total_pj / max(k.syn_ops, 1):.3g} | "
                         f"{com['mean_hops_per_packet']:.3g} | {com['cross_core_share']:.3f} | "
                         f"{', '.join(e.unpriced) or 'none'} |")
            data["rows"].append({"chip": chip, "N": n, "cores": c.n_cores, "syn_ops": k.syn_ops, "steps": T,
                                 "dynamic_pj": e.dynamic_pj, "static_pj": e.static_pj, "total_pj": e.total_pj,
                                 "complete": e.complete, "unpriced": list(e.unpriced),
                                 "mean_hops": com["mean_hops_per_packet"], "cross_core_share": com["cross_core_share"]})
    fmt = load_profile("loihi1").format
    rows = bptt.scaling_table(fmt, Ts=(100, 1000, 10000), Ns=(64, 256, 1024), neurons_per_core=1024)
    data["bptt_scaling"] = rows
    bl = ["| N | T | BPTT memory (KiB) | e-prop factorised (KiB) | e-prop per-synapse (KiB) | BPTT msgs / trial | e-prop msgs / trial |",
          "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    bl += [f"| {r['N']} | {r['T']} | {r['bptt_memory_bits'] / 8192:.4g} | {r['eprop_factorised_memory_bits'] / 8192:.3g} | "
           f"{r['eprop_per_synapse_memory_bits'] / 8192:.4g} | {r['bptt_messages']:.4g} | {r['eprop_messages']:.4g} |" for r in rows]
    data["validation"] = validation.validate_truenorth()
    md = ("Standard workload (recurrent LIF, p = 0.1, 64 inputs at 10 Hz, recurrent Poisson spikes at 20 Hz, "
          f"T = {T} steps of 1 ms), each chip's own compile (reset approximated where the chip lacks "
          "subtraction), events priced by the chip profile; `>=` marks a total with unpriced events. "
          "Static power is for real-time pacing on the used cores.\n\n" + "\n".join(lines) +
          "\n\nOn-chip BPTT vs e-prop, learning memory and messages per trial (Loihi 1 formats, ALIF, "
          "n_in = 40, K = 2, dense recurrence):\n\n" + "\n".join(bl) +
          "\n\nValidation (TrueNorth, Merolla 2014):\n\n" + validation.markdown())
    return {"title": "Cost model: standard workload on every chip", "markdown": md, "data": data}


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv)["markdown"])
