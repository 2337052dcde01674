"""Energy model arithmetic on hand-computed cases, the unpriced/incomplete rule, all-in scope, additivity."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip.backend_contract import EventCounts
from neurochip.cost.energy import energy
from neurochip.errors import ConfigError

LOIHI_LIKE = {"sop": 23.6, "neuron_update": 81.0, "neuron_update_inactive": 52.0, "hop_ew": 3.0, "hop_ns": 4.0,
              "intra_tile": 1.7, "weight_update": 120.0, "trace_update": 2.0, "learning_signal": 10.0}
XY = np.array([[0, 0], [1, 1]])


def counts(**kw):
    base = dict(steps=10, trials=2, neuron_updates=100, neuron_updates_active=30, syn_ops=50, spike_packets=6,
                mesh_hops=8, weight_updates=5, per_core_syn_ops=np.array([20, 30]),
                per_core_neuron_updates=np.array([40, 60]), per_core_packets_out=np.array([5, 1]),
                core_to_core_packets=np.array([[2, 3], [1, 0]]))
    base.update(kw)
    return EventCounts(**base)


def test_hand_computed_total(toy):
    prof = toy.make_profile(LOIHI_LIKE, static_mw=0.5)
    r = energy(counts(), prof, step_ms=1.0, core_xy=XY)
    by = {(ln.category, ln.event): ln.energy_pj for ln in r.lines}
    assert by[("synaptic", "sop")] == pytest.approx(50 * 23.6)
    assert by[("neuron", "neuron_update")] == pytest.approx(30 * 81)
    assert by[("neuron", "neuron_update_inactive")] == pytest.approx(70 * 52)
    assert by[("routing", "hop_ew")] == pytest.approx(4 * 3.0)      # 3 + 1 packets, 1 E-W hop each
    assert by[("routing", "hop_ns")] == pytest.approx(4 * 4.0)
    assert by[("intra_tile", "intra_tile")] == pytest.approx(2 * 1.7)  # core 0 -> core 0
    assert by[("weight", "weight_update")] == pytest.approx(600)
    static = 0.5 * 2 * 10 * 1.0 * 1e6                                 # mW x cores x ms -> pJ
    assert r.static_pj == pytest.approx(static)
    want = 1180 + 2430 + 3640 + 12 + 16 + 3.4 + 600 + static
    assert r.total_pj == pytest.approx(want)
    assert r.dynamic_pj == pytest.approx(want - static)
    assert r.complete and r.unpriced == ()
    assert r.per_trial_uj() == pytest.approx(want / 2 * 1e-6)
    # The per-core split covers everything except learning events (none here): it sums to the total.
    assert r.per_core_pj.sum() == pytest.approx(r.total_pj - 600)


def test_step_duration_scales_static_only(toy):
    prof = toy.make_profile(LOIHI_LIKE, static_mw=0.5)
    a = energy(counts(), prof, step_ms=1.0, core_xy=XY)
    b = energy(counts(), prof, step_ms=2.0, core_xy=XY)
    assert b.static_pj == pytest.approx(2 * a.static_pj)
    assert b.dynamic_pj == pytest.approx(a.dynamic_pj)
    with pytest.raises(ConfigError, match="step_ms"):
        energy(counts(), prof, step_ms=0.0)


def test_unpriced_is_flagged_never_zero(toy):
    costs = {k: v for k, v in LOIHI_LIKE.items() if k != "trace_update"}
    prof = toy.make_profile(costs)                                    # and no static power either
    r = energy(counts(trace_updates=7), prof, core_xy=XY)
    assert not r.complete
    assert "trace_update" in r.unpriced and "static_mw_per_core" in r.unpriced
    line = next(ln for ln in r.lines if ln.event == "trace_update")
    assert line.count == 7 and line.energy_pj is None
    assert any("INCOMPLETE" in n for n in r.notes)
    # Without trace events the missing trace cost does not matter.
    r2 = energy(counts(trace_updates=0), toy.make_profile(costs, static_mw=0.1), core_xy=XY)
    assert r2.complete


def test_inactive_cost_missing_prices_all_updates_as_active(toy):
    costs = {k: v for k, v in LOIHI_LIKE.items() if k != "neuron_update_inactive"}
    r = energy(counts(), toy.make_profile(costs, static_mw=0.0), core_xy=XY)
    assert r.by_category()["neuron"] == pytest.approx(100 * 81.0)


def test_single_hop_cost_and_no_matrix(toy):
    prof = toy.make_profile({"sop": 1.0, "neuron_update": 0.0, "hop": 5.0, "intra_tile": 1.0}, static_mw=0.0)
    r = energy(counts(), prof, core_xy=XY)
    assert r.by_category()["routing"] == pytest.approx(8 * 5.0)
    # No per-pair matrix: the total hop count is priced; mean of E-W/N-S when only those exist.
    prof2 = toy.make_profile({"sop": 1.0, "neuron_update": 0.0, "hop_ew": 2.0, "hop_ns": 4.0}, static_mw=0.0)
    c = counts(core_to_core_packets=np.zeros((0, 0), np.int64))
    r2 = energy(c, prof2)
    assert r2.by_category()["routing"] == pytest.approx(8 * 3.0)


def test_all_in_never_adds_other_costs(toy):
    prof = toy.make_profile({"all_in_sop": {"value": 26.0, "grade": "M", "source": "t", "scope": "all_in"},
                             "hop": 5.0, "neuron_update": 80.0}, static_mw=1.0)
    r = energy(counts(weight_updates=0), prof, core_xy=XY)
    assert r.mode == "all_in"
    assert r.total_pj == pytest.approx(50 * 26.0)
    assert r.static_pj is None and r.complete
    # Learning events are not inside an all-in inference figure: reported unpriced.
    r2 = energy(counts(weight_updates=5), prof, core_xy=XY)
    assert not r2.complete and r2.total_pj == pytest.approx(50 * 26.0)


def test_all_in_scope_on_other_event_refused(toy):
    prof = toy.make_profile({"hop": {"value": 5.0, "grade": "M", "source": "t", "scope": "all_in"}})
    with pytest.raises(ConfigError, match="all_in"):
        energy(counts(), prof)


def test_learning_signal_lines(toy):
    prof = toy.make_profile(LOIHI_LIKE, static_mw=0.0)
    r = energy(counts(learning_signal_msgs=4, learning_signal_hops=6, learning_signal_macs=8), prof, core_xy=XY)
    by = r.by_category()
    assert by["learning_signal"] == pytest.approx(40.0)
    assert by["learning_signal_routing"] == pytest.approx(6 * 3.5)    # direction unknown: mean(E-W, N-S)
    assert by["learning_signal_macs"] == pytest.approx(8 * 23.6)
    assert r.learning_pj == pytest.approx(40 + 21 + 8 * 23.6 + 600)


nat = st.integers(0, 10_000)


@st.composite
def event_counts(draw):
    nu = draw(nat)
    c2c = np.array(draw(st.lists(st.integers(0, 500), min_size=4, max_size=4))).reshape(2, 2)
    return EventCounts(steps=draw(st.integers(0, 1000)), trials=draw(st.integers(0, 10)), neuron_updates=nu,
                       neuron_updates_active=draw(st.integers(0, nu)), syn_ops=draw(nat),
                       spike_packets=int(c2c.sum()), mesh_hops=int(c2c[0, 1] + c2c[1, 0]) * 2,
                       trace_updates=draw(nat), weight_updates=draw(nat), learning_signal_msgs=draw(nat),
                       learning_signal_hops=draw(nat), learning_signal_macs=draw(nat),
                       per_core_syn_ops=np.array(draw(st.lists(nat, min_size=2, max_size=2))),
                       core_to_core_packets=c2c)


@settings(max_examples=60, deadline=None)
@given(a=event_counts(), b=event_counts())
def test_energy_is_additive_across_runs(toy, a, b):
    prof = toy.make_profile(LOIHI_LIKE, static_mw=0.3)
    ea, eb, eab = (energy(c, prof, core_xy=XY, step_ms=1.0) for c in (a, b, a + b))
    assert eab.total_pj == pytest.approx(ea.total_pj + eb.total_pj, rel=1e-9, abs=1e-6)
    for cat, v in eab.by_category().items():
        assert v == pytest.approx((ea.by_category()[cat] or 0) + (eb.by_category()[cat] or 0), rel=1e-9, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(a=event_counts(), k=st.integers(1, 5))
def test_batches_add_up(toy, a, k):
    """k identical batches cost k times one batch (counts and energies are linear)."""
    prof = toy.make_profile(LOIHI_LIKE, static_mw=0.3)
    total = a
    for _ in range(k - 1):
        total = total + a
    assert total.syn_ops == k * a.syn_ops and total.steps == k * a.steps
    assert energy(total, prof, core_xy=XY).total_pj == pytest.approx(k * energy(a, prof, core_xy=XY).total_pj,
                                                                      rel=1e-9, abs=1e-6)
