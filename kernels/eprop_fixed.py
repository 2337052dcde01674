"""On-chip e-prop in fixed point: forward pass (the same integer neuron as ``fixed_forward``) plus
presynaptic traces, integer pseudo-derivative, learning signal through the quantised feedback B,
eligibility (per synapse, or factorised pre x post), weight accumulation and application at
learning-epoch boundaries with nearest or counter-based stochastic rounding, readout learning.

Semantics: docs/fixed_point.md "Learning (on-chip e-prop)"; constants from `compiler.lower_rule`.
State is O(synapses + neurons), never O(T): memory is flat in the trial length.

Per-synapse state arrays (ebar, h, acc) are aligned with the CSR-by-presynaptic-neuron weight arrays,
so every loop walks one contiguous fan-out. Trials run in order (weights change between them), on one core.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from .fixed_forward import (C_ACTIVE, C_HOPS, C_INPUT_SPIKES, C_PACKETS, C_SATURATIONS, C_SPIKES, C_SYN_OPS,
                            neuron_step, readout_step)
from .fixed_ops import round_shift, splitmix64, stoch_shift

# learning count columns (after the inference ones)
L_TRACE, L_WUPD, L_LSMSG, L_LSHOPS, L_LSMACS, L_BITS_R, L_BITS_W, L_SAT, L_CLIP = range(7, 16)
N_LCOUNTS = 16
STREAM_TRACE, STREAM_W_IN, STREAM_W_REC, STREAM_W_OUT, STREAM_ELIG_IN, STREAM_ELIG_REC = 1, 2, 3, 4, 5, 6


@njit(cache=True, inline="always")
def _key(seed, stream, a, b):
    """Counter for the hash generator from (seed, stream, a, b): distinct for distinct tuples up to
    2^20 streams x seeds and (a, b) < 2^44 x ..., mixed again by splitmix64 in stoch_shift."""
    k = splitmix64(uint64(seed) * uint64(0x100000) + uint64(stream))
    return splitmix64(k + uint64(a) * uint64(0x9E3779B97F4A7C15)) + uint64(b)


@njit(cache=True, inline="always")
def _decay_trace(x, d, D, stochastic, key):
    """Leak a non-negative trace by a D-bit decay: truncation, or stochastic rounding (unbiased)."""
    p = x * ((1 << D) - d)
    if stochastic:
        return stoch_shift(p, D, key)
    return p >> D


@njit(cache=True)
def _zero(a):
    """a[:] = 0 as a plain loop (per-step scratch)."""
    for k in range(a.shape[0]):
        a[k] = 0


@njit(cache=True, inline="always")
def _clip(x, m):
    if x > m:
        return m, 1
    if x < -m:
        return -m, 1
    return x, 0


@njit(cache=True, inline="always")
def _rnd(x, k):
    """round_shift without branches on the sign (k > 0): (x + 2^(k-1) - [x < 0]) >> k, ties away from 0."""
    return (x + (np.int64(1) << (k - 1)) + (x >> 63)) >> k


@njit(cache=True, inline="always")
def _srnd(x, k, r):
    """stoch_shift(x, k, key) given r = splitmix64(key): floor((x + top k bits of r) / 2^k)."""
    if k <= 0:
        return x << (-k)
    return (x + np.int64(r >> uint64(64 - k))) >> k


@njit(cache=True, inline="always")
def _tdec(x, dec, D):
    """trunc_decay without branches: trunc0(x dec / 2^D) = (p + [p < 0] (2^D - 1)) >> D, p = x dec."""
    p = x * dec
    return (p + ((p >> 63) & ((np.int64(1) << D) - 1))) >> D


@njit(cache=True, inline="always")
def _rsh(x, k):
    """round_shift(x, k) for any k, branch-free in x."""
    return _rnd(x, k) if k > 0 else x << (-k)


@njit(cache=True)
def _acc_outer_row(ac, ptr, idx, fac, i, pre, lm, sh, amax):
    """Factorised accumulation over presynaptic row i: ac[q] = clip(ac[q] + rnd(fac[idx[q]] pre lm >> sh)).

    No branch on a zero factor (it adds rnd(0) = 0, exactly as skipping it; the post factor is non-zero
    on about half the neurons, so such a branch mispredicts); the clip branch is rare and predictable.
    Row slices and unsigned gathers spare Numba's negative-index checks (~2x on this loop). ac is int32
    or int64 storage; arithmetic in int64. Returns the number of clips."""
    a = ptr[i]
    n = ptr[i + 1] - a
    acr = ac[a:a + n]
    ir = idx[a:a + n]
    P = pre * lm
    sat = 0
    if n == fac.shape[0] and sh > 0:
        # full row (ascending, unique targets: ir[k] == k), e.g. a dense input projection: no gather and
        # a branch-free clip, so the loop vectorises (~3x)
        for k in range(n):
            s = np.int64(acr[k]) + _rnd(fac[k] * P, sh)
            c = min(max(s, -amax), amax)
            sat += c != s
            acr[k] = c
        return sat
    for k in range(n):
        x = fac[np.uint32(ir[k])] * P
        s, c1 = _clip(np.int64(acr[k]) + (_rnd(x, sh) if sh > 0 else x << (-sh)), amax)
        sat += c1
        acr[k] = s
    return sat


@njit(cache=True)
def _elig_row(eb, hh, ac, ptr, idx, i, pre, prep, psi, L, qj, adapt, stoch, key0, e_shift, dk, da, D, q_frac,
              emax, amax, lm, lsh, rbuf):
    """Per-synapse eligibility and accumulation over presynaptic row i (docs/fixed_point.md, per_synapse).

    Stochastic rounding draws splitmix64(key0 + q) for e_q and splitmix64(key0 + q + 1) for the ebar
    decay of synapse q (``_key(seed, stream, step, q)`` = key0 + q); the decay draw of q is the e draw
    of q + 1, so along a row each hash is computed once, in a first loop that vectorises (rbuf: scratch
    uint64 of at least the row length + 1). Returns the number of clips."""
    a = ptr[i]
    n = ptr[i + 1] - a
    ir = idx[a:a + n]
    ebr = eb[a:a + n]
    acr = ac[a:a + n]
    hr = hh[a:a + n] if adapt else hh
    dec = (np.int64(1) << D) - dk
    sat = 0
    if stoch:
        for k in range(n + 1):
            rbuf[k] = splitmix64(key0 + uint64(a + k))
    for k in range(n):
        # no branch on the sign of products or on L_j = 0 (adds 0; the clip of an in-range value is a
        # no-op): both vary synapse to synapse and would mispredict
        j = np.uint32(ir[k])
        hq = np.int64(0)
        if adapt:
            hold = np.int64(hr[k])
            hq = _tdec(hold, (np.int64(1) << D) - da, D) + _rsh(qj[j] * (prep - hold), q_frac)
            hr[k] = hq
        if stoch:
            e = _srnd(psi[j] * (pre - hq), e_shift, rbuf[k])
            ebv = _srnd(np.int64(ebr[k]) * dec, D, rbuf[k + 1]) + e
        else:
            e = _rsh(psi[j] * (pre - hq), e_shift)
            ebv = _tdec(np.int64(ebr[k]), dec, D) + e
        ec = min(max(ebv, -emax), emax)
        sat += ec != ebv
        ebr[k] = ec
        s = np.int64(acr[k]) + _rsh(L[j] * ec * lm, lsh)
        c = min(max(s, -amax), amax)
        sat += c != s
        acr[k] = c
    return sat


@njit(cache=True)
def _apply(w, acc, frac, stochastic, seed, stream, epoch, w_min, w_max, cnt):
    """w -= round(acc / 2^frac) (nearest or stochastic from (seed, stream, epoch, synapse)); clip; acc = 0."""
    for q in range(w.shape[0]):
        a = acc[q]
        if a == 0:
            continue
        if stochastic:
            d = stoch_shift(a, frac, _key(seed, stream, epoch, q))
        else:
            d = round_shift(a, frac)
        acc[q] = 0
        if d != 0:
            nw = w[q] - d
            if nw > w_max:
                nw = w_max
                cnt[L_CLIP] += 1
            elif nw < w_min:
                nw = w_min
                cnt[L_CLIP] += 1
            if nw != w[q]:
                w[q] = nw
                cnt[L_WUPD] += 1


def _learn_trials(x, order, tgt, labels, mask, loss_kind, b_out, scale_out,
                 in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, w_out_t,
                 e_in, e_rec, e_out, du, dv, da, dk, D, S, vth, bias, beta_mant, beta_shift, a_inc,
                 n_ref, subtract, cur_bits, mem_bits,
                 per_synapse, adapt, psi_const, trace_stoch, w_stoch, seed, epoch_steps, apply_every,
                 elig_bits, ls_bits, err_bits, acc_bits, frac, pre_inc_in, pre_inc_rec, kap_inc,
                 psi_shift, e_shift, m_shift, q_frac, qa_shift, qa_mant, B_mant, l_shift, err_scale,
                 lr_mant, lr_shift, train_in, train_rec, train_out, w_min, w_max,
                 core_of, dest_ptr, dest_core, dest_syn, dest_hops, in_core_syn, ls_hops_total, n_cores,
                 trial0, apply0, record_z, z_out, y_out, loss_out, cnt, core_syn, c2c, ac_store):
    """Learn on trials ``order`` (indices into x [B, T, n_in] uint8), in order.

    Targets: loss_kind 0 = MSE with tgt [B, T, n_out] float64, 1 = CE with labels [B, T] int64; mask
    [B, T] uint8 (steps where the error counts). Outputs o = y / scale_out + b_out (float, off-core).
    Weights (mutated in place): in_w, rec_w (int32, CSR by pre, aligned with in_idx / rec_idx),
    w_out_t [n_rec, n_out] int64. Weight changes are applied every ``apply_every`` trials and, if
    epoch_steps > 0, also every epoch_steps steps.
    trial0 / apply0: global trial and weight-application counters of the first trial (keys of the
    stochastic-rounding generator, so successive calls never reuse a draw). Returns the next apply0.
    Records: z_out [n, T, n_rec] uint8 if record_z, y_out [n, T, n_out] int64, loss_out [n] float64
    (task loss of each trial: 1/2 sum of squared errors, or mean CE over masked steps); counts into
    cnt [N_LCOUNTS], core_syn [n_cores], c2c [n_cores, n_cores]. ac_store [nnz_in + nnz_rec]: accumulator
    storage (int32 when acc_bits <= 32, else int64; arithmetic is int64 either way).
    """
    B, T, n_in = x.shape
    n_rec = rec_ptr.shape[0] - 1
    n_out = w_out_t.shape[1]
    nnz_in = in_idx.shape[0]
    nnz_rec = rec_idx.shape[0]
    vth_eff = np.int64(vth) << S
    half_c = np.int64(1) << (cur_bits - 1)
    vmax = (np.int64(1) << (mem_bits - 1)) - 1
    emax = (np.int64(1) << (elig_bits - 1)) - 1
    lmax = (np.int64(1) << (ls_bits - 1)) - 1
    errmax = (np.int64(1) << (err_bits - 1)) - 1
    amax = (np.int64(1) << (acc_bits - 1)) - 1
    has_u = du + 1 != (1 << D)
    adaptive_n = a_inc != 0 or da != 0
    # state
    u = np.zeros(n_rec, np.int64)
    v = np.zeros(n_rec, np.int64)
    a = np.zeros(n_rec, np.int64)
    r = np.zeros(n_rec, np.int64)
    zp = np.zeros(n_rec, np.int64)
    z = np.zeros(n_rec, np.int64)
    acc_in = np.zeros(n_rec, np.int64)
    acc_rc = np.zeros(n_rec, np.int64)
    got = np.zeros(n_rec, np.uint8)
    nspk = np.zeros(n_rec, np.int64)
    acc_o = np.zeros(n_out, np.int64)
    y = np.zeros(n_out, np.int64)
    xbar = np.zeros(n_in, np.int64)
    xbar_p = np.zeros(n_in, np.int64)
    zbar = np.zeros(n_rec, np.int64)
    zbar_p = np.zeros(n_rec, np.int64)
    psi = np.zeros(n_rec, np.int64)
    qj = np.zeros(n_rec, np.int64)                      # adaptation gain from psi^{t-1}
    pbar = np.zeros(n_rec, np.int64)
    zkap = np.zeros(n_rec, np.int64)
    L = np.zeros(n_rec, np.int64)
    mfac = np.zeros(n_rec, np.int64)
    err = np.zeros(n_out, np.int64)
    errf = np.zeros(n_out)
    eb_in = np.zeros(nnz_in if per_synapse else 0, np.int32)       # |ebar|, |h| < 2^(elig_bits-1) <= 2^31
    eb_rec = np.zeros(nnz_rec if per_synapse else 0, np.int32)
    h_in = np.zeros(nnz_in if (per_synapse and adapt) else 0, np.int32)
    h_rec = np.zeros(nnz_rec if (per_synapse and adapt) else 0, np.int32)
    ac_in = ac_store[:nnz_in]                                         # caller's storage (int32 if acc_bits <= 32)
    ac_rec = ac_store[nnz_in:nnz_in + nnz_rec]
    _zero(ac_in)
    _zero(ac_rec)
    max_row = 0                                   # hash scratch of the per-synapse rows (longest row + 1)
    if per_synapse and trace_stoch:
        for i in range(n_in):
            max_row = max(max_row, in_ptr[i + 1] - in_ptr[i])
        for i in range(n_rec):
            max_row = max(max_row, rec_ptr[i + 1] - rec_ptr[i])
    rbuf = np.zeros(max_row + 1, np.uint64)
    ac_out = np.zeros((n_rec, n_out), np.int64)
    n_apply = apply0
    for n in range(order.shape[0]):
        b = order[n]
        _zero(u); _zero(v); _zero(a); _zero(r); _zero(zp); _zero(y)
        _zero(xbar); _zero(xbar_p); _zero(zbar); _zero(zbar_p); _zero(psi); _zero(qj); _zero(pbar); _zero(zkap)
        if per_synapse:
            _zero(eb_in); _zero(eb_rec)
            if adapt:
                _zero(h_in); _zero(h_rec)
        loss = 0.0
        n_masked = 0
        # inference counts in registers, routing from per-neuron spike totals at the end of the trial
        # (all linear in the spikes: the same sums as per spike, as kernels.fixed_forward)
        _zero(nspk)
        c_syn = 0
        c_insp = 0
        c_sat = 0
        c_act = 0
        for t in range(T):
            # ---------------- forward (as kernels.fixed_forward) ----------------
            _zero(acc_in)
            _zero(acc_rc)
            k_in = 0
            for i in range(n_in):
                if x[b, t, i] != 0:
                    k_in += 1
                    for q in range(in_ptr[i], in_ptr[i + 1]):
                        acc_in[np.uint32(in_idx[q])] += in_w[q]
                    c_syn += in_ptr[i + 1] - in_ptr[i]
            c_insp += k_in
            if k_in == 0:                 # a neuron is active if it gets any event: only then mark receivers
                _zero(got)
                for i in range(n_rec):
                    if zp[i] != 0:
                        for q in range(rec_ptr[i], rec_ptr[i + 1]):
                            jq = np.uint32(rec_idx[q])
                            acc_rc[jq] += rec_w[q]
                            got[jq] = 1
            else:
                for i in range(n_rec):
                    if zp[i] != 0:
                        for q in range(rec_ptr[i], rec_ptr[i + 1]):
                            acc_rc[np.uint32(rec_idx[q])] += rec_w[q]
            for j in range(n_rec):
                zj, s, dist = neuron_step(j, acc_in, acc_rc, e_in, e_rec, u, v, a, r, zp, bias, beta_mant,
                                          beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref, subtract, half_c, vmax,
                                          has_u, adaptive_n)
                z[j] = zj
                c_sat += s
                if k_in > 0 or got[j] != 0 or zj != 0:
                    c_act += 1
                if record_z:
                    z_out[n, t, j] = zj
                # pseudo-derivative code (trace_bits): the distance to threshold, shifted
                if psi_const > 0:
                    psi[j] = psi_const                # RFLO: fixed gain, no pseudo-derivative
                else:
                    psi[j] = dist >> psi_shift
            _zero(acc_o)
            any_z = False
            for i in range(n_rec):
                if z[i] != 0:
                    any_z = True
                    nspk[i] += 1
                    for k in range(n_out):
                        acc_o[k] += w_out_t[i, k]
                    c_syn += (rec_ptr[i + 1] - rec_ptr[i]) + n_out
            if any_z:
                c_act += n_out
            c_sat += readout_step(y, acc_o, dk, D, e_out, S, vmax, y_out[n, t])
            # ---------------- traces (per neuron) ----------------
            step_id = (trial0 + n) * T + t
            kt = _key(seed, STREAM_TRACE, step_id, 0)     # _key(.., idx) == kt + idx: one hash per trace
            for i in range(n_in):
                xbar_p[i] = xbar[i]
                xbar[i] = _decay_trace(xbar[i], dv, D, trace_stoch, kt + uint64(i)) + pre_inc_in * x[b, t, i]
            for i in range(n_rec):
                zbar_p[i] = zbar[i]
                zbar[i] = _decay_trace(zbar[i], dv, D, trace_stoch, kt + uint64(n_in + i)) + pre_inc_rec * zp[i]
                zkap[i] = _decay_trace(zkap[i], dk, D, trace_stoch, kt + uint64(n_in + n_rec + i)) + kap_inc * z[i]
                if not per_synapse:
                    pbar[i] = _decay_trace(pbar[i], dk, D, trace_stoch, kt + uint64(n_in + 2 * n_rec + i)) + psi[i]
            cnt[L_TRACE] += n_in + 3 * n_rec
            # ---------------- readout error (off-core float) and learning signal ----------------
            any_err = False
            if mask[b, t] != 0:
                n_masked += 1
                if loss_kind == 0:
                    for k in range(n_out):
                        errf[k] = y[k] / scale_out + b_out[k] - tgt[b, t, k]
                        loss += 0.5 * errf[k] * errf[k]
                else:
                    mx = -1e300
                    for k in range(n_out):
                        o = y[k] / scale_out + b_out[k]
                        errf[k] = o
                        if o > mx:
                            mx = o
                    ssum = 0.0
                    for k in range(n_out):
                        errf[k] = np.exp(errf[k] - mx)
                        ssum += errf[k]
                    lab = labels[b, t]
                    for k in range(n_out):
                        errf[k] = errf[k] / ssum
                    loss -= np.log(max(errf[lab], 1e-300))
                    errf[lab] -= 1.0
                for k in range(n_out):
                    ek = np.int64(np.floor(errf[k] * err_scale + 0.5))
                    ek, c1 = _clip(ek, errmax)
                    cnt[L_SAT] += c1
                    err[k] = ek
                    if ek != 0:
                        any_err = True
            if any_err:
                for j in range(n_rec):
                    sL = np.int64(0)
                    for k in range(n_out):
                        sL += B_mant[j, k] * err[k]
                    lj, c1 = _clip(round_shift(sL, l_shift), lmax)
                    cnt[L_SAT] += c1
                    L[j] = lj
                cnt[L_LSMSG] += n_rec
                cnt[L_LSHOPS] += ls_hops_total
                cnt[L_LSMACS] += n_rec * n_out
            else:
                _zero(L)
            # ---------------- eligibility and accumulation ----------------
            if per_synapse:
                sat_e = 0
                if train_in:
                    k_in0 = _key(seed, STREAM_ELIG_IN, step_id, 0)
                    for i in range(n_in):
                        sat_e += _elig_row(eb_in, h_in, ac_in, in_ptr, in_idx, i, xbar[i], xbar_p[i], psi, L, qj,
                                           adapt, trace_stoch, k_in0, e_shift, dk, da, D, q_frac, emax, amax,
                                           lr_mant[0], lr_shift[0], rbuf)
                if train_rec:
                    k_rec0 = _key(seed, STREAM_ELIG_REC, step_id, 0)
                    for i in range(n_rec):
                        sat_e += _elig_row(eb_rec, h_rec, ac_rec, rec_ptr, rec_idx, i, zbar[i], zbar_p[i], psi, L,
                                           qj, adapt, trace_stoch, k_rec0, e_shift, dk, da, D, q_frac, emax, amax,
                                           lr_mant[1], lr_shift[1], rbuf)
                cnt[L_SAT] += sat_e
                n_el = (nnz_in if train_in else 0) + (nnz_rec if train_rec else 0)
                cnt[L_TRACE] += n_el * (2 if adapt else 1)
                cnt[L_BITS_R] += n_el * elig_bits * (2 if adapt else 1)
                cnt[L_BITS_W] += n_el * elig_bits * (2 if adapt else 1)
                if any_err:
                    cnt[L_BITS_R] += n_el * acc_bits
                    cnt[L_BITS_W] += n_el * acc_bits
            elif any_err:
                # factorised: post factor m_j = L_j pbar_j (per neuron), times the pre trace per synapse
                for j in range(n_rec):
                    mj, c1 = _clip(round_shift(L[j] * pbar[j], m_shift), emax)
                    cnt[L_SAT] += c1
                    mfac[j] = mj
                sat_e = 0
                if train_in:
                    for i in range(n_in):
                        if xbar[i] != 0:
                            sat_e += _acc_outer_row(ac_in, in_ptr, in_idx, mfac, i, xbar[i], lr_mant[0], lr_shift[0], amax)
                if train_rec:
                    for i in range(n_rec):
                        if zbar[i] != 0:
                            sat_e += _acc_outer_row(ac_rec, rec_ptr, rec_idx, mfac, i, zbar[i], lr_mant[1], lr_shift[1],
                                                    amax)
                cnt[L_SAT] += sat_e
                n_el = (nnz_in if train_in else 0) + (nnz_rec if train_rec else 0)
                cnt[L_BITS_R] += n_el * acc_bits
                cnt[L_BITS_W] += n_el * acc_bits
            # readout learning: dW_out_kj ~ err_k * zkap_j (exact, local to the readout core)
            if train_out and any_err:
                sat_o = 0
                for j in range(n_rec):
                    zk = zkap[j] * lr_mant[2]
                    if zk != 0:
                        for k in range(n_out):    # err_k = 0 adds rnd(0) = 0: no branch on it
                            sa = ac_out[j, k] + round_shift(err[k] * zk, lr_shift[2])
                            ca = min(max(sa, -amax), amax)
                            sat_o += ca != sa
                            ac_out[j, k] = ca
                cnt[L_SAT] += sat_o
                cnt[L_BITS_R] += n_rec * n_out * acc_bits
                cnt[L_BITS_W] += n_rec * n_out * acc_bits
            # adaptation gain for the next step: q_j = c_a beta_j psi_j^t in Q(q_frac)
            if adapt:
                for j in range(n_rec):
                    qj[j] = (qa_mant[j] * psi[j]) >> qa_shift
            for j in range(n_rec):
                zp[j] = z[j]
            if epoch_steps > 0 and (t + 1) % epoch_steps == 0 and t + 1 < T:
                _apply_all(in_w, ac_in, rec_w, ac_rec, w_out_t, ac_out, frac, w_stoch, seed, n_apply,
                           w_min, w_max, train_in, train_rec, train_out, cnt)
                n_apply += 1
        cnt[C_SYN_OPS] += c_syn
        cnt[C_INPUT_SPIKES] += c_insp
        cnt[C_SATURATIONS] += c_sat
        cnt[C_ACTIVE] += c_act
        for c in range(n_cores):
            core_syn[c] += c_insp * in_core_syn[c]
        for i in range(n_rec):
            ni = nspk[i]
            if ni > 0:
                cnt[C_SPIKES] += ni
                src = core_of[i]
                for q in range(dest_ptr[i], dest_ptr[i + 1]):
                    c = dest_core[q]
                    c2c[src, c] += ni
                    core_syn[c] += ni * dest_syn[q]
                    cnt[C_HOPS] += ni * dest_hops[q]
                cnt[C_PACKETS] += ni * (dest_ptr[i + 1] - dest_ptr[i])
        if loss_kind == 1:
            loss = loss / max(n_masked, 1)
        loss_out[n] = loss
        if (n + 1) % apply_every == 0 or n + 1 == order.shape[0]:
            _apply_all(in_w, ac_in, rec_w, ac_rec, w_out_t, ac_out, frac, w_stoch, seed, n_apply,
                       w_min, w_max, train_in, train_rec, train_out, cnt)
            n_apply += 1
    return n_apply


@njit(cache=True)
def _apply_all(in_w, ac_in, rec_w, ac_rec, w_out_t, ac_out, frac, w_stoch, seed, epoch, w_min, w_max,
               train_in, train_rec, train_out, cnt):
    """Apply the accumulated changes of every trained projection (one learning-epoch boundary)."""
    if train_in:
        _apply(in_w, ac_in, frac, w_stoch, seed, STREAM_W_IN, epoch, w_min, w_max, cnt)
    if train_rec:
        _apply(rec_w, ac_rec, frac, w_stoch, seed, STREAM_W_REC, epoch, w_min, w_max, cnt)
    if train_out:
        _apply(w_out_t.reshape(-1), ac_out.reshape(-1), frac, w_stoch, seed, STREAM_W_OUT, epoch, w_min, w_max, cnt)


# One trial at a time on one core: trials run in order (weights change between them) and a parallel
# split of each step's synapse rows (tried: prange over row chunks) was 2-5x slower on this 2-core machine,
# at N = 1024 and 4096, because of one parallel region per step. Inference batches use both cores.
learn_trials = njit(cache=True)(_learn_trials)
