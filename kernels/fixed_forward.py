"""Fixed-point inference: LIF/ALIF recurrent layer + leaky readout, event driven, exactly as
docs/fixed_point.md (int64 arithmetic in registers; stored widths from the chip profile).

Propagation is by presynaptic neuron over CSR tables built once per run (``kernels.csr``): a step
costs (input spikes + recurrent spikes) x fan-out plus one pass over the neurons. Every trial of the
batch is independent (``prange``); counts are written per trial into ``cnt[b, :]`` (columns ``C_*``)
and per-core arrays, and summed by the backend into `EventCounts`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .fixed_ops import floor_shift, trunc_decay

# columns of the per-trial count array
C_SPIKES, C_INPUT_SPIKES, C_SYN_OPS, C_PACKETS, C_HOPS, C_SATURATIONS, C_ACTIVE = range(7)
N_COUNTS = 7


@njit(cache=True, inline="always")
def neuron_step(j, acc_in, acc_rec, e_in, e_rec, u, v, a, r, zp, bias, beta_mant, beta_shift, a_inc,
                du, dv, da, D, S, vth_eff, n_ref, subtract, half_c, vmax, has_u, adaptive):
    """One recurrent neuron j, one step (docs/fixed_point.md "Recurrent neuron"); updates u, v, a, r
    in place and returns (z, saturations, dist) with dist = max(0, vth_eff - |v - A|) before any reset
    (0 while refractory: the integer pseudo-derivative before its shift). acc_* are this step's raw
    mantissa sums (int64)."""
    sat = 0
    cur = floor_shift(acc_in[j], e_in) + floor_shift(acc_rec[j], e_rec)   # exponent on each sum (Dense)
    uj = cur << S                                                         # input MSB-aligned by S bits
    if has_u:                                                             # du = 2^D - 1: no current memory
        uj += trunc_decay(u[j], du + 1, D)
    if uj > half_c:                                                       # lava's single wrap of u
        uj -= 2 * half_c
        sat += 1
    elif uj <= -half_c:
        uj += 2 * half_c
        sat += 1
    vj = trunc_decay(v[j], dv, D) + uj + bias[j]
    if subtract and zp[j]:
        vj -= vth_eff                                                     # reset by subtraction of z^{t-1}
    if vj > vmax:                                                         # symmetric saturation of v
        vj = vmax
        sat += 1
    elif vj < -vmax:
        vj = -vmax
        sat += 1
    thr = vth_eff
    aj = 0
    if adaptive:                                                          # LIF: a stays 0, A = vth_eff
        aj = trunc_decay(a[j], da, D) + a_inc * zp[j]                     # adaptation, a >= 0
        thr += (beta_mant[j] * aj) >> beta_shift
    refr = r[j] > 0
    z = 1 if (vj > thr and not refr) else 0                               # strict >, as lava
    dist = 0
    if not refr:
        dd = vj - thr
        dist = vth_eff - (dd if dd >= 0 else -dd)
        if dist < 0:
            dist = 0
    rj = r[j] + n_ref * z - 1
    r[j] = 0 if rj < 0 else (n_ref if rj > n_ref else rj)
    if z == 1 and not subtract:
        vj = 0                                                            # hard reset, same step
    u[j] = uj
    v[j] = vj
    if adaptive:
        a[j] = aj
    return z, sat, dist


@njit(cache=True, parallel=True)
def forward_fixed(x, in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, w_out_t,
                  e_in, e_rec, e_out, du, dv, da, dk, D, S, vth, bias, beta_mant, beta_shift, a_inc,
                  n_ref, subtract, cur_bits, mem_bits,
                  core_of, dest_ptr, dest_core, dest_syn, dest_hops, in_core_syn, n_cores,
                  record_v, z_out, y_out, v_out, cnt, core_syn, c2c):
    """Simulate a batch in fixed point.

    x [B, T, n_in] uint8 (0/1); in_ptr/in_idx/in_w: CSR of W_in by input (pre) -> recurrent targets
    (idx int32, w int16/int32 mantissas); rec_*: CSR of W_rec by presynaptic recurrent neuron (existing
    synapses only, ascending target); w_out_t [n_rec, n_out] readout mantissas by presynaptic neuron.
    Routing: for recurrent neuron i, dest_ptr[i]..dest_ptr[i+1] list its destination cores (dest_core),
    the synapses it reaches there (dest_syn) and the hops (dest_hops); in_core_syn [n_cores]: recurrent
    neurons per core (synaptic ops one input spike causes on each core).
    Outputs (preallocated): z_out [B, T, n_rec] uint8; y_out [B, T, n_out] int64 readout state;
    v_out [B, T, n_rec] int64 when record_v; cnt [B, N_COUNTS]; core_syn [B, n_cores];
    c2c [B, n_cores, n_cores] packets.
    """
    B, T, n_in = x.shape
    n_rec = rec_ptr.shape[0] - 1
    n_out = w_out_t.shape[1]
    vth_eff = np.int64(vth) << S                      # threshold MSB-aligned with v
    half_c = np.int64(1) << (cur_bits - 1)
    vmax = (np.int64(1) << (mem_bits - 1)) - 1
    has_u = du + 1 != (1 << D)
    adaptive = a_inc != 0 or da != 0
    for b in prange(B):
        u = np.zeros(n_rec, np.int64)
        v = np.zeros(n_rec, np.int64)
        a = np.zeros(n_rec, np.int64)
        r = np.zeros(n_rec, np.int64)
        zp = np.zeros(n_rec, np.int64)
        z = np.zeros(n_rec, np.int64)
        acc_in = np.zeros(n_rec, np.int64)
        acc_rec = np.zeros(n_rec, np.int64)
        got = np.zeros(n_rec, np.uint8)
        acc_out = np.zeros(n_out, np.int64)
        y = np.zeros(n_out, np.int64)
        nspk = np.zeros(n_rec, np.int64)
        n_spk = 0
        n_inspk = 0
        syn = 0
        pk = 0
        hp = 0
        sat = 0
        act = 0
        for t in range(T):
            acc_in[:] = 0
            acc_rec[:] = 0
            got[:] = 0
            k_in = 0
            for i in range(n_in):                     # input spikes x^t, ascending
                if x[b, t, i] != 0:
                    k_in += 1
                    for q in range(in_ptr[i], in_ptr[i + 1]):
                        acc_in[in_idx[q]] += in_w[q]
                    syn += in_ptr[i + 1] - in_ptr[i]
            n_inspk += k_in
            for i in range(n_rec):                    # recurrent spikes z^{t-1}, ascending
                if zp[i] != 0:
                    for q in range(rec_ptr[i], rec_ptr[i + 1]):
                        acc_rec[rec_idx[q]] += rec_w[q]
                        got[rec_idx[q]] = 1
            for j in range(n_rec):
                zj, s, _d = neuron_step(j, acc_in, acc_rec, e_in, e_rec, u, v, a, r, zp, bias, beta_mant,
                                    beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref, subtract, half_c, vmax,
                                    has_u, adaptive)
                z[j] = zj
                sat += s
                if k_in > 0 or got[j] != 0 or zj != 0:
                    act += 1
                z_out[b, t, j] = zj
                if record_v:
                    v_out[b, t, j] = v[j]
            # readout: z^t reaches the leaky readout the same step
            acc_out[:] = 0
            any_z = False
            for i in range(n_rec):
                if z[i] != 0:
                    any_z = True
                    n_spk += 1
                    for k in range(n_out):
                        acc_out[k] += w_out_t[i, k]
                    syn += (rec_ptr[i + 1] - rec_ptr[i]) + n_out
                    nspk[i] += 1                      # routing counts from per-neuron totals below
            if any_z:
                act += n_out
            for k in range(n_out):
                yk = trunc_decay(y[k], dk, D) + (floor_shift(acc_out[k], e_out) << S)
                if yk > vmax:
                    yk = vmax
                    sat += 1
                elif yk < -vmax:
                    yk = -vmax
                    sat += 1
                y[k] = yk
                y_out[b, t, k] = yk
            for j in range(n_rec):
                zp[j] = z[j]
        # Routing counts are linear in each neuron's spike count: one packet per spike per destination core
        # (multicast by core), so they are summed once per trial instead of once per spike.
        for c in range(n_cores):
            core_syn[b, c] += n_inspk * in_core_syn[c]
        for i in range(n_rec):
            ni = nspk[i]
            if ni > 0:
                src = core_of[i]
                for q in range(dest_ptr[i], dest_ptr[i + 1]):
                    c = dest_core[q]
                    c2c[b, src, c] += ni
                    core_syn[b, c] += ni * dest_syn[q]
                    hp += ni * dest_hops[q]
                pk += ni * (dest_ptr[i + 1] - dest_ptr[i])
        cnt[b, C_SPIKES] = n_spk
        cnt[b, C_INPUT_SPIKES] = n_inspk
        cnt[b, C_SYN_OPS] = syn
        cnt[b, C_PACKETS] = pk
        cnt[b, C_HOPS] = hp
        cnt[b, C_SATURATIONS] = sat
        cnt[b, C_ACTIVE] = act
