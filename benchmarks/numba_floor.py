"""A plain Numba LIF loop, the "floor" row of the inference benchmarks: no fixed point, no event counting,
no options; what a user would write by hand for one network. It shows how much of native's time is
per-call overhead, fixed-point bookkeeping and counting rather than the synaptic work itself.

Semantics: neurochip's float LIF (reset by subtraction one step later, refractoriness n_ref, readout
``y = kappa y + c_kappa W_out z``), c_in = 1, float32 weights and state, input and recurrent weights
stored by presynaptic neuron (CSR: int32 targets, float32 values), event driven over the previous
step's spike list. Spikes agree with neurochip.simulate (float64) up to float32 rounding.
"""
from __future__ import annotations

import numpy as np
from numba import njit


def tables(net):
    """(in_ptr, in_tgt, in_w, rec_ptr, rec_tgt, rec_w, w_out_t) from a float Network ([post, pre] weights)."""
    def csr(w):                                            # by presynaptic neuron = columns of [post, pre]
        nz = w.T != 0
        ptr = np.concatenate([[0], np.cumsum(nz.sum(1))]).astype(np.int64)
        pre, post = np.nonzero(nz)
        return ptr, post.astype(np.int32), w.T[pre, post].astype(np.float32)
    return (*csr(net.w_in), *csr(net.w_rec), np.ascontiguousarray(net.w_out.T, np.float32))


@njit(cache=True, nogil=True)
def lif_floor(x, in_ptr, in_tgt, in_w, rec_ptr, rec_tgt, rec_w, w_out_t, alpha, v_th, n_ref, kappa, c_kappa):
    """x [T, n_in] uint8 -> (z [T, N] uint8, y [T, n_out] float32)."""
    T, n_in = x.shape
    N, n_out = w_out_t.shape
    v = np.zeros(N, np.float32)
    acc = np.zeros(N, np.float32)
    rst = np.zeros(N, np.float32)                          # v_th where z^{t-1} = 1, else 0
    r = np.zeros(N, np.int32)
    spk = np.zeros(N, np.int32)
    y = np.zeros(n_out, np.float32)
    z = np.zeros((T, N), np.uint8)
    ys = np.zeros((T, n_out), np.float32)
    ns = 0
    for t in range(T):
        for i in range(n_in):                              # input spikes -> currents
            if x[t, i]:
                for k in range(in_ptr[i], in_ptr[i + 1]):
                    acc[in_tgt[k]] += in_w[k]
        for s in range(ns):                                # previous step's spikes -> currents
            j = spk[s]
            for k in range(rec_ptr[j], rec_ptr[j + 1]):
                acc[rec_tgt[k]] += rec_w[k]
        for j in range(N):                                 # reset by subtraction of z^{t-1}
            v[j] = alpha * v[j] + acc[j] - rst[j]
            acc[j] = 0.0
            rst[j] = 0.0
        ns = 0
        for j in range(N):
            if r[j] == 0 and v[j] > v_th:
                z[t, j] = 1
                rst[j] = v_th
                spk[ns] = j
                ns += 1
                r[j] = n_ref
            r[j] = max(r[j] - 1, 0)
        for k in range(n_out):
            y[k] *= kappa
        for s in range(ns):
            for k in range(n_out):
                y[k] += c_kappa * w_out_t[spk[s], k]
        ys[t] = y
    return z, ys
