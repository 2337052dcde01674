"""The two-layer feedback study (benchmarks/multilayer_feedback.py): its feedback arms cross-checked against the
registered rules, and its architecture kept by the masks."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurochip.learning import grads
from neurochip.rules import LearningRule
from neurochip.tasks import get_task

_spec = importlib.util.spec_from_file_location(
    "multilayer_feedback", Path(__file__).resolve().parents[1] / "benchmarks" / "multilayer_feedback.py")
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)

TASK = dict(n_cues=1, cue_ms=10, gap_ms=5, delay_ms=20, recall_ms=10, group_size=2)


@pytest.fixture(scope="module")
def problem():
    task = get_task("evidence", **TASK)
    net, masks = M.two_layer_network(task.n_in, 5, 4, task.n_out, seed=3, tau_a=100.0)
    # larger inputs so both layers spike within the short trial
    net = net.with_weights(w_in=net.w_in * 4.0, w_rec=net.w_rec * 2.0)
    return task, net, masks, task.batch(4, "train", 0)


def test_structure(problem):
    task, net, masks, _ = problem
    l1 = masks["layer1"]
    assert l1.sum() == 5 and not np.any(net.w_in[~l1]) and not np.any(net.w_out[:, l1])
    assert not net.rec_mask[np.ix_(l1, ~l1)].any() and net.rec_mask[np.ix_(~l1, l1)].all()   # L1 -> L2 only
    assert np.count_nonzero(net.beta[l1]) == 3 and np.count_nonzero(net.beta[~l1]) == 2


def _masked(g, masks):
    return {"w_in": g.w_in * masks["w_in"], "w_rec": g.w_rec, "w_out": g.w_out * masks["w_out"], "b_out": g.b_out}


@pytest.mark.parametrize("arm", ["bptt", "eprop_symmetric", "eprop_random"])
def test_arms_equal_the_registered_rules(problem, arm):
    """Arms that are registered rules give the registry's gradient (masked) exactly."""
    task, net, masks, b = problem
    g, _, _ = M.layer_grads(arm, net, masks, b)
    want = _masked(grads(net, M.arm_rule(arm), b)[0], masks)
    for k, v in want.items():
        assert np.array_equal(getattr(g, k), v), (arm, k)


def test_direct_feedback_is_random_in_layer1_and_symmetric_in_layer2(problem):
    """e-prop is per neuron (its learning signal times its own eligibility): eprop_direct's rows of layer 1
    are eprop_random's, those of layer 2 are eprop_symmetric's; the hidden layer gets a task signal
    only with random feedback (reg_rate 0 isolates it)."""
    task, net, masks, b = problem
    l1 = masks["layer1"]
    gd, _, _ = M.layer_grads("eprop_direct", net, masks, b)
    gr, _, _ = M.layer_grads("eprop_random", net, masks, b)
    gs, _, _ = M.layer_grads("eprop_symmetric", net, masks, b)
    for f in ("w_in", "w_rec"):
        assert np.array_equal(getattr(gd, f)[l1], getattr(gr, f)[l1])
        assert np.array_equal(getattr(gd, f)[~l1], getattr(gs, f)[~l1])
    assert np.any(gd.w_in[l1]) and not np.array_equal(gd.w_rec, gr.w_rec)   # layer 2 differs
    no_reg = LearningRule("eprop_symmetric", reg_rate=0.0)
    assert not np.any(grads(net, no_reg, b)[0].w_in[l1])           # W_out^T is zero on layer 1
    assert np.any(grads(net, LearningRule("bptt", reg_rate=0.0), b)[0].w_in[l1])   # BPTT reaches it


def test_a_short_run_keeps_the_architecture():
    r = M.run_one("eprop_direct", 0, 2, 4, 4, 4, 1)     # raises if a masked weight moved
    assert 0.0 <= r["test_accuracy"] <= 1.0 and r["layer1_w_in_change"] > 0
