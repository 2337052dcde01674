"""One trial of on-chip e-prop in fixed point (docs/fixed_point.md "Learning (on-chip e-prop)").

The forward step is the inference one (``kernels.neuron_ops.neuron_core`` through ``kernels.learn_neurons``, the
copy for the profile's overflow mode, and ``readout_step``; recurrent spikes propagate from the last step's spike
list); then
the per-neuron traces, the rate trace, the error code and learning signal, the eligibility (per synapse
or factorised) and the products, summed into this trial's partial accumulators ``pa_*`` (int64, exact:
the weights do not change within a batch, so trials are independent and their integer sums can be
added in any order; ``kernels.eprop_fixed`` adds them to the persistent accumulators at the batch end).

State is O(synapses + neurons), never O(T). Per-synapse eligibility visits only the posts with psi_j, q_j or
L_j nonzero this step; the others' decays wait for their next visit (``kernels.learn_cols``, lazy decay;
``C.lazy`` False: every post every step). Factorised rows with a zero pre trace add 0 and are skipped.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from .fixed_ops import OVF_LAVA, OVF_SATURATE
from .learn_neurons import NEURONS_LAVA, NEURONS_SATURATE, NEURONS_WRAP
from .learn_cols import decay_table, elig_cols
from .learn_rows import clip, post_factors, decay_trace, key, outer_rows, rnd, rsh
from .neuron_ops import (C_ACTIVE, C_HOPS, C_INPUT_SPIKES, C_OVF_CURRENT, C_OVF_MEMBRANE, C_PACKETS, C_SATURATIONS,
                         C_SPIKES, C_SYN_OPS, readout_step)
from .learn_types import (L_BITS_R, L_BITS_W, L_LSHOPS, L_LSMACS, L_LSMSG, L_SAT, L_TRACE, STREAM_ELIG_IN,
                          STREAM_ELIG_REC, STREAM_TRACE)


@njit(cache=True)
def learn_trial(C, Tb, W, x, b, n_glob, tgt, labels, mask, gt, gr, pa_in, pa_rec, pa_out, perr,
                record_z, z_tr, y_tr, cnt, core_syn, c2c):
    """Trial ``b`` of x [B, T, n_in] (uint8) with weights W (`LearnState`, read only here).

    n_glob: global trial number (key of the stochastic-rounding generator); gt / gr int64 [3]: this
    batch's task / regulariser gains; pa_in / pa_rec / pa_out: int64 partial accumulators (CSR-aligned,
    and [n_rec * n_out] for the readout, j n_out + k) to which this trial's products are added; perr
    int64 [n_out]: sum of the error codes (readout bias). Records z_tr [T, n_rec] (if record_z) and
    y_tr [T, n_out]; counts into cnt [N_LCOUNTS], core_syn [n_cores], c2c [n_cores, n_cores].
    Returns (task loss of the trial, masked steps): 1/2 sum of squared errors, or summed CE.
    """
    T = x.shape[1]
    n_in = x.shape[2]
    in_ptr, in_idx, rec_ptr, rec_idx = Tb.in_ptr, Tb.in_idx, Tb.rec_ptr, Tb.rec_idx
    in_w, rec_w, w_out_t = W.in_w, W.rec_w, W.w_out_t
    n_rec = rec_ptr.shape[0] - 1
    n_out = w_out_t.shape[1]
    nnz_in = in_idx.shape[0]
    nnz_rec = rec_idx.shape[0]
    per_synapse, adapt, stoch = C.per_synapse, C.adapt, C.trace_stoch
    D = C.D
    train_in, train_rec, train_out = C.train_in, C.train_rec, C.train_out
    reg = C.reg
    sh_in, sh_rec, sh_out = Tb.prod_shift[0], Tb.prod_shift[1], Tb.prod_shift[2]
    b_out = W.b_out
    # state (all restarts with the trial)
    u = np.zeros(n_rec, np.int64)
    v = np.zeros(n_rec, np.int64)
    a = np.zeros(n_rec, np.int64)
    r = np.zeros(n_rec, np.int64)
    zp = np.zeros(n_rec, np.int64)
    z = np.zeros(n_rec, np.int64)
    acc_in = np.zeros(n_rec, np.int64)
    acc_rc = np.zeros(n_rec, np.int64)
    got = np.zeros(n_rec, np.int64)                   # reached by a recurrent spike this step (steps without input)
    spk = np.zeros(n_rec, np.int64)                   # spike list of the last step, ascending
    n_sp = 0
    nspk = np.zeros(n_rec, np.int64)
    acc_o = np.zeros(n_out, np.int64)
    y = np.zeros(n_out, np.int64)
    xbar = np.zeros(n_in, np.int64)
    xbar_p = np.zeros(n_in, np.int64)
    zbar = np.zeros(n_rec, np.int64)
    zbar_p = np.zeros(n_rec, np.int64)
    psi = np.zeros(n_rec, np.int64)
    qj = np.zeros(n_rec, np.int64)                      # adaptation gain from psi^{t-1}
    pk_in = np.zeros(n_in if not per_synapse else 0, np.int64)     # factorised: kappa-filtered pre traces
    pk_rec = np.zeros(n_rec if not per_synapse else 0, np.int64)
    zkap = np.zeros(n_rec, np.int64)
    L = np.zeros(n_rec, np.int64)
    fr = np.full(n_rec, np.int64(C.f0_code))           # rate trace starts at the target: no signal at t = 0
    rr = np.zeros(n_rec, np.int64)
    Lg_in = np.zeros(n_rec, np.int64)
    act = np.zeros(n_rec, np.int64)                    # factorised: post neurons with a nonzero factor this step
    mt_a = np.zeros(n_rec, np.int64)                   # outer_rows' scratch: their factors, a row's products
    mr_a = np.zeros(n_rec, np.int64)
    vals = np.zeros(n_rec, np.int64)
    Rg_in = np.zeros(n_rec, np.int64)
    Lg_rec = np.zeros(n_rec, np.int64)
    Rg_rec = np.zeros(n_rec, np.int64)
    err = np.zeros(n_out, np.int64)
    errf = np.zeros(n_out)
    # per-synapse state in column order (kernels.learn_cols; restarts with the trial): |ebar|, |h| < 2^31
    # (in the padded column layout of kernels.csr.pad_columns)
    np_in = Tb.in_cpad[Tb.in_cpad.shape[0] - 1]
    np_rec = Tb.rec_cpad[Tb.rec_cpad.shape[0] - 1]
    eb_in = np.zeros(np_in if per_synapse else 0, np.int32)
    eb_rec = np.zeros(np_rec if per_synapse else 0, np.int32)
    h_in = np.zeros(np_in if (per_synapse and adapt) else 0, np.int32)
    h_rec = np.zeros(np_rec if (per_synapse and adapt) else 0, np.int32)
    pac_in = np.zeros(np_in if per_synapse else 0, np.int64)       # this trial's products, column order
    pac_rec = np.zeros(np_rec if per_synapse else 0, np.int64)
    last = np.full(n_rec, -1, np.int64)                # the last step post j's columns were brought up to date
    kgap = np.ones(n_rec, np.int64)                    # steps since then (1: the last step)
    act_s = np.zeros(n_rec, np.int64)                  # this step's active posts
    max_col = 0
    if per_synapse:
        for j in range(n_rec):
            max_col = max(max_col, Tb.in_cpad[j + 1] - Tb.in_cpad[j], Tb.rec_cpad[j + 1] - Tb.rec_cpad[j])
    # elig_cols' per-pre operands of one column: distinct arrays, so that its column loops vectorise
    pb = np.zeros(max_col, np.int64)
    ppb = np.zeros(max_col, np.int64)
    ev_b = np.zeros(max_col, np.int64)
    fk_t = decay_table((np.int64(1) << D) - C.dk, D, T if per_synapse else 0)   # kappa^k, rho_a^k in Q0.31
    fa_t = decay_table((np.int64(1) << D) - C.da, D, T if per_synapse else 0)
    vth_eff = C.vth_eff
    mode = C.mode
    loss = 0.0
    n_masked = 0
    c_syn = 0
    c_insp = 0
    c_sat = 0
    c_act = 0
    for t in range(T):
        # ---------------- forward (as kernels.fixed_forward) ----------------
        k_in = 0
        for i in range(n_in):
            if x[b, t, i] != 0:
                k_in += 1
                for q in range(in_ptr[i], in_ptr[i + 1]):
                    acc_in[np.uint32(in_idx[q])] += in_w[q]
                c_syn += in_ptr[i + 1] - in_ptr[i]
        c_insp += k_in
        if k_in == 0:                 # a neuron is active if it gets any event: only then mark receivers
            for s_ in range(n_sp):    # the spike list of z^{t-1}, ascending
                i = spk[s_]
                for q in range(rec_ptr[i], rec_ptr[i + 1]):
                    jq = np.uint32(rec_idx[q])
                    acc_rc[jq] += rec_w[q]
                    got[jq] = 1
        else:
            for s_ in range(n_sp):
                i = spk[s_]
                for q in range(rec_ptr[i], rec_ptr[i + 1]):
                    acc_rc[np.uint32(rec_idx[q])] += rec_w[q]
        # every neuron (the copy of learn_neurons for the profile's overflow mode: a vectorised loop); the
        # overflow events go to cnt[C_OVF_*] (kernels.fixed_forward), their total to C_SATURATIONS
        if mode == OVF_LAVA:
            su, sv = NEURONS_LAVA(acc_in, acc_rc, C.e_in, C.e_rec, u, v, a, r, zp, z, psi, Tb.bias, Tb.beta_mant,
                                  C.beta_shift, C.a_inc, C.du, C.dv, C.da, D, C.S, vth_eff, C.n_ref, C.subtract,
                                  C.half_c, C.vmax, C.has_u, C.adaptive_n, C.psi_const, C.psi_shift)
        elif mode == OVF_SATURATE:
            su, sv = NEURONS_SATURATE(acc_in, acc_rc, C.e_in, C.e_rec, u, v, a, r, zp, z, psi, Tb.bias, Tb.beta_mant,
                                      C.beta_shift, C.a_inc, C.du, C.dv, C.da, D, C.S, vth_eff, C.n_ref, C.subtract,
                                      C.half_c, C.vmax, C.has_u, C.adaptive_n, C.psi_const, C.psi_shift)
        else:
            su, sv = NEURONS_WRAP(acc_in, acc_rc, C.e_in, C.e_rec, u, v, a, r, zp, z, psi, Tb.bias, Tb.beta_mant,
                                  C.beta_shift, C.a_inc, C.du, C.dv, C.da, D, C.S, vth_eff, C.n_ref, C.subtract,
                                  C.half_c, C.vmax, C.has_u, C.adaptive_n, C.psi_const, C.psi_shift)
        cnt[C_OVF_CURRENT] += su
        cnt[C_OVF_MEMBRANE] += sv
        c_sat += su + sv
        # pass 2: clear the sums, this step's spike list (ascending), activity, records
        n_sp = 0
        for j in range(n_rec):
            acc_in[j] = 0
            acc_rc[j] = 0
            zj = z[j]
            c_act += (k_in > 0) | got[j] | zj
            got[j] = 0
            if record_z:
                z_tr[t, j] = zj
            if zj != 0:
                spk[n_sp] = j
                n_sp += 1
        for k in range(n_out):
            acc_o[k] = 0
        for s_ in range(n_sp):
            i = spk[s_]
            nspk[i] += 1
            for k in range(n_out):
                acc_o[k] += w_out_t[i, k]
            c_syn += (rec_ptr[i + 1] - rec_ptr[i]) + Tb.ro_fan[i]
        if n_sp > 0:
            c_act += n_out
        c_sat += readout_step(y, acc_o, C.dk, D, C.e_out, C.S, C.vmax, y_tr[t], C.mode, C.half_c, cnt)
        # ---------------- traces (per neuron) ----------------
        step_id = n_glob * T + t
        kt = key(C.seed, STREAM_TRACE, step_id, 0)
        for i in range(n_in):
            xbar_p[i] = xbar[i]
            xbar[i] = decay_trace(xbar[i], C.dv, D, stoch, kt + uint64(i)) + C.pre_inc_in * x[b, t, i]
        for i in range(n_rec):
            zbar_p[i] = zbar[i]
            zbar[i] = decay_trace(zbar[i], C.dv, D, stoch, kt + uint64(n_in + i)) + C.pre_inc_rec * zp[i]
            zkap[i] = decay_trace(zkap[i], C.dk, D, stoch, kt + uint64(n_in + n_rec + i)) + C.kap_inc * z[i]
        cnt[L_TRACE] += n_in + 2 * n_rec
        if not per_synapse:
            # factorised eligibility: the kappa filter moves from e = psi pre onto the pre trace alone,
            # ebar_ji ~ psi_j^t sum_s kappa^(t-s) pre_i^s. Causal (only pre activity before the post factor),
            # unlike psi-filtered x current pre, whose post-before-pre pairs bias w_rec (docs/onchip_learning.md)
            for i in range(n_in):
                pk_in[i] = decay_trace(pk_in[i], C.dk, D, stoch, kt + uint64(n_in + 2 * n_rec + i)) + xbar[i]
            for i in range(n_rec):
                pk_rec[i] = decay_trace(pk_rec[i], C.dk, D, stoch, kt + uint64(2 * n_in + 2 * n_rec + i)) + zbar[i]
            cnt[L_TRACE] += n_in + n_rec
        if reg:
            # rate trace: f += rnd((z << rate_bits) - f, rate_shift), an EMA over 2^rate_shift steps from f0 (a
            # running mean would follow the first spikes: 1 spike in 2 steps reads as 500 Hz, correlated with e)
            for j in range(n_rec):
                fr[j] += rnd((z[j] << C.rate_bits) - fr[j], C.rate_shift)
                rr[j] = fr[j] - C.f0_code
            cnt[L_TRACE] += n_rec
        # ---------------- readout error (off-core float) and learning signal ----------------
        any_err = False
        if mask[b, t] != 0:
            n_masked += 1
            if C.loss_kind == 0:
                for k in range(n_out):
                    errf[k] = y[k] / C.scale_out + b_out[k] - tgt[b, t, k]
                    loss += 0.5 * errf[k] * errf[k]
            else:
                mx = -1e300
                for k in range(n_out):
                    o = y[k] / C.scale_out + b_out[k]
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
                ek = np.int64(np.floor(errf[k] * C.err_scale + 0.5))
                ek, c1 = clip(ek, C.errmax)
                cnt[L_SAT] += c1
                err[k] = ek
                perr[k] += ek
                if ek != 0:
                    any_err = True
        if any_err:
            for j in range(n_rec):
                sL = np.int64(0)
                for k in range(n_out):
                    sL += Tb.B_mant[j, k] * err[k]
                lj, c1 = clip(rnd(sL, C.l_shift) if C.l_shift > 0 else sL, C.lmax)
                cnt[L_SAT] += c1
                L[j] = lj
            cnt[L_LSMSG] += n_rec
            cnt[L_LSHOPS] += C.ls_hops_total
            cnt[L_LSMACS] += n_rec * n_out
        else:
            for j in range(n_rec):
                L[j] = 0
        do_acc = any_err or reg
        if do_acc and per_synapse:
            # per-neuron signals scaled by this batch's gains (the "loss scaling" of section 6: wide per-neuron
            # registers, one rounding per product below); the factorised branch forms its own factors
            for j in range(n_rec):
                Lg_in[j] = L[j] * gt[0]
                Lg_rec[j] = L[j] * gt[1]
                Rg_in[j] = rr[j] * gr[0]
                Rg_rec[j] = rr[j] * gr[1]
        # ---------------- eligibility and products ----------------
        if per_synapse:
            # the active posts: psi_j, q_j (psi_j one step before) or L_j nonzero. Any other post adds
            # nothing this step and its synapses only decay: deferred to its next active step (learn_cols)
            n_as = 0
            for j in range(n_rec):
                on = (not C.lazy) or psi[j] != 0 or qj[j] != 0 or L[j] != 0
                if on:
                    act_s[n_as] = j
                    n_as += 1
                    kgap[j] = t - last[j] if last[j] >= 0 else 1   # never visited: its state is 0
                    last[j] = t
            sat_e = 0
            vis = 0
            if train_in:
                s1, v1 = elig_cols(eb_in, h_in, pac_in, Tb.in_cptr, Tb.in_cpad, Tb.in_cpre, Tb.in_cgap, xbar, xbar_p,
                                   act_s, n_as, kgap, psi, Lg_in, Rg_in, qj, Tb.qa_mant, stoch,
                                   key(C.seed, STREAM_ELIG_IN, step_id, 0),
                                   C.e_shift, C.q_frac, C.emax, sh_in, do_acc, any_err, L, rr,
                                   gt[0], gr[0], C.pre_t, C.pre_r, fk_t, fa_t, pb, ppb, ev_b)
                sat_e += s1
                vis += v1
            if train_rec:
                s1, v1 = elig_cols(eb_rec, h_rec, pac_rec, Tb.rec_cptr, Tb.rec_cpad, Tb.rec_cpre, Tb.rec_cgap, zbar,
                                   zbar_p, act_s, n_as, kgap, psi, Lg_rec, Rg_rec, qj, Tb.qa_mant, stoch,
                                   key(C.seed, STREAM_ELIG_REC, step_id, 0),
                                   C.e_shift, C.q_frac, C.emax, sh_rec, do_acc, any_err, L, rr,
                                   gt[1], gr[1], C.pre_t, C.pre_r, fk_t, fa_t, pb, ppb, ev_b)
                sat_e += s1
                vis += v1
            cnt[L_SAT] += sat_e
            # the state and accumulator accesses made: the visited synapses (every trained synapse every step
            # when not lazy)
            cnt[L_TRACE] += vis * (2 if adapt else 1)
            cnt[L_BITS_R] += vis * C.elig_bits * (2 if adapt else 1)
            cnt[L_BITS_W] += vis * C.elig_bits * (2 if adapt else 1)
            if do_acc:
                cnt[L_BITS_R] += vis * C.acc_bits
                cnt[L_BITS_W] += vis * C.acc_bits
        elif do_acc:
            # factorised: per-neuron factors Mt_j = rnd(rnd(L_j psi_j >> pre_t) Gt >> m_shift) (task) and
            # Mr_j = rnd(rnd(r_j psi_j >> pre_r) Gr >> m_shift) (regulariser; wide per-neuron registers, pre_* = 0
            # at Loihi 2 widths), times the kappa-filtered pre trace (task) and the pre trace (regulariser,
            # which pairs with the unfiltered e as in float e-prop)
            msh = C.m_shift
            if train_in:
                na = post_factors(L, rr, psi, C.pre_t, C.pre_r, gt[0], gr[0], msh, Lg_in, Rg_in, act)
                if na > 0:
                    outer_rows(pa_in, in_ptr, in_idx, Tb.in_pos, Tb.in_gap, Lg_in, Rg_in, pk_in, xbar, sh_in, act, na,
                               any_err, mt_a, mr_a, vals)
            if train_rec:
                na = post_factors(L, rr, psi, C.pre_t, C.pre_r, gt[1], gr[1], msh, Lg_rec, Rg_rec, act)
                if na > 0:
                    outer_rows(pa_rec, rec_ptr, rec_idx, Tb.rec_pos, Tb.rec_gap, Lg_rec, Rg_rec, pk_rec, zbar, sh_rec,
                               act, na, any_err, mt_a, mr_a, vals)
            n_el = (nnz_in if train_in else 0) + (nnz_rec if train_rec else 0)
            cnt[L_BITS_R] += n_el * C.acc_bits
            cnt[L_BITS_W] += n_el * C.acc_bits
        # readout learning: dW_out_kj ~ err_k * zkap_j (exact, local to the readout core)
        if train_out and any_err:
            g2 = gt[2]
            for j in range(n_rec):
                zk = zkap[j]
                if zk != 0:
                    if C.out_masked:          # layer map: absent readout synapses get no product
                        for k in range(n_out):
                            if Tb.out_live[j * n_out + k] != 0:
                                pa_out[j * n_out + k] += rnd(rsh(err[k] * zk, C.pre_o) * g2, sh_out)
                    else:
                        for k in range(n_out):    # err_k = 0 adds rnd(0) = 0: no branch on it
                            pa_out[j * n_out + k] += rnd(rsh(err[k] * zk, C.pre_o) * g2, sh_out)
            cnt[L_BITS_R] += C.n_out_syn * C.acc_bits
            cnt[L_BITS_W] += C.n_out_syn * C.acc_bits
        # adaptation gain for the next step: q_j = c_a beta_j psi_j^t in Q(q_frac)
        if adapt:
            for j in range(n_rec):
                qj[j] = (Tb.qa_mant[j] * psi[j]) >> C.qa_shift     # both >= 0: the floor is a truncation
        for j in range(n_rec):
            zp[j] = z[j]
    if per_synapse:                                    # this trial's products into the CSR accumulators (exact)
        for c in range(pac_in.shape[0]):
            pa_in[Tb.in_cq[c]] += pac_in[c]
        for c in range(pac_rec.shape[0]):
            pa_rec[Tb.rec_cq[c]] += pac_rec[c]
    cnt[C_SYN_OPS] += c_syn
    cnt[C_INPUT_SPIKES] += c_insp
    cnt[C_SATURATIONS] += c_sat
    cnt[C_ACTIVE] += c_act
    for c in range(C.n_cores):
        core_syn[c] += c_insp * Tb.in_core_syn[c]
    for i in range(n_rec):
        ni = nspk[i]
        if ni > 0:
            cnt[C_SPIKES] += ni
            src = Tb.core_of[i]
            for q in range(Tb.dest_ptr[i], Tb.dest_ptr[i + 1]):
                c = Tb.dest_core[q]
                c2c[src, c] += ni
                core_syn[c] += ni * Tb.dest_syn[q]
                cnt[C_HOPS] += ni * Tb.dest_hops[q]
            cnt[C_PACKETS] += ni * (Tb.dest_ptr[i + 1] - Tb.dest_ptr[i])
    return loss, n_masked
