"""Numba kernels of the float learning rules: the backward (adjoint) scan and the sparse
per-sequence sums that turn it into weight gradients.

All rules share one backward recursion over t = T-1 .. 0 (eprop_spec 2.1 / 2.7) producing the
membrane adjoint dv^t [B, T, N] from the learning signal Lhat^t = c_kappa F dy^t + dE_reg/dz
(dE/dz^t through the readout, plus the rate-regulariser term):

    dz^t = Lhat^t + c_a da^{t+1} [adapt] + c_in W_rec^T dv^{t+1} [recurrent] - v_th dv^{t+1} [reset]
    dv^t = psi^t dz^t + alpha dv^{t+1}
    da^t = -beta psi^t dz^t + rho da^{t+1}                       [adapt]

recurrent=reset=adapt=True is exact BPTT; recurrent=reset=False, adapt=True is e-prop (the
adjoint form of the eligibility traces: the own-spike adaptation path is kept, the reset and the
network path are detached); adapt=False drops the adaptation eligibility (RFLO). ``trunc`` = k > 0
zeroes (dv, da) at window boundaries every k steps counted from the end (truncated BPTT).

The gradients are then sums over (b, t) of outer products with sparse 0/1 spikes, done event by
event (only spiking presynaptic entries touch memory): see `accumulate_events`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


def new_out(shape) -> np.ndarray:
    """An uninitialised float64 array for a kernel that writes every element (numpy's allocator: huge pages)."""
    return np.empty(shape, np.float64)


@njit(cache=True)
def readout_adjoint(err, kappa):
    """dy^t = err^t + kappa dy^{t+1} for err [B, T, K] (dE/do^t); returns dy [B, T, K]."""
    B, T, K = err.shape
    dy = np.empty_like(err)
    for b in range(B):
        acc = np.zeros(K)
        for t in range(T - 1, -1, -1):
            for k in range(K):
                acc[k] = err[b, t, k] + kappa * acc[k]
                dy[b, t, k] = acc[k]
    return dy


@njit(cache=True)
def _signal(dy, fct, reg, b, t, L):
    """L = reg + fct^T dy[b, t]: the learning signal of every neuron at one step (vectorised over j)."""
    K, N = fct.shape
    L[:] = reg
    for k in range(K):
        g = dy[b, t, k]
        if g != 0.0:
            for j in range(N):
                L[j] += fct[k, j] * g


@njit(cache=True)
def _update(psi, L, rec, t, b, dv, da, out, beta, alpha, rho, c_in, c_a, v_th, reset, adapt, recurrent):
    N = dv.shape[0]
    for j in range(N):
        dz = L[j]
        if recurrent:
            dz += c_in * rec[j]
        if adapt:
            dz += c_a * da[j]
        if reset:
            dz -= v_th * dv[j]
        p = psi[b, t, j]
        dv[j] = p * dz + alpha * dv[j]
        if adapt:
            da[j] = -beta[j] * p * dz + rho * da[j]
        out[b, t, j] = dv[j]


@njit(cache=True, parallel=True)
def scan_local(psi, dy, fct, reg, beta, alpha, rho, c_a, v_th, reset, adapt, trunc, out):
    """Backward scan without the network path: trials are independent, so threads own trials and
    stream psi[b] backwards. psi [B, T, N]; dy [B, T, K] readout adjoint; fct = (c_kappa F)^T [K, N];
    reg [N] dE_reg/dz. Writes every element of ``out`` [B, T, N] float64 (dv) and returns it. The learning
    signal Lhat^t = fct^T dy^t + reg is formed on the fly (no [B, T, N] temporary).

    ``out`` comes from the caller (`np.empty`, see `new_out`): an array allocated inside a Numba kernel
    is first-touched page by page (4 KiB faults), which at [32, 1000, 256] float64 cost ~1.2 ms per trial,
    half the scan; numpy's allocator asks the kernel for huge pages."""
    B, T, N = psi.shape
    for b in prange(B):
        dv = np.zeros(N)
        da = np.zeros(N)
        L = np.empty(N)
        rec = np.zeros(0)
        for t in range(T - 1, -1, -1):
            if trunc > 0 and t != T - 1 and (T - 1 - t) % trunc == 0:
                dv[:] = 0.0  # window boundary: no credit flows into the previous window
                da[:] = 0.0
            _signal(dy, fct, reg, b, t, L)
            _update(psi, L, rec, t, b, dv, da, out, beta, alpha, rho, 0.0, c_a, v_th, reset, adapt, False)
    return out


@njit(cache=True)
def _scan_step(psi, dy, fct, reg, t, rec, dv, da, out, beta, alpha, rho, c_in, c_a, v_th, reset, adapt):
    # Serial on purpose: B*N elementwise work is small next to the per-step GEMM, and a parallel
    # region launched every step costs more than it saves on a shared machine.
    B, N = dv.shape
    L = np.empty(N)
    for b in range(B):
        _signal(dy, fct, reg, b, t, L)
        _update(psi, L, rec[b], t, b, dv[b], da[b], out, beta, alpha, rho, c_in, c_a, v_th, reset, adapt, True)


@njit(cache=True)
def scan_full(psi, dy, fct, reg, w_rec, beta, alpha, rho, c_in, c_a, v_th, reset, adapt, trunc, out):
    """Backward scan with the network path c_in W_rec^T dv^{t+1} (BPTT). One [B, N] x [N, N] BLAS
    product per step (rec = dv^{t+1} W_rec, i.e. rec_j = sum_l W_rec[l, j] dv_l); w_rec is [post, pre].
    Arguments as `scan_local`; writes and returns dv in ``out`` [B, T, N]."""
    B, T, N = psi.shape
    dv = np.zeros((B, N))
    da = np.zeros((B, N))
    rec = np.zeros((B, N))
    for t in range(T - 1, -1, -1):
        if trunc > 0 and t != T - 1 and (T - 1 - t) % trunc == 0:
            dv[:, :] = 0.0
            da[:, :] = 0.0
        np.dot(dv, w_rec, rec)
        _scan_step(psi, dy, fct, reg, t, rec, dv, da, out, beta, alpha, rho, c_in, c_a, v_th, reset, adapt)
    return out


@njit(cache=True, parallel=True)
def accumulate_events(pre, d, shift, n_chunks):
    """G[i, :] = sum_{b, t} pre[b, t, i] * d[b, t + shift, :]  (t + shift < T); returns G [M, N].

    pre [B, T, M] (0/1 spikes as uint8, or graded float64 inputs) is sparse: only non-zero entries
    add a row of d. Threads own disjoint blocks of presynaptic indices i, so no write conflicts.
    shift = 1 pairs z^{t-1} with dv^t (recurrent weights); 0 pairs x^t / z^t with the same step.
    """
    B, T, M = pre.shape
    N = d.shape[2]
    G = np.zeros((M, N))
    size = (M + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        _accumulate_block(pre, d, shift, G, c * size, min(M, c * size + size))
    return G


@njit(cache=True)
def _accumulate_block(pre, d, shift, G, i0, i1):
    """Rows i0..i1-1 of `accumulate_events`, serially: the same loop inside the parallel region ran 1.3-2.7x
    slower (session 11, 1 thread: 0.75 vs 0.27 ms per trial for the readout sums at N = 256), so the
    parallel loop only hands out blocks. Order per G[i, j]: (b, t) ascending, as before."""
    B, T, M = pre.shape
    N = d.shape[2]
    for b in range(B):
        for t in range(T - shift):
            for i in range(i0, i1):
                p = pre[b, t, i]
                if p != 0:
                    for j in range(N):
                        G[i, j] += p * d[b, t + shift, j]
