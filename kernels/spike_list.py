"""Pass 2 of the neuron loops (fixed point and float): this step's spike list and activity marks.

Shared by ``kernels.fixed_forward`` and ``kernels.float_csr`` (Numba ``inline='always'``: no call in
the hot loop).
"""
from __future__ import annotations

from numba import njit

SCAN_BLOCK = 8         # neurons per OR-reduced block of `spike_pass` (int64 z: one AVX-512 vector)


@njit(cache=True, inline="always")
def spike_pass(zp, got, k_in, spk, z_row):
    """From this step's spikes zp [n_rec] (0/1): spk[:n] = spiking neurons ascending, z_row[j] = 1 for
    them; on steps without input spikes (k_in == 0) count the active neurons (a recurrent event
    received, got[j], or a spike) and clear got. Returns (n, act)."""
    n = 0
    act = 0
    if k_in != 0:
        # most steps (an input spiked): no marks, and few neurons spike (~2 % at 20 Hz), so find them block by
        # block: a block's OR is one vector, and only blocks with a spike are scanned. Blocks of 8: 0.15-0.18 ns
        # per neuron against 0.32-0.37 for the scan of every neuron (measured at 1.6 % spiking; blocks of 16 /
        # 64: 0.19-0.22 / 0.38-0.45, as more blocks hold a spike)
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
    for j in range(zp.shape[0]):
        zj = zp[j]
        if k_in == 0:
            act += got[j] | zj
            got[j] = 0
        if zj != 0:
            spk[n] = j
            n += 1
            z_row[j] = 1
    return n, act
