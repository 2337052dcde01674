"""On-chip e-prop in fixed point: forward pass (the same integer neuron as ``fixed_forward``) plus
presynaptic traces, integer pseudo-derivative, learning signal through the quantised feedback B,
eligibility (per synapse, or factorised pre x post), weight accumulation and application at
learning-epoch boundaries with nearest or counter-based stochastic rounding, readout learning.

Semantics: docs/fixed_point.md "Learning (on-chip e-prop)"; constants from `compiler.lower_rule`.
State is O(synapses + neurons), never O(T): memory is flat in the trial length.

Per-synapse state arrays (ebar, h, acc) are aligned with the CSR-by-presynaptic-neuron weight arrays,
so every loop walks one contiguous fan-out. The per-synapse eligibility loop runs in parallel over
presynaptic neurons (disjoint synapses); trials run in order (weights change between them).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from .fixed_forward import C_ACTIVE, C_HOPS, C_INPUT_SPIKES, C_PACKETS, C_SATURATIONS, C_SPIKES, C_SYN_OPS, neuron_step
from .fixed_ops import floor_shift, round_shift, splitmix64, stoch_shift, trunc_decay

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


@njit(cache=True, inline="always")
def _sdecay(x, d, D, key):
    """Leak a signed trace by a D-bit decay with stochastic rounding (unbiased, keeps small values alive)."""
    return stoch_shift(x * ((1 << D) - d), D, key)


@njit(cache=True, inline="always")
def _clip(x, m):
    if x > m:
        return m, 1
    if x < -m:
        return -m, 1
    return x, 0


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
                 trial0, apply0, record_z, z_out, y_out, loss_out, cnt, core_syn, c2c):
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
    cnt [N_LCOUNTS], core_syn [n_cores], c2c [n_cores, n_cores].
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
    eb_in = np.zeros(nnz_in if per_synapse else 0, np.int64)
    eb_rec = np.zeros(nnz_rec if per_synapse else 0, np.int64)
    h_in = np.zeros(nnz_in if (per_synapse and adapt) else 0, np.int64)
    h_rec = np.zeros(nnz_rec if (per_synapse and adapt) else 0, np.int64)
    ac_in = np.zeros(nnz_in, np.int64)
    ac_rec = np.zeros(nnz_rec, np.int64)
    ac_out = np.zeros((n_rec, n_out), np.int64)
    n_apply = apply0
    for n in range(order.shape[0]):
        b = order[n]
        u[:] = 0; v[:] = 0; a[:] = 0; r[:] = 0; zp[:] = 0; y[:] = 0
        xbar[:] = 0; xbar_p[:] = 0; zbar[:] = 0; zbar_p[:] = 0; psi[:] = 0; qj[:] = 0; pbar[:] = 0; zkap[:] = 0
        if per_synapse:
            eb_in[:] = 0; eb_rec[:] = 0
            if adapt:
                h_in[:] = 0; h_rec[:] = 0
        loss = 0.0
        n_masked = 0
        for t in range(T):
            # ---------------- forward (as kernels.fixed_forward) ----------------
            acc_in[:] = 0
            acc_rc[:] = 0
            got[:] = 0
            k_in = 0
            for i in range(n_in):
                if x[b, t, i] != 0:
                    k_in += 1
                    for q in range(in_ptr[i], in_ptr[i + 1]):
                        acc_in[in_idx[q]] += in_w[q]
                    cnt[C_SYN_OPS] += in_ptr[i + 1] - in_ptr[i]
            if k_in > 0:
                cnt[C_INPUT_SPIKES] += k_in
                for c in range(n_cores):
                    core_syn[c] += k_in * in_core_syn[c]
            for i in range(n_rec):
                if zp[i] != 0:
                    for q in range(rec_ptr[i], rec_ptr[i + 1]):
                        acc_rc[rec_idx[q]] += rec_w[q]
                        got[rec_idx[q]] = 1
            for j in range(n_rec):
                zj, s, dist = neuron_step(j, acc_in, acc_rc, e_in, e_rec, u, v, a, r, zp, bias, beta_mant,
                                          beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref, subtract, half_c, vmax,
                                          has_u, adaptive_n)
                z[j] = zj
                cnt[C_SATURATIONS] += s
                if k_in > 0 or got[j] != 0 or zj != 0:
                    cnt[C_ACTIVE] += 1
                if record_z:
                    z_out[n, t, j] = zj
                # pseudo-derivative code (trace_bits): the distance to threshold, shifted
                if psi_const > 0:
                    psi[j] = psi_const                # RFLO: fixed gain, no pseudo-derivative
                else:
                    psi[j] = dist >> psi_shift
            acc_o[:] = 0
            any_z = False
            for i in range(n_rec):
                if z[i] != 0:
                    any_z = True
                    cnt[C_SPIKES] += 1
                    for k in range(n_out):
                        acc_o[k] += w_out_t[i, k]
                    cnt[C_SYN_OPS] += (rec_ptr[i + 1] - rec_ptr[i]) + n_out
                    src = core_of[i]
                    for q in range(dest_ptr[i], dest_ptr[i + 1]):
                        c = dest_core[q]
                        c2c[src, c] += 1
                        core_syn[c] += dest_syn[q]
                        cnt[C_HOPS] += dest_hops[q]
                    cnt[C_PACKETS] += dest_ptr[i + 1] - dest_ptr[i]
            if any_z:
                cnt[C_ACTIVE] += n_out
            for k in range(n_out):
                yk = trunc_decay(y[k], dk, D) + (floor_shift(acc_o[k], e_out) << S)
                if yk > vmax:
                    yk = vmax
                    cnt[C_SATURATIONS] += 1
                elif yk < -vmax:
                    yk = -vmax
                    cnt[C_SATURATIONS] += 1
                y[k] = yk
                y_out[n, t, k] = yk
            # ---------------- traces (per neuron) ----------------
            step_id = (trial0 + n) * T + t
            for i in range(n_in):
                xbar_p[i] = xbar[i]
                xbar[i] = _decay_trace(xbar[i], dv, D, trace_stoch, _key(seed, STREAM_TRACE, step_id, i)) \
                    + pre_inc_in * x[b, t, i]
            for i in range(n_rec):
                zbar_p[i] = zbar[i]
                zbar[i] = _decay_trace(zbar[i], dv, D, trace_stoch, _key(seed, STREAM_TRACE, step_id, n_in + i)) \
                    + pre_inc_rec * zp[i]
                zkap[i] = _decay_trace(zkap[i], dk, D, trace_stoch,
                                       _key(seed, STREAM_TRACE, step_id, n_in + n_rec + i)) + kap_inc * z[i]
                if not per_synapse:
                    pbar[i] = _decay_trace(pbar[i], dk, D, trace_stoch,
                                           _key(seed, STREAM_TRACE, step_id, n_in + 2 * n_rec + i)) + psi[i]
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
                L[:] = 0
            # ---------------- eligibility and accumulation ----------------
            if per_synapse:
                sat_e = 0
                if train_in:
                    for i in prange(n_in):
                        pre = xbar[i]
                        prep = xbar_p[i]
                        for q in range(in_ptr[i], in_ptr[i + 1]):
                            j = in_idx[q]
                            hq = 0
                            if adapt:
                                hq = trunc_decay(h_in[q], da, D) + round_shift(qj[j] * (prep - h_in[q]), q_frac)
                                h_in[q] = hq
                            if trace_stoch:             # unbiased at narrow widths (hash per synapse)
                                kq = _key(seed, STREAM_ELIG_IN, step_id, q)
                                e = stoch_shift(psi[j] * (pre - hq), e_shift, kq)
                                eb = _sdecay(eb_in[q], dk, D, kq + uint64(1)) + e
                            else:
                                e = round_shift(psi[j] * (pre - hq), e_shift)
                                eb = trunc_decay(eb_in[q], dk, D) + e
                            if eb > emax:
                                eb = emax
                                sat_e += 1
                            elif eb < -emax:
                                eb = -emax
                                sat_e += 1
                            eb_in[q] = eb
                            if L[j] != 0:
                                ac = ac_in[q] + round_shift(L[j] * eb * lr_mant[0], lr_shift[0])
                                if ac > amax:
                                    ac = amax
                                    sat_e += 1
                                elif ac < -amax:
                                    ac = -amax
                                    sat_e += 1
                                ac_in[q] = ac
                if train_rec:
                    for i in prange(n_rec):
                        pre = zbar[i]
                        prep = zbar_p[i]
                        for q in range(rec_ptr[i], rec_ptr[i + 1]):
                            j = rec_idx[q]
                            hq = 0
                            if adapt:
                                hq = trunc_decay(h_rec[q], da, D) + round_shift(qj[j] * (prep - h_rec[q]), q_frac)
                                h_rec[q] = hq
                            if trace_stoch:             # unbiased at narrow widths (hash per synapse)
                                kq = _key(seed, STREAM_ELIG_REC, step_id, q)
                                e = stoch_shift(psi[j] * (pre - hq), e_shift, kq)
                                eb = _sdecay(eb_rec[q], dk, D, kq + uint64(1)) + e
                            else:
                                e = round_shift(psi[j] * (pre - hq), e_shift)
                                eb = trunc_decay(eb_rec[q], dk, D) + e
                            if eb > emax:
                                eb = emax
                                sat_e += 1
                            elif eb < -emax:
                                eb = -emax
                                sat_e += 1
                            eb_rec[q] = eb
                            if L[j] != 0:
                                ac = ac_rec[q] + round_shift(L[j] * eb * lr_mant[1], lr_shift[1])
                                if ac > amax:
                                    ac = amax
                                    sat_e += 1
                                elif ac < -amax:
                                    ac = -amax
                                    sat_e += 1
                                ac_rec[q] = ac
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
                    for i in prange(n_in):
                        pre = xbar[i]
                        if pre != 0:
                            for q in range(in_ptr[i], in_ptr[i + 1]):
                                mj = mfac[in_idx[q]]
                                if mj != 0:
                                    ac = ac_in[q] + round_shift(mj * pre * lr_mant[0], lr_shift[0])
                                    if ac > amax:
                                        ac = amax
                                        sat_e += 1
                                    elif ac < -amax:
                                        ac = -amax
                                        sat_e += 1
                                    ac_in[q] = ac
                if train_rec:
                    for i in prange(n_rec):
                        pre = zbar[i]
                        if pre != 0:
                            for q in range(rec_ptr[i], rec_ptr[i + 1]):
                                mj = mfac[rec_idx[q]]
                                if mj != 0:
                                    ac = ac_rec[q] + round_shift(mj * pre * lr_mant[1], lr_shift[1])
                                    if ac > amax:
                                        ac = amax
                                        sat_e += 1
                                    elif ac < -amax:
                                        ac = -amax
                                        sat_e += 1
                                    ac_rec[q] = ac
                cnt[L_SAT] += sat_e
                n_el = (nnz_in if train_in else 0) + (nnz_rec if train_rec else 0)
                cnt[L_BITS_R] += n_el * acc_bits
                cnt[L_BITS_W] += n_el * acc_bits
            # readout learning: dW_out_kj ~ err_k * zkap_j (exact, local to the readout core)
            if train_out and any_err:
                for j in range(n_rec):
                    zk = zkap[j]
                    if zk != 0:
                        for k in range(n_out):
                            if err[k] != 0:
                                ac, c1 = _clip(ac_out[j, k] + round_shift(err[k] * zk * lr_mant[2], lr_shift[2]), amax)
                                cnt[L_SAT] += c1
                                ac_out[j, k] = ac
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


def _clone(f, name: str):
    """A copy of the Python function ``f`` under another name (its own Numba cache entry)."""
    import types
    g = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    g.__qualname__ = name
    g.__doc__ = f.__doc__
    return g


# Serial version (default): one parallel region per step costs more than it saves on small networks and
# stalls when the cores are shared; the parallel one (prange over presynaptic neurons in the eligibility
# loops) pays off from about PARALLEL_MIN_SYNAPSES trained synapses.
learn_trials = njit(cache=True)(_clone(_learn_trials, "learn_trials"))
learn_trials_parallel = njit(cache=True, parallel=True)(_clone(_learn_trials, "learn_trials_parallel"))
PARALLEL_MIN_SYNAPSES = 500_000
