"""The branch-free register forms (`fixed_ops.reg_current_sel` / `reg_membrane_sel`, used by the
vectorised inference loops) equal the reference forms (`reg_current` / `reg_membrane`) value for value and
event for event, in every overflow mode, on values at, around and far past every limit."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st
from numba import njit

from neurochip.kernels.fixed_ops import (OVF_LAVA, OVF_SATURATE, OVF_WRAP, reg_current, reg_current_sel,
                                         reg_membrane, reg_membrane_sel)


@njit(cache=False)
def _both(xs, half_c, vmax):
    """[n, 3 modes, 2 registers, (ref value, ref event, sel value, sel event)]; the sel forms get a literal
    mode, as in the kernels."""
    out = np.zeros((xs.shape[0], 3, 2, 4), np.int64)
    for i in range(xs.shape[0]):
        x = xs[i]
        a, e = reg_current(x, OVF_LAVA, half_c)
        b, f = reg_current_sel(x, OVF_LAVA, half_c)
        out[i, 0, 0] = (a, e, b, f)
        a, e = reg_current(x, OVF_SATURATE, half_c)
        b, f = reg_current_sel(x, OVF_SATURATE, half_c)
        out[i, 1, 0] = (a, e, b, f)
        a, e = reg_current(x, OVF_WRAP, half_c)
        b, f = reg_current_sel(x, OVF_WRAP, half_c)
        out[i, 2, 0] = (a, e, b, f)
        a, e = reg_membrane(x, OVF_LAVA, vmax)
        b, f = reg_membrane_sel(x, OVF_LAVA, vmax)
        out[i, 0, 1] = (a, e, b, f)
        a, e = reg_membrane(x, OVF_SATURATE, vmax)
        b, f = reg_membrane_sel(x, OVF_SATURATE, vmax)
        out[i, 1, 1] = (a, e, b, f)
        a, e = reg_membrane(x, OVF_WRAP, vmax)
        b, f = reg_membrane_sel(x, OVF_WRAP, vmax)
        out[i, 2, 1] = (a, e, b, f)
    return out


def _edges(bits: int) -> list[int]:
    h = 1 << (bits - 1)
    pts = []
    for c in (h, 2 * h, 1 << 31, 1 << 32, 1 << 40):
        pts += [c + d for d in range(-3, 4)] + [-c + d for d in range(-3, 4)]
    return pts + [0, 1, -1, (1 << 62), -(1 << 62)]


def _check(xs, cb, mb):
    r = _both(np.asarray(xs, np.int64), np.int64(1) << (cb - 1), (np.int64(1) << (mb - 1)) - 1)
    np.testing.assert_array_equal(r[..., 2:], r[..., :2])
    return r


def test_sel_forms_equal_reference_at_every_limit():
    for cb, mb in ((24, 24), (10, 12), (16, 16), (32, 32)):
        xs = sorted(set(_edges(cb) + _edges(mb)))
        r = _check(xs, cb, mb)
        assert r[..., 1].sum() > 0                       # the edges do reach the limits (events counted)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(1 << 62), 1 << 62), min_size=1, max_size=50), st.sampled_from([(24, 24), (10, 12), (16, 20)]))
def test_sel_forms_equal_reference_random(xs, widths):
    _check(xs, *widths)
