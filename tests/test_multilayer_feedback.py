"""The two-layer feedback study (benchmarks/multilayer_feedback.py): its feedback arms cross-checked against the
registered rules, and its architecture kept by the network's layer map."""
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


def test_the_network_carries_its_layer_map(problem):
    """The architecture is the network's own layer map (not the script's): in_mask / out_mask match the
    layers, and every arm is a registered rule."""
    task, net, masks, _ = problem
    l1 = masks["layer1"]
    assert net.layered and np.array_equal(net.in_mask.any(axis=1), l1) and np.array_equal(net.has_readout, ~l1)
    for arm in M.ARMS:
        assert M.arm_rule(arm).name == arm


def test_direct_feedback_is_random_in_layer1_and_symmetric_in_layer2(problem):
    """e-prop is per neuron (its learning signal times its own eligibility): eprop_direct's rows of layer 1
    are eprop_random's, those of layer 2 are eprop_symmetric's; the hidden layer gets a task signal
    only with random feedback (reg_rate 0 isolates it)."""
    task, net, masks, b = problem
    l1 = masks["layer1"]
    gd, gr, gs = (grads(net, M.arm_rule(a), b)[0] for a in ("eprop_direct", "eprop_random", "eprop_symmetric"))
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
