"""Generalization gap, float and compiled (neurochip.analysis.generalization / compare)."""
from __future__ import annotations

import numpy as np
import pytest

from neurochip.analysis import (chip_network, chip_outputs, chip_with_weights, float_outputs, gap, per_trial,
                                task_gap)
from neurochip.errors import ConfigError
from neurochip.tasks import get_task

from .tiny import tiny_batch, tiny_net


@pytest.fixture(scope="module")
def compiled():
    from neurochip.compiler import compile
    return compile(tiny_net(), "loihi2")


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_gap_is_zero_for_identical_draws(loss):
    net = tiny_net()
    b = tiny_batch(seed=5, B=4, loss=loss)
    r = gap(float_outputs(net), [b], [b])
    assert r["loss_gap"] == 0.0 and r["error_gap"] == 0.0
    assert r["train"]["trials"] == r["test"]["trials"] == 4


def test_gap_of_different_draws_matches_per_trial_means():
    net = tiny_net()
    tr, te = tiny_batch(seed=1, B=3), tiny_batch(seed=2, B=3)
    r = gap(float_outputs(net), [tr], [te])
    f = float_outputs(net)
    lte, ltr = per_trial(f(te.x), te)["loss"], per_trial(f(tr.x), tr)["loss"]
    assert r["loss_gap"] == pytest.approx(lte.mean() - ltr.mean())
    # standard error of a difference of two independent means (sample sd, n - 1)
    se = np.sqrt(lte.var(ddof=1) / lte.size + ltr.var(ddof=1) / ltr.size)
    assert se > 0 and r["loss_gap_se"] == pytest.approx(se, rel=1e-12)


def test_chip_gap_is_zero_for_identical_draws(compiled):
    b = tiny_batch(seed=7, B=3)
    r = gap(chip_outputs(compiled), [b], [b])
    assert r["loss_gap"] == 0.0 and r["error_gap"] == 0.0


def test_chip_network_dequantises_within_quantisation_error(compiled):
    net, cnet = tiny_net(), chip_network(compiled)
    for n in ("w_in", "w_rec", "w_out"):
        a, b = getattr(net, n), getattr(cnet, n)
        assert np.linalg.norm(a - b) <= 0.05 * np.linalg.norm(a)
    np.testing.assert_array_equal(cnet.w_rec[~net.rec_mask], 0.0)
    learned = {"w_in": np.zeros_like(compiled.w_in)}
    assert not chip_network(compiled, learned).w_in.any()
    assert not chip_with_weights(compiled, learned).w_in.any()
    with pytest.raises(ConfigError):
        chip_network(compiled, {"w_bogus": np.zeros(2)})
    b = np.array([0.25, -0.5])                  # a learned readout bias (it learns off chip) is applied as is
    np.testing.assert_array_equal(chip_network(compiled, {"b_out": b}).b_out, b)
    np.testing.assert_array_equal(chip_with_weights(compiled, {"b_out": b}).b_out, b)


def test_task_gap_uses_same_trial_count_on_both_splits():
    task = get_task("evidence", n_cues=1, delay_ms=20.0, recall_ms=20.0)
    from neurochip.network import init_network
    net = init_network(task.n_in, 6, task.n_out, seed=0)
    r = task_gap(float_outputs(net), task, 3, train_indices=(0, 1), test_indices=(0, 1))
    assert r["train"]["trials"] == r["test"]["trials"] == 6
    with pytest.raises(ConfigError):
        task_gap(float_outputs(net), task, 0)
