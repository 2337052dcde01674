"""Pass 2 of the neuron loops (fixed point and float): this step's spike list and activity marks.

Shared by ``kernels.fixed_forward`` and ``kernels.float_csr`` (Numba ``inline='always'``: no call in
the hot loop).
"""
from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def spike_pass(zp, got, k_in, spk, z_row):
    """From this step's spikes zp [n_rec] (0/1): spk[:n] = spiking neurons ascending, z_row[j] = 1 for
    them; on steps without input spikes (k_in == 0) count the active neurons (a recurrent event
    received, got[j], or a spike) and clear got. Returns (n, act)."""
    n = 0
    act = 0
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
