"""Float64 forward pass over CSR tables (event driven over existing synapses only).

Same equations, summation order and arithmetic as ``kernels.float_forward.forward_float`` (the
reference `neurochip.simulate` runs): inputs then recurrent spikes, presynaptic index ascending,
targets ascending. It only skips the absent synapses, whose dense entries are +0.0; adding +0.0 to a
sum that starts at +0.0 never changes it, so spikes and outputs are bit-identical to the reference
while a sparse network (p = 0.1) costs a tenth of the dense loop.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def forward_float_csr(x, in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, w_out_t, beta, alpha, rho, kappa,
                      c_in, c_a, c_kappa, v_th, gamma, n_ref, record_v, z_out, y_out, v_out):
    """x [B, T, n_in] uint8; CSR by presynaptic neuron (float64 weights); w_out_t [n_rec, n_out].
    Outputs: z_out [B, T, n_rec] uint8, y_out [B, T, n_out] (readout without bias), v_out when record_v."""
    B, T, n_in = x.shape
    n_rec = rec_ptr.shape[0] - 1
    n_out = w_out_t.shape[1]
    for b in prange(B):
        v = np.zeros(n_rec)
        a = np.zeros(n_rec)
        r = np.zeros(n_rec, dtype=np.int64)
        zp = np.zeros(n_rec, dtype=np.uint8)
        cur = np.zeros(n_rec)
        rec = np.zeros(n_rec)
        y = np.zeros(n_out)
        s = np.zeros(n_out)
        for t in range(T):
            cur[:] = 0.0
            for i in range(n_in):
                xi = x[b, t, i]
                if xi != 0:
                    for q in range(in_ptr[i], in_ptr[i + 1]):
                        cur[in_idx[q]] += in_w[q] * xi
            rec[:] = 0.0
            for i in range(n_rec):
                if zp[i]:
                    for q in range(rec_ptr[i], rec_ptr[i + 1]):
                        rec[rec_idx[q]] += rec_w[q]
            for j in range(n_rec):
                a[j] = rho * a[j] + c_a * zp[j]
                thr = v_th + beta[j] * a[j]
                v[j] = alpha * v[j] + c_in * (cur[j] + rec[j]) - v_th * zp[j]
                refr = r[j] > 0
                zj = 0
                if (not refr) and v[j] > thr:
                    zj = 1
                rj = r[j] + n_ref * zj - 1
                r[j] = 0 if rj < 0 else (n_ref if rj > n_ref else rj)
                z_out[b, t, j] = zj
                if record_v:
                    v_out[b, t, j] = v[j]
            for j in range(n_rec):
                zp[j] = z_out[b, t, j]
            # readout: the reference sums W_out[k, j] over spiking j ascending, per k
            s[:] = 0.0
            for j in range(n_rec):
                if zp[j]:
                    for k in range(n_out):
                        s[k] += w_out_t[j, k]
            for k in range(n_out):
                y[k] = kappa * y[k] + c_kappa * s[k]
                y_out[b, t, k] = y[k]
