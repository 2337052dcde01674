"""Like-for-like chip comparison (`neurochip.cost.compare`): dynamic and static apart, learning step >=
inference, all-in figures in their own column, unpriced events listed, energy per correct inference."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip.backend_contract import EventCounts
from neurochip.cost import compare
from neurochip.cost.report import chip_report


def _counts(trials=2, T=25, syn=400, active=100, spikes=20, learn=False):
    c2c = np.array([[5, 2], [1, 3]])
    kw = dict(trace_updates=1000, weight_updates=50, learning_signal_msgs=40, learning_signal_macs=80) if learn else {}
    return EventCounts(steps=trials * T, trials=trials, neuron_updates=6 * trials * T, neuron_updates_active=active,
                       spikes=spikes, syn_ops=syn, spike_packets=int(c2c.sum()), mesh_hops=3, core_to_core_packets=c2c,
                       per_core_syn_ops=np.array([syn // 2, syn - syn // 2]),
                       per_core_neuron_updates=np.array([3 * trials * T] * 2), per_core_packets_out=c2c.sum(1), **kw)


def _report(toy, costs, static_mw=None, *, learn_syn=400, accuracy=None, approx=(), name="toy"):
    p = toy.make_profile(costs, static_mw=static_mw, name=name)
    comp = toy.make_compiled(p)
    rep = chip_report(comp, _counts(), counts_learn=_counts(syn=learn_syn, learn=True), step_ms=1.0)
    rep["approximations"] = list(approx)
    if accuracy is not None:
        rep["accuracy"] = {"accuracy": accuracy, "trials": 100}
    return rep


FULL = {"sop": 2.0, "neuron_update": 3.0, "neuron_update_inactive": 1.0, "hop": 3.0, "intra_tile": 1.0,
        "trace_update": 0.5, "weight_update": 10.0, "learning_signal": 1.0}


def test_static_apart_from_dynamic_and_exact_figures(toy):
    b = compare.basis(_report(toy, FULL, static_mw=0.5, accuracy=0.8))
    dyn_pj = 400 * 2.0 + 100 * 3.0 + (300 - 100) * 1.0 + 3 * 3.0 + 8 * 1.0          # per 2 trials
    assert b["dynamic_infer_uj"] == pytest.approx(dyn_pj / 2 * 1e-6)
    assert b["static_uj"] == pytest.approx(0.5 * 2 * 25)           # 0.5 mW/core x 2 cores x 25 ms = 25 uJ per trial
    assert b["static_mw"] == pytest.approx(0.5 * 2) and b["trial_ms"] == 25
    assert b["dynamic_per_correct_uj"] == pytest.approx(b["dynamic_infer_uj"] / 0.8)
    assert b["total_per_correct_uj"] == pytest.approx((b["dynamic_infer_uj"] + b["static_uj"]) / 0.8)
    assert b["unpriced"] == [] and b["dynamic_infer_complete"] and b["dynamic_learn_complete"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2000))
def test_learning_step_never_cheaper_than_inference(toy, learn_syn):
    """Whatever the learning run's own forward activity, a learning step = inference + learning events."""
    cheap_learning = {**FULL, "trace_update": 1e-4, "weight_update": 1e-3, "learning_signal": 1e-3}
    for costs in (cheap_learning, {"all_in_sop": {"value": 6.8, "grade": "D", "source": "t", "scope": "all_in"}}):
        b = compare.basis(_report(toy, costs, static_mw=None, learn_syn=learn_syn))
        if b["mode"] == "all_in":
            assert b["all_in_learn_uj"] >= b["all_in_infer_uj"]
        else:
            assert b["dynamic_learn_uj"] >= b["dynamic_infer_uj"]


def test_all_in_in_its_own_column_and_unpriced_listed(toy):
    allin = _report(toy, {"all_in_sop": {"value": 6.8, "grade": "D", "source": "t", "scope": "all_in"}}, name="ai")
    partial = _report(toy, {"sop": 5.3}, accuracy=0.3, approx=["adaptation dropped (ALIF -> LIF)"], name="pp")
    a, p = compare.basis(allin), compare.basis(partial)
    assert a["dynamic_infer_uj"] is None and a["static_uj"] is None
    assert a["all_in_infer_uj"] == pytest.approx(400 * 6.8 / 2 * 1e-6)
    assert "trace_update" in a["unpriced"] and "weight_update" in a["unpriced"]      # learning not in all-in
    assert "neuron_update" in p["unpriced"] and "static_mw_per_core" in p["unpriced"]
    rows = compare.comparison_rows([allin, partial, {"chip": "big", "error": "does not fit: too many neurons"}])
    assert rows[0]["dynamic uJ / inference"] == "n/p" and rows[0]["static uJ / trial (pacing)"] == "inside all-in"
    assert rows[0]["all-in upper bound uJ / inference"].startswith(f"<= {400 * 6.8 / 2 * 1e-6:.3g}")
    assert rows[1]["dynamic uJ / inference"].startswith(">= ")                           # neuron updates unpriced
    assert rows[1]["compiled with"] == "adaptation dropped (ALIF -> LIF)" and rows[1]["accuracy"] == "0.300 (n=100)"
    assert rows[1]["dynamic uJ / correct inference"] == f">= {400 * 5.3 / 2 * 1e-6 / 0.3:.3g}"
    assert rows[2]["compiled with"] == "does not fit"
    md = compare.markdown(rows).strip().splitlines()
    assert len({ln.count("|") for ln in md}) == 1 and len(md) == 5
