"""`backends.native.pack_rows`: the recurrent table's target and weight in one int32, decoded by the inference
kernel as idx = pk & 0xFFFF and w = pk >> 16. Packed only when both fit; the decoded values are the inputs."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neurochip.backends.native import pack_rows

ints = st.lists(st.tuples(st.integers(0, 70000), st.integers(-40000, 40000)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(pairs=ints)
def test_pack_rows_decodes_to_its_inputs_or_declines(pairs):
    idx = np.array([p[0] for p in pairs], np.int64)
    w = np.array([p[1] for p in pairs], np.int64)
    pk = pack_rows(idx.astype(np.uint32), w.astype(np.int32))
    fits = bool(np.all(idx <= 0xFFFF) and np.all((w >= -(1 << 15)) & (w < (1 << 15))))
    assert pk.dtype == np.int32
    if not fits:
        assert pk.size == 0
        return
    assert pk.size == idx.size
    p64 = pk.astype(np.int64)                  # the kernel's decoding (int32 >> 16 is arithmetic)
    np.testing.assert_array_equal(p64 & 0xFFFF, idx)
    np.testing.assert_array_equal(p64 >> 16, w)


def test_pack_rows_edges():
    idx = np.array([0, 0xFFFF, 7, 0xFFFF], np.uint16)
    w = np.array([-(1 << 15), (1 << 15) - 1, -1, 0], np.int16)
    pk = pack_rows(idx, w).astype(np.int64)
    np.testing.assert_array_equal(pk & 0xFFFF, idx)
    np.testing.assert_array_equal(pk >> 16, w)
    assert pack_rows(np.array([1 << 16]), np.array([0])).size == 0
    assert pack_rows(np.array([3]), np.array([1 << 15])).size == 0
    assert pack_rows(np.zeros(0, np.uint16), np.zeros(0, np.int16)).size == 0
