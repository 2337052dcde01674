"""Float64 forward pass over CSR tables (event driven over existing synapses only).

Same equations, summation order and arithmetic as ``kernels.float_forward.forward_float`` (the
reference `neurochip.simulate` runs): inputs then recurrent spikes, presynaptic index ascending,
targets ascending. It only skips the absent synapses, whose dense entries are +0.0; adding +0.0 to a
sum that starts at +0.0 never changes it, so spikes and outputs are bit-identical to the reference
while a sparse network (p = 0.1) costs a tenth of the dense loop.

Event driven like ``kernels.fixed_forward``: the recurrent and readout sums loop over the previous
step's spike list (ascending, so the order of the dense reference is kept), the accumulators are
cleared as the neuron loop reads them, the neuron loop is two passes (the state update, which LLVM
vectorises without reassociating anything, then the spike list), and the kernel is serial and
releases the GIL (``backends.native_float.run_float`` runs slices of the batch on threads). It also counts
per trial what `backends.counts.counts_from_spikes` derives from the spikes (spikes per neuron, input
spikes, active neuron updates), so the backend needs no pass over the recorded spikes.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from .spike_list import spike_pass


@njit(cache=True)
def _trial(b, x, in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, m_ptr, m_idx, w_out_t, beta, alpha, rho, kappa,
           c_in, c_a, c_kappa, v_th, n_ref, record_v, z_out, y_out, v_out, nspk, n_inspk, n_act):
    """Trial ``b`` of `forward_float_csr` (arguments as there)."""
    T, n_in = x.shape[1], x.shape[2]
    n_rec = rec_ptr.shape[0] - 1
    n_out = w_out_t.shape[1]
    v = np.zeros(n_rec)
    a = np.zeros(n_rec)
    r = np.zeros(n_rec, dtype=np.int64)
    zp = np.zeros(n_rec, dtype=np.uint8)              # z^{t-1}, overwritten with z^t by pass 1
    cur = np.zeros(n_rec)
    rec = np.zeros(n_rec)
    got = np.zeros(n_rec, dtype=np.uint8)             # reached by a recurrent spike (steps without input)
    spk = np.zeros(n_rec, dtype=np.int32)             # spike list of the last step, ascending
    n_sp = 0
    y = np.zeros(n_out)
    s = np.zeros(n_out)
    v_scr = np.zeros(n_rec)
    in_dense = in_idx.shape[0] == n_in * n_rec       # W_in dense (csr_by_pre without a mask): row i = 0..n_rec-1
    z_out[b] = 0
    k_tot = 0
    act = 0
    for t in range(T):
        k_in = 0
        for i in range(n_in):                         # input current W_in x^t, inputs ascending
            if x[b, t, i] != 0:                       # x is 0/1: w * 1 == w exactly
                k_in += 1
                p0 = in_ptr[i]
                if in_dense:                          # every target, ascending: a vector loop
                    for q in range(n_rec):
                        cur[uint64(q)] += in_w[uint64(p0 + q)]
                else:                                 # indexed, not sliced: views cost reference-count atomics
                    for q in range(p0, in_ptr[i + 1]):
                        cur[uint64(in_idx[uint64(q)])] += in_w[uint64(q)]
        k_tot += k_in
        for s_ in range(n_sp):                        # recurrent current W_rec z^{t-1}, spikes ascending
            i = spk[s_]
            p0 = rec_ptr[i]
            for q in range(p0, rec_ptr[i + 1]):      # indexed, not sliced (as kernels.fixed_forward)
                rec[uint64(rec_idx[uint64(q)])] += rec_w[uint64(q)]
            if k_in == 0:                             # activity marks (counts) matter only without input
                for q in range(m_ptr[i], m_ptr[i + 1]):
                    got[m_idx[q]] = 1
        v_row = v_out[b, t] if record_v else v_scr
        for j in range(n_rec):                        # pass 1: state update (the reference's operations)
            zpj = zp[j]
            a[j] = rho * a[j] + c_a * zpj
            thr = v_th + beta[j] * a[j]
            vj = alpha * v[j] + c_in * (cur[j] + rec[j]) - v_th * zpj
            cur[j] = 0.0
            rec[j] = 0.0
            v[j] = vj
            refr = r[j] > 0
            zj = 1 if ((not refr) and vj > thr) else 0
            rj = r[j] + n_ref * zj - 1
            r[j] = 0 if rj < 0 else (n_ref if rj > n_ref else rj)
            zp[j] = zj
            v_row[j] = vj
        n_sp, a2 = spike_pass(zp, got, k_in, spk, z_out[b, t])   # pass 2: spike list, activity marks
        act += a2
        for k in range(n_sp):
            nspk[b, spk[k]] += 1
        if k_in > 0:
            act += n_rec
        if n_sp > 0:
            act += n_out
        # readout: the reference sums W_out[k, j] over spiking j ascending, per k
        for k in range(n_out):
            s[k] = 0.0
        for s_ in range(n_sp):
            j = spk[s_]
            for k in range(n_out):
                s[k] += w_out_t[j, k]
        for k in range(n_out):
            y[k] = kappa * y[k] + c_kappa * s[k]
            y_out[b, t, k] = y[k]
    n_inspk[b] = k_tot
    n_act[b] = act


@njit(cache=True, nogil=True)
def forward_float_csr(x, in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, m_ptr, m_idx, w_out_t, beta, alpha, rho,
                      kappa, c_in, c_a, c_kappa, v_th, n_ref, record_v, z_out, y_out, v_out, nspk, n_inspk, n_act):
    """x [B, T, n_in] uint8 (0/1); CSR by presynaptic neuron (float64 weights, unsigned or int32 targets
    ascending); m_ptr/m_idx: the recurrent mask's CSR by presynaptic neuron (activity counts; the same
    arrays as rec_ptr/rec_idx when the structures agree); w_out_t [n_rec, n_out]. Trials in order, GIL
    released. Outputs (preallocated): z_out [B, T, n_rec] uint8 (zeroed here), y_out [B, T, n_out]
    (readout without bias), v_out [B, T, n_rec] when record_v; nspk [B, n_rec] int64 spikes per neuron
    (zeroed by the caller), n_inspk [B] input spikes, n_act [B] active neuron updates (the conventions
    of `backends.counts`)."""
    for b in range(x.shape[0]):
        _trial(b, x, in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, m_ptr, m_idx, w_out_t, beta, alpha, rho, kappa,
               c_in, c_a, c_kappa, v_th, n_ref, record_v, z_out, y_out, v_out, nspk, n_inspk, n_act)
