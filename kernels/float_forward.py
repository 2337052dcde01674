"""Float64 forward pass of the LIF/ALIF recurrent layer and leaky readout (the reference semantics).

Event-driven: only presynaptic neurons (and inputs) active at a step touch their fan-out, read from
the pre-major (transposed) weight matrices ``w_in_t [n_in, n_rec]`` and ``w_rec_t [n_rec, n_rec]``.
Summation order is fixed (presynaptic index ascending, input current then recurrent current) so the
brian2 reference, which adds synapses in presynaptic order, can reproduce it bit for bit.
Equations: see `neurochip.network` (index convention of the reference code's ``EligALIF``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def forward_float(x, w_in_t, w_rec_t, w_out, beta, alpha, rho, kappa, c_in, c_a, c_kappa,
                  v_th, gamma, n_ref, record_v, z_out, psi_out, y_out, v_out, a_out):
    """Simulate a batch.

    x:       [B, T, n_in] float64 or uint8 input spikes (any real value is a graded input)
    w_in_t:  [n_in, n_rec] float64 (pre-major); w_rec_t [n_rec, n_rec] (pre-major, zero diagonal)
    w_out:   [n_out, n_rec]; beta [n_rec]
    outputs (preallocated): z_out [B,T,n_rec] uint8, psi_out [B,T,n_rec] float64,
             y_out [B,T,n_out] float64 (filtered readout without bias),
             v_out / a_out [B,T,n_rec] float64 when record_v (else shape [0,0,0]).
    """
    B, T, n_in = x.shape
    n_rec = w_rec_t.shape[0]
    n_out = w_out.shape[0]
    for b in prange(B):
        v = np.zeros(n_rec)
        a = np.zeros(n_rec)
        r = np.zeros(n_rec, dtype=np.int64)
        zp = np.zeros(n_rec, dtype=np.uint8)
        act = np.empty(n_rec, dtype=np.int64)   # indices of the neurons that spiked last step, ascending
        n_act = 0
        cur = np.zeros(n_rec)
        rec = np.zeros(n_rec)
        y = np.zeros(n_out)
        for t in range(T):
            # input current W_in x^t, inputs in ascending order
            cur[:] = 0.0
            for i in range(n_in):
                xi = x[b, t, i]
                if xi != 0:
                    for j in range(n_rec):
                        cur[j] += w_in_t[i, j] * xi
            # recurrent current W_rec z^{t-1}, spiking neurons in ascending order
            rec[:] = 0.0
            for q in range(n_act):
                i = act[q]
                for j in range(n_rec):
                    rec[j] += w_rec_t[i, j]
            for j in range(n_rec):
                a[j] = rho * a[j] + c_a * zp[j]
                thr = v_th + beta[j] * a[j]
                v[j] = alpha * v[j] + c_in * (cur[j] + rec[j]) - v_th * zp[j]
                refr = r[j] > 0
                zj = 0
                if (not refr) and v[j] > thr:
                    zj = 1
                if refr:
                    psi_out[b, t, j] = 0.0
                else:
                    d = 1.0 - abs(v[j] - thr) / v_th
                    psi_out[b, t, j] = gamma / v_th * d if d > 0.0 else 0.0
                rj = r[j] + n_ref * zj - 1
                r[j] = 0 if rj < 0 else (n_ref if rj > n_ref else rj)
                z_out[b, t, j] = zj
                if record_v:
                    v_out[b, t, j] = v[j]
                    a_out[b, t, j] = a[j]
            # the spike list: the readout and next step's recurrent current visit only the neurons that
            # spiked (~3 % of them at 30 Hz), in ascending order, so every sum keeps its order and its bits
            n_act = 0
            for j in range(n_rec):
                zp[j] = z_out[b, t, j]
                if zp[j]:
                    act[n_act] = j
                    n_act += 1
            for k in range(n_out):
                s = 0.0
                for q in range(n_act):
                    s += w_out[k, act[q]]
                y[k] = kappa * y[k] + c_kappa * s
                y_out[b, t, k] = y[k]
