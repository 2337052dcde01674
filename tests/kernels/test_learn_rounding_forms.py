"""The branch-free rounding forms of the learning kernel's row loops (`learn_rows.srnd0`, `rsh0`, used so
that the per-synapse loops vectorise) equal the branching reference forms (`srnd`, `rsh`) for every shift
k >= 0 they are used with, including k = 0 (where the reference takes its other branch)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st
from numba import njit, uint64

from neurochip.kernels.learn_rows import rsh, rsh0, srnd, srnd0


@njit(cache=False)
def _pairs(xs, ks, rs):
    out = np.zeros((xs.shape[0], 4), np.int64)
    for i in range(xs.shape[0]):
        out[i, 0] = srnd(xs[i], ks[i], uint64(rs[i]))
        out[i, 1] = srnd0(xs[i], ks[i], uint64(rs[i]))
        out[i, 2] = rsh(xs[i], ks[i])
        out[i, 3] = rsh0(xs[i], ks[i])
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-2**40, 2**40), st.integers(0, 40), st.integers(0, 2**64 - 1)),
                min_size=1, max_size=50))
def test_branch_free_forms_equal_reference(cases):
    xs = np.array([c[0] for c in cases], np.int64)
    ks = np.array([c[1] for c in cases], np.int64)
    rs = np.array([c[2] for c in cases], np.uint64)
    out = _pairs(xs, ks, rs)
    assert np.array_equal(out[:, 0], out[:, 1]), (xs, ks, rs)
    assert np.array_equal(out[:, 2], out[:, 3]), (xs, ks)


def test_k_zero_is_identity_and_ties_round_away():
    out = _pairs(np.array([-5, 5, -3, 3, -7], np.int64), np.array([0, 0, 1, 1, 2], np.int64),
                 np.array([2**64 - 1] * 5, np.uint64))
    assert list(out[:2, 1]) == [-5, 5] and list(out[:2, 3]) == [-5, 5]
    assert list(out[2:, 3]) == [-2, 2, -2]              # -1.5 -> -2, 1.5 -> 2, -1.75 -> -2
