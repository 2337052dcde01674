"""backends.native_learn.position_map: the factorised kernel's (pre, post) -> CSR position table."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from neurochip.backends.native_learn import POS_MAP_MAX, position_map


def _csr(mask):
    ptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    idx = np.concatenate([np.flatnonzero(r) for r in mask] or [np.zeros(0, int)]).astype(np.int32)
    return ptr, idx


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_pre=st.integers(1, 12), n_post=st.integers(1, 12),
       p=st.floats(0.0, 1.0))
def test_position_map_inverts_the_rows(seed, n_pre, n_post, p):
    mask = np.random.default_rng(seed).random((n_pre, n_post)) < p
    ptr, idx = _csr(mask)
    pos = position_map(ptr, idx, n_post)
    if 4 * mask.sum() < n_pre * n_post:                # too sparse to pay: not built
        assert pos.shape == (0, 0)
        return
    assert pos.shape == (n_pre, n_post) and pos.dtype == np.int32
    np.testing.assert_array_equal(pos >= 0, mask)      # -1 exactly where there is no synapse
    for i in range(n_pre):
        for k in range(ptr[i], ptr[i + 1]):
            assert pos[i, idx[k]] == k - ptr[i]        # the row position of each target


def test_position_map_refuses_repeats_and_oversize():
    ptr = np.array([0, 2], np.int64)
    assert position_map(ptr, np.array([1, 1], np.int32), 2).shape == (0, 0)       # (0, 1) twice
    n = int(np.sqrt(POS_MAP_MAX)) + 1
    full = np.arange(n + 1, dtype=np.int64) * n
    assert position_map(full, np.tile(np.arange(n, dtype=np.int32), n), n).shape == (0, 0)
