"""Per-synapse eligibility of the on-chip e-prop kernel (`kernels.learn_trial`), column by column: the
synapses onto one post neuron j are contiguous (CSC by post), and only the columns of the posts that are
*active* this step are visited (docs/fixed_point.md "Per step t of a trial", per_synapse).

Why columns. Every per-post operand of the rule (psi_j, q_j, L_j, r_j) is one scalar for a whole column. A post
with psi_j = 0, q_j = 0 (q_j is psi_j one step before) and L_j = 0 adds nothing to any of its synapses (e =
srnd(0) = 0, products rnd(0 + 0) = 0): their state only decays. Those decays are deferred (lazy): when the post
is next active, k steps after its last visit, each synapse of the column takes the k decays of ebar (kappa^k)
and of h (rho_a^k) in one rounding of x f_k at 2^-31 (f_k = `decay_table`; stochastic rounding, or
truncation). For k = 1 that is the per-step rounding. Expectations are unchanged (stochastic rounding is
unbiased: E[srnd(x f_k)] = x f_k 2^-31 ~ x (dec 2^-D)^k, the expectation of k per-step roundings), the
variance is lower (one rounding instead of k), and truncation drains less. On the evidence network 37-38 % of
the synapse-steps are visited (psi_j = 0 on most neuron-steps; measured, session 20). Event-driven updates of
per-synapse traces from the time since the last event are how event-driven simulators treat them (brian2's
event-driven synapse equations; SpiNNaker's STDP with its exponential look-up tables).

Numba caches a function by the hash of its own file: `learn_trial` compiles these in, so a change here must
drop its cache too (``backends.native_learn._bust_stale_kernel_cache`` hashes this file with the others).
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from .fixed_ops import splitmix64
from .learn_rows import products_round_to_zero, rnd, rsh0, srnd0, tdec

TAB_BITS = 31          # decay_table's fraction: f_k = (dec / 2^D)^k in Q0.31; f_k < 2^31 for k >= 1 (an int32, so that
                       # x f_k with x an int32 ebar or h is one 32 x 32 -> 64-bit multiply, vpmuldq: 1 uop, not vpmullq's 3)


@njit(cache=True)
def decay_table(dec, D, n):
    """int64 [n + 1]: f_0 = 2^31, f_k = rnd(f_{k-1} dec, D) (round half up; f >= 0): (dec / 2^D)^k in Q0.31 by an
    integer recurrence (reproducible in Python; error < k / 2 units of 2^-31). f_1 = dec 2^(31 - D) exactly, so
    a stochastic rounding by f_1 at 2^-31 equals the per-step rounding by dec at 2^-D with the top D of the same
    31 random bits (the 31 - D bits below cannot carry: floor((x + u) / 2^D) is unchanged by adding < 1)."""
    f = np.empty(n + 1, np.int64)
    f[0] = np.int64(1) << TAB_BITS
    for k in range(1, n + 1):
        f[k] = (f[k - 1] * dec + (np.int64(1) << (D - 1))) >> D
    return f


@njit(cache=True)
def elig_cols(eb, hh, pac, cptr, cpad, cpre, cgap, pre_a, prep_a, act, n_act, kgap, psi, Lg, Rg, qj, qa, stoch, key0,
              e_shift, q_frac, emax, sh, do_acc, task, L, rr, gtp, grp, at, ar, fk_t, fa_t, pb, ppb, ev_b,
              skip_zero=True):
    """Per-synapse eligibility of the active posts' columns of one projection this step and, if do_acc, their
    products into pac (int64, column order; `learn_trial` adds it to the CSR accumulator at the trial end).
    Returns (clipped eligibility values, synapses visited).

    Column order: post j's synapses are s = cptr[j]..cptr[j+1]-1, their pres cpre[s] ascending, shape cgap[j]
    (how its pre traces are copied); s is also the synapse's hash counter. Their state is at positions
    cpad[j] .. cpad[j+1]-1 of a layout whose columns may be padded (`kernels.csr.pad_columns`: up to a multiple of
    8 where that adds at most 4, so that the loops run whole 8-lane vectors instead of a costlier scalar tail;
    cpad = cptr: none). A padding entry has pre trace 0, so its ebar, h, e and products stay 0 (srnd0 of 0 is 0:
    the random bits added are below one unit). eb, hh: int32 [cpad[-1]] per-synapse ebar and h (eps^a) in
    column order.

    act[:n_act]: the posts visited this step, ascending; kgap[j]: steps since post j's last visit (1: the last
    step; k > 1: k - 1 steps of pure decay were deferred). fk_t / fa_t (`decay_table`): the decays of ebar
    (kappa) and h (rho_a) over k steps in Q0.31. Then, for synapse c of pre i:
      h_c = trunc|srnd(h_c f^a_k + (q_j (prep_i - h_c) << (31 - q_frac))) at 2^-31 (posts with adaptation,
            qa_j != 0; truncation: trunc0(h f^a_k >> 31) + rnd(q_j (prep_i - h_c) >> q_frac)),
      e_c = rnd|srnd(psi_j (pre_i - h_c) >> e_shift), ebar_c = clip(trunc|srnd(ebar_c f_k at 2^-31) + e_c),
      pac_c += rnd((Lg_j ebar_c + Rg_j e_c) >> sh), or with wide traces (at, ar > 0)
      rnd((rnd(L_j ebar_c >> at) gtp + rnd(r_j e_c >> ar) grp) >> sh).
    With k = 1 this is the per-step update: f_1 = dec 2^(31 - D), and a stochastic rounding of x 2^(31 - D) at
    2^-31 by 31 random bits is that of x at 2^-D by their top D bits (`decay_table`); a truncation likewise.
    Stochastic roundings: the hash r = splitmix64(key0 + s) gives e its top e_shift bits and h its bits 31..1;
    ebar's decay takes r's bits 30..0 at a post without adaptation (one hash per synapse) and the
    top 31 bits of splitmix64(key0 + nnz + s) at a post with adaptation. A post without adaptation keeps h = 0
    (q_j = 0 for ever), so its update is skipped (it would add srnd(0) = 0). skip_zero (tests: False runs every
    product): skip a column's products when each rounds to 0 (`products_round_to_zero`; at a post without
    adaptation from bounds known before its loop, at one with adaptation from the column's largest |ebar|, |e|,
    reduced in the state loop). pb, ppb, ev_b: int64 scratch of at least the longest column, distinct arrays."""
    half = np.int64(1) << (sh - 1)
    nnz = uint64(cptr[cptr.shape[0] - 1])              # ebar's second counter range (posts with adaptation)
    sat = 0
    vis = 0
    pmax = np.int64(0)                                 # the largest pre trace (>= 0) this step: the e bound
    for i in range(pre_a.shape[0]):
        pmax = max(pmax, pre_a[i])
    for s in range(n_act):
        j = act[s]
        ct = cptr[j]                                   # the column's synapse numbers (hash counters, cpre)
        n = cptr[j + 1] - ct
        if n == 0:
            continue
        vis += n
        c0 = cpad[j]                                   # its state: positions c0 .. c0 + npad - 1
        npad = cpad[j + 1] - c0
        kc = key0 + uint64(ct)                         # counter of its synapse k: kc + k (= key0 + synapse number)
        kc2 = key0 + nnz + uint64(ct)
        m = cgap[j]
        ad = qa[j] != 0
        kg = kgap[j]
        # this step's decay and the kg - 1 deferred ones in one rounding at 2^-31 (kg = 1: the per-step
        # rounding; `decay_table`). q_j = 0 whenever kg > 1 (q_j = f(psi_j one step before), and a post with
        # psi_j != 0 was visited then), so h's deferred steps are pure decays too
        fk = fk_t[kg]
        fa = fa_t[kg]
        # the column's pre traces into pb (ppb: the previous ones, at a post with adaptation), contiguous so that
        # the loops below vectorise: m = -1 a full column (entry k is pre k), m >= 0 every pre but m (entry k is
        # pre k + [k >= m]: two copies), else gathered through cpre (0.10 against 0.33 ns per element, session
        # 17). Written out here rather than through an inline helper: each array parameter of an inlined helper
        # costs an atomic incref / decref pair per call, which Numba's reference-count pruning leaves in place
        # across the helper's loops (16 % of the LIF trial's samples in NRT_incref / NRT_decref, perf, session 20)
        if m == -1:
            for k in range(n):
                pb[uint64(k)] = pre_a[uint64(k)]
        elif m >= 0:
            mm = min(m, n)
            for k in range(mm):
                pb[uint64(k)] = pre_a[uint64(k)]
            for k in range(mm, n):
                pb[uint64(k)] = pre_a[uint64(k + 1)]
        else:
            for k in range(n):
                pb[uint64(k)] = pre_a[np.uint32(cpre[uint64(ct + k)])]
        for k in range(n, npad):                       # the padding's pre traces: 0, so its state stays 0
            pb[uint64(k)] = 0
        ps = psi[j]
        if ad:
            fk32 = np.int64(np.int32(fk))              # < 2^31 (k >= 1): vpmuldq products
            fa32 = np.int64(np.int32(fa))
            mxe = np.int64(0)                          # the column's largest |ebar|, |e| (the product skip)
            mxv = np.int64(0)
            if m == -1:                                # as pb above
                for k in range(n):
                    ppb[uint64(k)] = prep_a[uint64(k)]
            elif m >= 0:
                mm = min(m, n)
                for k in range(mm):
                    ppb[uint64(k)] = prep_a[uint64(k)]
                for k in range(mm, n):
                    ppb[uint64(k)] = prep_a[uint64(k + 1)]
            else:
                for k in range(n):
                    ppb[uint64(k)] = prep_a[np.uint32(cpre[uint64(ct + k)])]
            for k in range(n, npad):
                ppb[uint64(k)] = 0
            qq = qj[j]
            if stoch:
                for k in range(npad):
                    c = uint64(c0 + k)
                    rk = splitmix64(kc + uint64(k))
                    hold = np.int64(hh[c])
                    # one unbiased rounding of decay + increment (both far below one trace LSB per step:
                    # tau_a = 2000 steps) at 2^-31, bits 31..1 of the hash (the top 31 of rot32), disjoint from
                    # e's top bits
                    hq = srnd0(hold * fa32 + ((qq * (ppb[uint64(k)] - hold)) << (31 - q_frac)), 31,
                               (rk << uint64(32)) | (rk >> uint64(32)))
                    hh[c] = hq
                    e = srnd0(ps * (pb[uint64(k)] - hq), e_shift, rk)
                    ebv = srnd0(np.int64(eb[c]) * fk32, 31, splitmix64(kc2 + uint64(k))) + e
                    ec = min(max(ebv, -emax), emax)
                    sat += ec != ebv
                    eb[c] = ec
                    ev_b[uint64(k)] = e
                    mxe = max(mxe, abs(ec))
                    mxv = max(mxv, abs(e))
            else:
                for k in range(npad):
                    c = uint64(c0 + k)
                    hold = np.int64(hh[c])
                    hq = tdec(hold, fa, 31) + rsh0(qq * (ppb[uint64(k)] - hold), q_frac)
                    hh[c] = hq
                    e = rsh0(ps * (pb[uint64(k)] - hq), e_shift)
                    ebv = tdec(np.int64(eb[c]), fk, 31) + e
                    ec = min(max(ebv, -emax), emax)
                    sat += ec != ebv
                    eb[c] = ec
                    ev_b[uint64(k)] = e
                    mxe = max(mxe, abs(ec))
                    mxv = max(mxv, abs(e))
        else:
            # products fused into the state loop; the exact skip from bounds known before it: |e| <=
            # (psi_j max pre >> e_shift) + 1 (a rounding adds < 1), |ebar| <= emax
            lg, rg, lj, rj = Lg[j], Rg[j], L[j], rr[j]
            if not do_acc:
                mode = 0
            elif at != 0 or ar != 0:
                mode = 3
            else:
                eb_max = ((ps * pmax) >> e_shift) + 1
                if skip_zero and products_round_to_zero(abs(lg), emax, abs(rg), eb_max, half):
                    mode = 0
                elif lg != 0:
                    mode = 1
                elif skip_zero and products_round_to_zero(0, 0, abs(rg), eb_max, half):
                    mode = 0
                else:
                    mode = 2
            # one hash per synapse, splitmix64(key0 + c): e from its top e_shift bits, ebar's decay from bits 30..0
            # (disjoint for e_shift <= 33). Both factors fit an int32 (a pre trace and psi: trace-wide codes;
            # f_k < 2^31): a sign-extended int32 product is one vpmuldq per 8 lanes (100 -> 40 vpmullq, asm). The
            # stochastic loop is written out per mode, the mode test hoisted, so that each one vectorises (one body
            # shared through an inline helper returning a tuple compiled to scalar code with calls, asm)
            ps32 = np.int64(np.int32(ps))
            fk32 = np.int64(np.int32(fk))
            if stoch:
                if mode == 0:
                    for k in range(npad):
                        c = uint64(c0 + k)
                        rk = splitmix64(kc + uint64(k))
                        e = srnd0(ps32 * np.int64(np.int32(pb[uint64(k)])), e_shift, rk)
                        ebv = srnd0(np.int64(eb[c]) * fk32, 31, rk << uint64(33)) + e
                        ec = min(max(ebv, -emax), emax)
                        sat += ec != ebv
                        eb[c] = ec
                elif mode == 1:
                    for k in range(npad):
                        c = uint64(c0 + k)
                        rk = splitmix64(kc + uint64(k))
                        e = srnd0(ps32 * np.int64(np.int32(pb[uint64(k)])), e_shift, rk)
                        ebv = srnd0(np.int64(eb[c]) * fk32, 31, rk << uint64(33)) + e
                        ec = min(max(ebv, -emax), emax)
                        sat += ec != ebv
                        eb[c] = ec
                        pac[c] += rnd(lg * ec + rg * e, sh)
                elif mode == 2:
                    for k in range(npad):
                        c = uint64(c0 + k)
                        rk = splitmix64(kc + uint64(k))
                        e = srnd0(ps32 * np.int64(np.int32(pb[uint64(k)])), e_shift, rk)
                        ebv = srnd0(np.int64(eb[c]) * fk32, 31, rk << uint64(33)) + e
                        ec = min(max(ebv, -emax), emax)
                        sat += ec != ebv
                        eb[c] = ec
                        pac[c] += rnd(rg * e, sh)
                else:
                    for k in range(npad):
                        c = uint64(c0 + k)
                        rk = splitmix64(kc + uint64(k))
                        e = srnd0(ps32 * np.int64(np.int32(pb[uint64(k)])), e_shift, rk)
                        ebv = srnd0(np.int64(eb[c]) * fk32, 31, rk << uint64(33)) + e
                        ec = min(max(ebv, -emax), emax)
                        sat += ec != ebv
                        eb[c] = ec
                        pac[c] += rnd(rsh0(lj * ec, at) * gtp + rsh0(rj * e, ar) * grp, sh)
            else:
                for k in range(npad):                     # truncation (not a speed path): one loop, mode inside
                    c = uint64(c0 + k)
                    e = rsh0(ps * pb[uint64(k)], e_shift)
                    ebv = tdec(np.int64(eb[c]), fk, 31) + e
                    ec = min(max(ebv, -emax), emax)
                    sat += ec != ebv
                    eb[c] = ec
                    if mode == 1:
                        pac[c] += rnd(lg * ec + rg * e, sh)
                    elif mode == 2:
                        pac[c] += rnd(rg * e, sh)
                    elif mode == 3:
                        pac[c] += rnd(rsh0(lj * ec, at) * gtp + rsh0(rj * e, ar) * grp, sh)
            continue
        if not do_acc:
            continue
        if at == 0 and ar == 0:
            lg = Lg[j]
            rg = Rg[j]
            # every product rnd(Lg_j ebar_q + Rg_j e_q) is 0 when |Lg_j|, |Rg_j| times the column's largest
            # |ebar|, |e| stay below half an LSB: exact skip
            if skip_zero and products_round_to_zero(abs(lg), mxe, abs(rg), mxv, half):
                continue
            if task:
                for k in range(npad):
                    c = uint64(c0 + k)
                    pac[c] += rnd(lg * eb[c] + rg * ev_b[uint64(k)], sh)
            else:                                      # Lg = 0: the same sums without their zero terms
                for k in range(npad):
                    c = uint64(c0 + k)
                    pac[c] += rnd(rg * ev_b[uint64(k)], sh)
        else:
            lj = L[j]
            rj = rr[j]
            for k in range(npad):
                c = uint64(c0 + k)
                pac[c] += rnd(rsh0(lj * eb[c], at) * gtp + rsh0(rj * ev_b[uint64(k)], ar) * grp, sh)
    return sat, vis
