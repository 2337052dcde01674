"""Communication (XY routes, busiest link/core, bytes) and memory bits on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip.backend_contract import EventCounts
from neurochip.cost.comm import communication, link_loads, router_loads, xy_route
from neurochip.cost.memory import memory


def test_xy_route_goes_x_then_y():
    assert xy_route((0, 0), (2, 1)) == [((0, 0), (1, 0)), ((1, 0), (2, 0)), ((2, 0), (2, 1))]
    assert xy_route((1, 1), (1, 1)) == []
    assert xy_route((2, 2), (0, 2)) == [((2, 2), (1, 2)), ((1, 2), (0, 2))]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=2, max_size=5, unique=True), st.data())
def test_link_loads_sum_to_hops(xy, data):
    """Independent check: total link crossings = sum over flows of packets x Manhattan distance."""
    xy = np.array(xy)
    n = len(xy)
    c2c = np.array(data.draw(st.lists(st.integers(0, 9), min_size=n * n, max_size=n * n))).reshape(n, n)
    loads = link_loads(c2c, xy)
    manhattan = np.abs(xy[:, None] - xy[None]).sum(-1)
    assert sum(loads.values()) == int((c2c * manhattan).sum())
    grid = router_loads(c2c, xy)
    assert grid.sum() == int((c2c * (manhattan + 1)).sum())   # each node on a route counts once


def test_communication_summary(toy):
    prof = toy.make_profile({})
    xy = np.array([[0, 0], [2, 0], [2, 1]])
    c2c = np.array([[4, 10, 1], [0, 0, 0], [0, 2, 0]])
    c = EventCounts(steps=5, trials=1, spike_packets=int(c2c.sum()), mesh_hops=10 * 2 + 1 * 3 + 2 * 1,
                    core_to_core_packets=c2c, per_core_packets_out=c2c.sum(1),
                    learning_signal_msgs=6, learning_signal_hops=9)
    r = communication(c, prof, xy)
    assert r["spike_bytes"] == 17 * 4
    assert r["cross_core_packets"] == 13 and r["cross_core_share"] == pytest.approx(13 / 17)
    assert r["busiest_core_out"] == {"core": 0, "packets": 15}
    # link (0,0)->(1,0) carries the 10 + 1 packets from core 0
    assert r["busiest_link"]["from"] == [0, 0] and r["busiest_link"]["to"] == [1, 0]
    assert r["busiest_link"]["packets"] == 11
    assert r["learning_signal"]["bytes"] == 24
    assert r["mean_hops_per_packet"] == pytest.approx(25 / 17)


def test_memory_bits_hand_computed(toy):
    prof = toy.make_profile({})
    comp = toy.make_compiled(prof, kind="alif", n_ref=5)
    m = memory(comp, learn=False)
    # synapses: 4*3 input + 12 recurrent (no diagonal) + 2*4 readout = 32, at 8 + 2 bits
    assert m["weights_bits"]["synapses"] == 32 and m["weights_bits"]["total"] == 320
    # ALIF: v 24 + u 24 + a 24 + refractory ceil(log2 6) = 3 -> 75 bits per neuron; readout y 24 bits
    assert m["neuron_state_bits"]["recurrent"] == 4 * 75 and m["neuron_state_bits"]["readout"] == 2 * 24
    assert m["learning_state_bits"] is None and m["feedback_bits"] == 0
    ml = memory(comp, learn=True)
    # factorised: pre traces (3 + 4) * 7 + their kappa-filtered copies (3 + 4) * (7 + 5) + psi 4*7
    # + readout trace 4*7 + ALIF eps 4*7
    assert ml["learning_state_bits"]["kappa_pre_traces"] == (3 + 4) * 12
    assert ml["learning_state_bits"]["total"] == (7 + 4 + 4 + 4) * 7 + (3 + 4) * 12
    assert ml["feedback_bits"] == 4 * 2 * 8                    # random e-prop B at weight_bits
    assert ml["total_bits"] == 320 + 300 + 48 + 217 + 64


def test_memory_per_synapse_and_symmetric(toy):
    from neurochip.rules import LearningRule
    prof = toy.make_profile({})
    comp = toy.make_compiled(prof, kind="lif")
    rule = LearningRule(name="eprop_symmetric", eligibility="per_synapse")
    m = memory(comp, rule=rule)
    # per-synapse: pre (3+4)*7 + psi 4*7 + readout 4*7 + e_bar (12 + 12) * 7
    assert m["learning_state_bits"]["total"] == (7 + 4 + 4 + 24) * 7
    assert m["feedback_bits"] == 0 and m["rule"] == "eprop_symmetric"


def test_memory_uses_compiled_rule_widths(toy):
    from types import SimpleNamespace
    prof = toy.make_profile({})
    cr = SimpleNamespace(name="eprop_symmetric", eligibility="per_synapse", trace_bits=8, elig_bits=12, acc_bits=16,
                         adapt=False, weight_bits=8, B_mant=np.zeros((4, 2), np.int32))
    comp = toy.make_compiled(prof, kind="alif", rule=cr)
    m = memory(comp)
    ls = m["learning_state_bits"]
    # pre (3+4)*8 + psi 4*8 + readout 4*8 + e_bar (12+12)*12, no ALIF eps (adapt False), acc (24 + 8)*16
    assert ls["total"] == (7 + 4 + 4) * 8 + 24 * 12 + 32 * 16
    assert ls["widths_from"] == "compiled rule"
    assert m["feedback_bits"] == 8 * 8                       # B_mant kept on chip even for symmetric


def test_memory_of_a_real_compiled_rule():
    from neurochip.chips.profile import load_profile
    from neurochip.compiler.pipeline import compile
    from neurochip.network import NeuronParams, init_network
    from neurochip.rules import LearningRule
    net = init_network(8, 16, 2, NeuronParams(kind="lif", n_ref=1), seed=1)
    c = compile(net, "loihi2", LearningRule(name="eprop_random", eligibility="factorised"))
    m = memory(c)
    assert c.rule is not None and m["learning_state_bits"]["eligibility_kind"] == "factorised"
    s = 8 * 16 + 16 * 15 + 2 * 16
    assert m["learning_state_bits"]["accumulators"] == s * c.rule.acc_bits
    assert m["feedback_bits"] == 16 * 2 * c.rule.weight_bits
