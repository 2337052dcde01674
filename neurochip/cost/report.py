"""One chip's cost report (energy, communication, memory, NeuroBench, BPTT comparison) and the
side-by-side table of several chips.

All energies per trial are in uJ (``EnergyReport.per_trial_uj``): a trial is one inference (learn=False
run) or one learning step on one sample (learn=True run: forward pass, traces, learning signal and
the weight update of that sample). An incomplete energy (some event unpriced) is marked ``>=`` in the
table: the true value is higher.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import bptt as bptt_mod
from .comm import communication, router_loads
from .energy import energy
from .memory import memory
from .neurobench import neurobench_metrics


def chip_report(compiled, counts_infer, *, counts_learn=None, step_ms: float = 1.0, inputs=None, spikes=None,
                compare_bptt: bool = False, learn: bool = False, note: str = "") -> dict[str, Any]:
    """Cost report of ``compiled`` (CompiledNetwork) on its own profile from backend counts.

    counts_infer: EventCounts of an inference run; counts_learn: of a learning run (if None and
    ``learn``, the analytic e-prop counts of `bptt.eprop_counts` are used and the report says so).
    inputs [B, T, n_in], spikes [B, T, n_rec]: for the NeuroBench workload metrics (optional).
    """
    p = compiled.profile
    xy = np.asarray(compiled.core_xy)
    rep: dict[str, Any] = {"chip": p.name, "profile_path": p.path, "compiled_for": compiled.profile_name,
                           "n_cores": int(compiled.n_cores), "step_ms": step_ms, "notes": [note] if note else []}
    e_inf = energy(counts_infer, p, step_ms=step_ms, core_xy=xy, n_cores=compiled.n_cores)
    rep["inference"] = e_inf.to_dict()
    rep["communication"] = communication(counts_infer, p, xy)
    if learn or counts_learn is not None:
        if counts_learn is None:
            counts_learn = bptt_mod.eprop_counts(compiled, counts_infer, p)
            rep["notes"].append("learning counts are analytic (bptt.eprop_counts): no backend learning run")
        e_l = energy(counts_learn, p, step_ms=step_ms, core_xy=xy, n_cores=compiled.n_cores)
        rep["learning"] = e_l.to_dict()
        rep["communication_learning"] = communication(counts_learn, p, xy)
    if compare_bptt:
        # BPTT delivers the readout error to the recurrent neurons on the same steps as e-prop: reuse the
        # learning run's learning-signal counts when there is one (apples to apples).
        cb, info = bptt_mod.bptt_counts(compiled, counts_infer, p, learning=counts_learn)
        e_b = energy(cb, p, step_ms=step_ms, core_xy=xy, n_cores=compiled.n_cores,
                     history_bits=(info["history_bits_read"], info["history_bits_written"]))
        # memory and traffic against T for the user's own network (its N, connectivity and cores), with the
        # trial length it was run at marked
        T_user = max(int(counts_infer.steps) // max(int(counts_infer.trials), 1), 1)
        n_rec = int(compiled.n_rec)
        p_rec = bptt_mod.n_existing(compiled.rec_mask) / max(n_rec * (n_rec - 1), 1)
        Ts = tuple(sorted({100, 300, 1000, 3000, 10000, T_user}))
        scaling = bptt_mod.scaling_table(p.format, Ts=Ts, Ns=(n_rec,), n_in=int(compiled.n_in),
                                         n_out=int(compiled.n_out), p_rec=p_rec, kind=str(compiled.neuron_kind),
                                         neurons_per_core=max(1, -(-n_rec // max(int(compiled.n_cores), 1))),
                                         accumulator_bits=p.learning.accumulator_bits)
        info = {**info, "T": T_user}
        rep["bptt"] = {**e_b.to_dict(), "info": info, "communication": communication(cb, p, xy), "scaling": scaling}
    rep["memory"] = memory(compiled, p, learn=learn or counts_learn is not None)
    if compare_bptt:
        T = max(int(counts_infer.steps) // max(int(counts_infer.trials), 1), 1)
        rep["memory"]["bptt_peak_learning_bits"] = rep["bptt"]["info"]["peak_learning_memory_bits"]
        rep["memory"]["bptt_T"] = T
    if inputs is not None and spikes is not None:
        rep["neurobench"] = neurobench_metrics(inputs, spikes, compiled.w_in, compiled.w_rec, compiled.w_out,
                                               fmt=p.format, kind=str(compiled.neuron_kind), dt_ms=step_ms)
    c2c = np.asarray(counts_infer.core_to_core_packets)
    if c2c.ndim == 2 and c2c.size and len(xy) == c2c.shape[0]:
        shape = (p.mesh.rows, p.mesh.cols)
        if len(xy) and (xy[:, 1].max() >= shape[0] or xy[:, 0].max() >= shape[1]):
            shape = None
        rep["router_grid"] = router_loads(c2c, xy, shape).tolist()
    return rep


def _uj(e: dict | None) -> str:
    if not e:
        return "-"
    s = f"{e['per_trial_uj']:.4g}"
    return s if e["complete"] else f">= {s}"


def _cat(e: dict | None, cat: str) -> str:
    if not e:
        return "-"
    v = e["by_category_pj"].get(cat, 0.0)
    if v is None:
        return "unpriced"
    return f"{v / max(e['trials'], 1) * 1e-6:.3g}" if v else "0"


def markdown_table(reports: list[dict[str, Any]]) -> str:
    """Side-by-side table of chip reports (one column per chip)."""
    chips = [r["chip"] for r in reports]
    rows: list[tuple[str, list[str]]] = []

    def row(label, f):
        vals = []
        for r in reports:
            try:
                vals.append(f(r))
            except (KeyError, TypeError, IndexError):
                vals.append("-")
        rows.append((label, vals))

    row("energy / inference (uJ)", lambda r: _uj(r["inference"]))
    row("  dynamic / static (uJ)", lambda r: f"{r['inference']['dynamic_pj'] / max(r['inference']['trials'], 1) * 1e-6:.3g} / "
        + (f"{r['inference']['static_pj'] / max(r['inference']['trials'], 1) * 1e-6:.3g}"
           if r['inference']['static_pj'] is not None else
           ("in all-in" if r['inference']['mode'] == "all_in" else "unpriced")))
    # the learning run's own total per sample: its forward pass runs at the weights it is learning, so its
    # activity (and this figure) can differ from the inference run's; the like-for-like learning step is in
    # cost/compare.py (inference + learning events)
    row("learning run / sample: own forward + learning (uJ)", lambda r: _uj(r.get("learning")))
    # The learning events only (traces, weight writes, learning signal): the difference of the two runs'
    # totals would also carry the activity change that learning itself causes.
    row("  of which learning events (uJ)", lambda r: ("" if r["learning"]["complete"] else ">= ")
        + f"{r['learning']['learning_pj'] / max(r['learning']['trials'], 1) * 1e-6:.3g}")
    row("energy / BPTT learning step (uJ)", lambda r: _uj(r.get("bptt")))
    cats = []
    for r in reports:
        for key in ("inference", "learning", "bptt"):
            for c in (r.get(key) or {}).get("by_category_pj", {}):
                if c not in cats:
                    cats.append(c)
    for c in cats:
        row(f"  {c} (uJ, infer / e-prop / BPTT)",
            lambda r, c=c: f"{_cat(r['inference'], c)} / {_cat(r.get('learning'), c)} / {_cat(r.get('bptt'), c)}")
    row("unpriced events", lambda r: ", ".join(sorted(set(r["inference"]["unpriced"]) | set((r.get("learning") or {}).get("unpriced", [])))) or "none")
    row("spike packets / inference", lambda r: f"{r['communication']['spike_packets_per_trial']:.4g}")
    row("mean hops / packet", lambda r: f"{r['communication']['mean_hops_per_packet']:.3g}")
    row("spike bytes / inference", lambda r: f"{r['communication']['spike_bytes'] / max(r['inference']['trials'], 1):.4g}")
    row("cross-core share", lambda r: f"{r['communication']['cross_core_share']:.3f}")
    row("busiest link (packets/step)", lambda r: (lambda b: f"{b['from']}->{b['to']}: {b['packets_per_step']:.3g}")(r["communication"]["busiest_link"]) if r["communication"].get("busiest_link") else "none (1 node)")
    row("busiest core (packets out)", lambda r: f"core {r['communication']['busiest_core_out']['core']}: {r['communication']['busiest_core_out']['packets']}")
    row("learning-signal msgs / step", lambda r: f"{r['communication_learning']['learning_signal']['messages'] / max(r['learning']['steps'], 1):.3g}")
    row("learning-signal bytes / learning step", lambda r: f"{r['communication_learning']['learning_signal']['bytes'] / max(r['learning']['trials'], 1):.4g}")
    row("BPTT messages / learning step", lambda r: f"{(r['bptt']['communication']['spike_packets'] + r['bptt']['communication']['learning_signal']['messages']) / max(r['bptt']['trials'], 1):.4g}")
    row("cores used", lambda r: str(r["n_cores"]))
    row("memory: weights (KiB)", lambda r: f"{r['memory']['weights_bits']['total'] / 8192:.3g}")
    row("memory: neuron state (KiB)", lambda r: f"{r['memory']['neuron_state_bits']['total'] / 8192:.3g}")
    row("memory: e-prop learning state (KiB)", lambda r: f"{r['memory']['learning_state_bits']['total'] / 8192:.3g} ({r['memory']['learning_state_bits']['eligibility_kind']})")
    row("memory: feedback B (KiB)", lambda r: f"{r['memory']['feedback_bits'] / 8192:.3g}")
    row("memory: BPTT learning state (KiB)", lambda r: f"{r['memory']['bptt_peak_learning_bits'] / 8192:.4g} (T={r['memory']['bptt_T']})")
    row("BPTT state fits in synaptic memory", lambda r: "yes" if r["bptt"]["info"]["fits_in_synaptic_memory"] else
        f"no ({r['bptt']['info']['chip_synaptic_memory_bits'] / 8192:.4g} KiB on {r['n_cores']} core(s))")
    row("synaptic memory used", lambda r: f"{100 * r['memory']['synaptic_memory_utilisation']:.2f} %")
    row("NeuroBench Effective_ACs / sample", lambda r: f"{r['neurobench']['SynapticOperations']['Effective_ACs']:.4g}")
    row("NeuroBench Effective_MACs / sample", lambda r: f"{r['neurobench']['SynapticOperations']['Effective_MACs']:.4g}")
    row("NeuroBench Dense / sample", lambda r: f"{r['neurobench']['SynapticOperations']['Dense']:.4g}")
    row("NeuroBench ActivationSparsity", lambda r: f"{r['neurobench']['ActivationSparsity']:.4f}")
    row("NeuroBench ConnectionSparsity", lambda r: f"{r['neurobench']['ConnectionSparsity']:.4f}")
    row("NeuroBench Footprint (B, float32 / chip)", lambda r: f"{r['neurobench']['Footprint']} / {r['neurobench']['Footprint_chip']}")
    head = "| | " + " | ".join(chips) + " |\n| --- |" + " ---: |" * len(chips) + "\n"
    return head + "\n".join(f"| {label} | " + " | ".join(v) + " |" for label, v in rows) + "\n"
