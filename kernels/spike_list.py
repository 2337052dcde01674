"""Pass 2 of the neuron loops (fixed point and float): this step's spike list and activity marks.

Shared by ``kernels.fixed_forward`` and ``kernels.float_csr`` (Numba ``inline='always'``: no call in
the hot loop).
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64
from numba.cpython.unsafe.numbers import trailing_zeros

SCAN_BLOCK = 8         # neurons per OR-reduced block of `spike_pass` (int64 z: one AVX-512 vector)


@njit(cache=True, inline="always")
def count_active(got, zp, n):
    """Of neurons 0..n-1, those that received a recurrent event (got[j]) or spiked (zp[j], 0/1): the activity
    count of a step without input spikes. Clears got. One loop without a branch, so it vectorises."""
    act = 0
    for j in range(n):
        act += got[j] | zp[j]
        got[j] = 0
    return act


@njit(cache=True, inline="always")
def spike_pass(zp, got, k_in, spk, z_row):
    """From this step's spikes zp [n_rec] (0/1): spk[:n] = spiking neurons ascending, z_row[j] = 1 for
    them; on steps without input spikes (k_in == 0) count the active neurons (a recurrent event
    received, got[j], or a spike) and clear got. Returns (n, act)."""
    n = 0
    act = 0
    if k_in == 0:
        # a step without input spikes (~13 % of the steps at 20 Hz on 100 inputs): the active neurons counted and
        # the marks cleared in a loop of its own that vectorises; the spike list below as on every step (one
        # loop doing all three, with a branch per neuron, measured in the kernel: N = 1024, p = 0.1 2.15 -> 2.12
        # ms a trial; N = 256 0.41 -> 0.40)
        act = count_active(got, zp, zp.shape[0])
    # few neurons spike (~2 % at 20 Hz), so find them block by block: a block's OR is one vector, and only
    # blocks with a spike are scanned. Blocks of 8: 0.15-0.18 ns per neuron against 0.32-0.37 for the scan of
    # every neuron (measured at 1.6 % spiking; blocks of 16 / 64: 0.19-0.22 / 0.38-0.45, as more blocks hold a
    # spike)
    N = zp.shape[0]
    nb = N // SCAN_BLOCK
    for blk in range(nb):
        j0 = blk * SCAN_BLOCK
        s = zp[j0] * 0
        for j in range(SCAN_BLOCK):
            s |= zp[j0 + j]
        if s != 0:
            for j in range(j0, j0 + SCAN_BLOCK):
                if zp[j] != 0:
                    spk[n] = j
                    n += 1
                    z_row[j] = 1
    for j in range(nb * SCAN_BLOCK, N):
        if zp[j] != 0:
            spk[n] = j
            n += 1
            z_row[j] = 1
    return n, act


@njit(cache=True, inline="always")
def spike_words(zp, zw, got, k_in, spk, z_row):
    """`spike_pass` for spikes held as bytes: zp uint8 [n_pad] (0/1; n_pad = n_rec rounded up to 8, the pad
    bytes 0) and ``zw`` its uint64 view (8 neurons a word). z_row [n_rec] is written whole (a copy of
    zp[:n_rec], not one store a spike), so the caller need not zero the raster. Returns (n, act) as
    `spike_pass`.

    The spike list comes from the words: a word without a spike is one load and one test, and a word's spikes
    are its set bytes, lowest first (trailing zeros / 8), so the list is ascending. The int32 block scan of
    `spike_pass` compiled to eight scalar loads and a branch per block of 8 (~29 % of the LIF loop's time at
    N = 1024, sampled with perf)."""
    n_rec = z_row.shape[0]
    act = 0
    if k_in == 0:                                     # as spike_pass: count the active neurons, clear the marks
        act = count_active(got, zp, n_rec)
    n = 0
    for w in range(zw.shape[0]):
        word = zw[w]
        while word != 0:
            spk[n] = w * 8 + (np.int64(trailing_zeros(word)) >> 3)
            n += 1
            word &= word - uint64(1)                  # each byte is 0 or 1: clears that spike's bit
    for j in range(n_rec):                            # the raster row (vectorised copy)
        z_row[j] = zp[j]
    return n, act
