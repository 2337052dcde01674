"""Generated tasks: shapes, dtypes, seeding, split separation, and that the labels are right."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip import InvalidNetworkError
from neurochip.tasks import get_task


@pytest.mark.parametrize("name", ["pattern", "evidence", "store_recall"])
def test_batch_contract(name):
    t = get_task(name)
    b = t.batch(5, "train", 0)
    assert b.x.shape == (5, t.n_steps, t.n_in) and b.x.dtype == np.uint8 and set(np.unique(b.x)) <= {0, 1}
    assert b.mask.shape == (5, t.n_steps) and b.mask.dtype == bool and b.mask.any(1).all()
    assert b.loss == t.loss
    if b.loss == "mse":
        assert b.target.shape == (5, t.n_steps, t.n_out)
    else:
        assert b.target.shape == (5, t.n_steps) and set(np.unique(b.target[b.mask])) <= set(range(t.n_out))
    again = t.batch(5, "train", 0)
    np.testing.assert_array_equal(b.x, again.x)


@pytest.mark.parametrize("name", ["evidence", "store_recall"])
def test_train_and_test_draws_differ(name):
    t = get_task(name)
    assert not np.array_equal(t.batch(4, "train", 0).x, t.batch(4, "test", 0).x)
    assert not np.array_equal(t.batch(4, "train", 0).x, t.batch(4, "train", 1).x)
    assert not np.array_equal(t.batch(4, "train", 0).x, get_task(name, seed=1).batch(4, "train", 0).x)


def test_pattern_targets():
    t = get_task("pattern")
    b = t.batch(1)
    y = b.target[0]
    assert y.shape == (1000, 3)
    np.testing.assert_allclose(y[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(y).max(0), 1.0)
    assert 0.03 < b.x.mean() < 0.07  # 50 Hz at 1 ms
    np.testing.assert_array_equal(b.x, t.batch(1, "test", 3).x)  # frozen input


@given(seed=st.integers(0, 1000), idx=st.integers(0, 50))
@settings(max_examples=15, deadline=None)
def test_evidence_label_is_majority_and_inputs_follow_cues(seed, idx):
    t = get_task("evidence", seed=seed, delay_ms=200)
    b = t.batch(8, "train", idx)
    sides, labels = b.meta["cue_sides"], b.meta["labels"]
    np.testing.assert_array_equal(labels, (sides.sum(1) > t.n_cues / 2).astype(int))
    g = t.group_size
    for k in range(t.n_cues):
        t0 = 50 + 150 * k
        window = b.x[:, t0:t0 + 100]
        left, right = window[..., :g].sum((1, 2)), window[..., g:2 * g].sum((1, 2))
        assert (left[sides[:, k] == 1] == 0).all() and (right[sides[:, k] == 0] == 0).all()
    assert b.x[:, :-150, 2 * g:3 * g].sum() == 0 and b.x[:, -150:, 2 * g:3 * g].sum() > 0
    assert (b.target[:, -1] == labels).all()


def test_evidence_reference_length():
    assert get_task("evidence").n_steps == 2250


def test_store_recall_target_is_stored_bit():
    t = get_task("store_recall")
    b = t.batch(16, "test", 2)
    L, g = t.slot_steps, t.group_size
    for i in range(16):
        s, r = b.meta["store_slot"][i], b.meta["recall_slot"][i]
        assert r >= s + t.min_delay_slots
        seg = b.x[i, s * L:(s + 1) * L]
        shown = int(seg[:, g:2 * g].sum() > seg[:, :g].sum())
        assert shown == b.meta["labels"][i]
        assert b.mask[i].sum() == L and b.mask[i, r * L]
        assert seg[:, 2 * g:3 * g].sum() > 0


def test_bad_task_options():
    with pytest.raises(InvalidNetworkError, match="unknown task"):
        get_task("mnist")
    with pytest.raises(InvalidNetworkError, match="n_cues"):
        get_task("evidence", n_cues=4)
    with pytest.raises(InvalidNetworkError, match="colour"):
        get_task("pattern", colour=3)
    with pytest.raises(InvalidNetworkError, match="batch_size"):
        get_task("pattern").batch(0)
    with pytest.raises(InvalidNetworkError, match="split"):
        get_task("evidence").batch(2, "valid")
