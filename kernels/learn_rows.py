"""Row-level integer operations of the on-chip e-prop kernel (`kernels.learn_trial`): the rounding forms,
the counter-based hash keys, the per-synapse eligibility of a projection's rows (`elig_rows`) and one
projection's factorised products (`outer_rows`) per step (docs/fixed_point.md "Learning (on-chip e-prop)").

Numba caches a function by the hash of its own file: `learn_trial` compiles these in, so a change here must
drop its cache too (``backends.native_learn._bust_stale_kernel_cache`` hashes this file with the others).
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from .fixed_ops import splitmix64, stoch_shift

DENSE_FRAC = 8


@njit(cache=True, inline="always")
def key(seed, stream, a, b):
    """Counter for the hash generator from (seed, stream, a, b) (docs/fixed_point.md), mixed again by
    splitmix64 where it is used; ``key(.., b) == key(.., 0) + b`` (one hash per row of indices)."""
    k = splitmix64(uint64(seed) * uint64(0x100000) + uint64(stream))
    return splitmix64(k + uint64(a) * uint64(0x9E3779B97F4A7C15)) + uint64(b)


@njit(cache=True, inline="always")
def rnd(x, k):
    """Round half away from zero of x / 2^k, k > 0, branch-free in x: (x + 2^(k-1) - [x < 0]) >> k.
    Symmetric (no floor bias of a signed >>): rnd(-x) = -rnd(x)."""
    return (x + (np.int64(1) << (k - 1)) + (x >> 63)) >> k


@njit(cache=True, inline="always")
def rsh(x, k):
    """rnd(x, k) for k > 0, x << -k otherwise."""
    return rnd(x, k) if k > 0 else x << (-k)


@njit(cache=True, inline="always")
def srnd(x, k, r):
    """Stochastic rounding of x / 2^k given r = splitmix64(key): floor((x + top k bits of r) / 2^k)."""
    if k <= 0:
        return x << (-k)
    return (x + np.int64(r >> uint64(64 - k))) >> k


@njit(cache=True, inline="always")
def srnd0(x, k, r):
    """srnd(x, k, r) for 0 <= k <= 63 without a branch (so that row loops vectorise): the top k bits of r are
    (r >> 1) >> (63 - k), which is 0 for k = 0 (r >> 1 < 2^63)."""
    return (x + np.int64((r >> uint64(1)) >> uint64(63 - k))) >> k


@njit(cache=True, inline="always")
def rsh0(x, k):
    """rsh(x, k) for k >= 0 without a branch: half = 2^k >> 1 (0 for k = 0, where the [x < 0] term is masked
    off too, leaving x)."""
    half = (np.int64(1) << k) >> 1
    return (x + half + ((x >> 63) & -np.int64(half != 0))) >> k


@njit(cache=True, inline="always")
def tdec(x, dec, D):
    """trunc0(x dec / 2^D) without branches: (p + [p < 0] (2^D - 1)) >> D, p = x dec (lava's decays)."""
    p = x * dec
    return (p + ((p >> 63) & ((np.int64(1) << D) - 1))) >> D


@njit(cache=True, inline="always")
def decay_trace(x, d, D, stochastic, k):
    """Leak a non-negative per-neuron trace by a D-bit decay: truncation, or stochastic rounding."""
    p = x * ((1 << D) - d)
    if stochastic:
        return stoch_shift(p, D, k)
    return p >> D


@njit(cache=True, inline="always")
def clip(x, m):
    """(clip(x, -m, m), 1 if clipped)."""
    if x > m:
        return m, 1
    if x < -m:
        return -m, 1
    return x, 0


@njit(cache=True, inline="always")
def load_row(src, idx, a, k0, n, m, buf):
    """The per-post operand src[post] of the row positions k0..k0+n-1 (the synapses a..a+n-1, targets
    idx[a..]) into buf[0:n], contiguous so that the row loops of `elig_rows` vectorise (indexing src through
    the targets inside them blocks that). m: the row's shape (``kernels.csr.row_gaps``): -1 a full row
    (position p is post p), >= 0 every post but m (a recurrent row without its self-synapse: p -> p + [p >= m],
    two contiguous copies, 0.10 ns per element against 0.33 for a gather through the targets, measured on
    99-synapse rows), < -1 any other row (gathered). No slices are taken: a row view costs an atomic reference
    count increment and decrement, and `elig_rows` took several per segment (removing them and the separate
    max pass: 7.3-7.6 -> 6.2-6.5 us per call on 140 7-synapse rows, measured, session 18)."""
    if m == -1:
        for k in range(n):
            buf[uint64(k)] = src[uint64(k0 + k)]
    elif m >= 0:
        mm = min(max(m - k0, 0), n)                    # positions before the missing post
        for k in range(mm):
            buf[uint64(k)] = src[uint64(k0 + k)]
        for k in range(mm, n):
            buf[uint64(k)] = src[uint64(k0 + k + 1)]
    else:
        for k in range(n):
            buf[uint64(k)] = src[np.uint32(idx[uint64(a + k)])]


@njit(cache=True, inline="always")
def products_round_to_zero(m1, x1, m2, x2, half):
    """True when every product |f1 y1 + f2 y2| with |f1| <= m1, 0 <= y1 <= x1, |f2| <= m2, 0 <= y2 <= x2 rounds to 0
    under rnd(., sh), half = 2^(sh-1): |f1 y1 + f2 y2| <= m1 x1 + m2 x2 < half, and rnd(x, sh) = 0 for
    |x| < 2^(sh-1). The exact zero-product skip of `elig_rows` and `outer_rows`. Each of m1 x1 and m2 x2 is the
    size of a product the caller forms anyway (no new overflow); their sum is compared without being formed."""
    t1 = m1 * x1
    return t1 < half and m2 * x2 < half - t1


@njit(cache=True)
def elig_rows(eb, hh, pa, ptr, idx, seg, gap, pre_a, prep_a, live_a, psi, Lg, Rg, qj, adapt, stoch, key0, e_shift, dk,
              da, D, q_frac, emax, sh, do_acc, task, L, rr, gtp, grp, at, ar, rbuf, ps_b, qs_b, lg_b, rg_b, ev_b,
              skip_zero=True):
    """Per-synapse eligibility of every presynaptic row i of one projection this step and, if do_acc, its
    products into pa (int64). Returns the number of clipped eligibility values.

    Row i: e_q = rnd|srnd(psi_j (pre_i - h_q) >> e_shift), ebar_q = clip(decay(ebar_q) + e_q),
    pa_q += rnd((Lg_j ebar_q + Rg_j e_q) >> sh) with Lg = L gtp, Rg = r grp, or, when the raw products need a
    pre-shift (at, ar > 0: wide traces), rnd((rnd(L_j ebar_q >> at) gtp + rnd(r_j e_q >> ar) grp) >> sh).
    pre_a / prep_a [n_rows]: the pre trace now and one step before. gap [n_rows]: each row's shape
    (``kernels.csr.row_gaps``): how `load_row` copies the row's per-post operands into contiguous scratch.
    Stochastic rounding draws splitmix64(key0 + q) for e_q and splitmix64(key0 + q + 1) for the decay of
    ebar_q (rbuf: scratch of at least the longest row + 1).
    ps_b, qs_b, lg_b, rg_b, ev_b: int64 scratch of at least the longest row, distinct arrays (the row's
    per-post operands, and e), so that LLVM can prove the row loops free of aliasing. task: this
    step has a task signal (some L_j != 0); without it Lg = 0. skip_zero (tests: False runs every product
    pass): skip a segment's products when each of them rounds to 0 (`products_round_to_zero` on the step's
    largest |Lg|, |Rg| and the segment's largest |ebar|, |e|, which the state pass reduces; at = ar = 0 only).

    Two segments per row, each skipped exactly when it is all zero and stays zero. seg[i]: row i's positions
    [0, seg[i]) reach posts without adaptation (qa_mant_j = 0, so q_j = 0 and h_q = 0 for ever: h's update is
    skipped there, it would add srnd(0) = 0), positions [seg[i], n) the rest (``native_learn.adapt_segments``;
    seg = n without adaptation). live_a [n_rows, 2] (uint8, updated): the segment has nonzero state. The
    first segment is zero and stays zero when pre_i = 0 (e = 0, the decay of 0 is 0, srnd of 0 is 0); the
    second needs prep_i = 0 too (h's increment q (prep - h)). Splitting matters because h (tau_a ~ 2000 steps)
    keeps rows to adaptive posts alive for thousands of steps, while the rest die with ebar (tau ~ 20 steps).

    All rows are done in this one call (not one call per row): a call cost ~200 ns of argument passing and
    reference counting, as much as 60 % of a 100-synapse row (measured, issue 11). Within a
    segment: three branch-free passes (hashes, state, products) so that each one vectorises; every shift here
    is >= 0 (e_shift, pre_shift and q_frac by lowering, D and hs >= 12), hence srnd0 / rsh0."""
    n_rows = ptr.shape[0] - 1
    npost = psi.shape[0]
    dec = (np.int64(1) << D) - dk
    deca = (np.int64(1) << D) - da                     # adaptation decay numerator (of 2^D)
    hs = max(q_frac, D)                                # h's stochastic rounding point: 2^-hs (<= 32 bits)
    sat = 0
    aml = np.int64(0)                                  # the largest |Lg_j|, |Rg_j| this step (the product skip)
    amr = np.int64(0)
    if do_acc:
        for j in range(npost):
            aml = max(aml, abs(Lg[j]))
            amr = max(amr, abs(Rg[j]))
    half = np.int64(1) << (sh - 1)
    for i in range(n_rows):
        pre = pre_a[i]
        prep = prep_a[i]
        a0 = ptr[i]
        n_row = ptr[i + 1] - a0
        full = n_row == npost                          # ascending unique targets: position k is post k
        split = seg[i] if adapt else n_row
        m = -1 if full else gap[i]                     # load_row's shape code
        for sg in range(2):
            ad = sg == 1
            k0 = 0 if sg == 0 else split
            n = (split if sg == 0 else n_row) - k0
            if n == 0:
                continue
            if live_a[i, sg] == 0 and pre == 0 and (prep == 0 or not ad):
                continue                               # all-zero segment stays zero (exact skip)
            # synapse a + k is position k0 + k of the row; no array views below (`load_row`)
            a = a0 + k0
            load_row(psi, idx, a, k0, n, m, ps_b)
            live = 0                                   # OR of the segment's h (adaptive segments)
            mxe = np.int64(0)                          # the segment's largest |ebar|, |e| (the product skip and
            mxv = np.int64(0)                          # the live flag), reduced in the state pass
            if stoch:
                for k in range(n + 1):
                    rbuf[uint64(k)] = splitmix64(key0 + uint64(a + k))
            if ad:
                load_row(qj, idx, a, k0, n, m, qs_b)
                if stoch:
                    for k in range(n):
                        q = uint64(a + k)
                        hold = np.int64(hh[q])
                        rk = rbuf[uint64(k)]
                        # one unbiased rounding of decay + increment at 2^-hs: both are far below one trace LSB
                        # per step (tau_a = 2000 steps: decay 1e-3 h; c_a beta psi (pre - h) ~ 0.3 for an input
                        # trace), so truncation would drain h by 1 LSB per step and nearest would drop every
                        # increment. Bits 31..32-hs of the row hash (rot32): disjoint from the top bits of e, ebar
                        hq = srnd0(((hold * deca) << (hs - D)) + ((qs_b[uint64(k)] * (prep - hold)) << (hs - q_frac)),
                                  hs, (rk << uint64(32)) | (rk >> uint64(32)))
                        hh[q] = hq
                        e = srnd0(ps_b[uint64(k)] * (pre - hq), e_shift, rk)
                        ebv = srnd0(np.int64(eb[q]) * dec, D, rbuf[uint64(k + 1)]) + e
                        ec = min(max(ebv, -emax), emax)
                        sat += ec != ebv
                        eb[q] = ec
                        ev_b[uint64(k)] = e
                        live |= hq
                        mxe = max(mxe, abs(ec))
                        mxv = max(mxv, abs(e))
                else:
                    for k in range(n):
                        q = uint64(a + k)
                        hold = np.int64(hh[q])
                        hq = tdec(hold, deca, D) + rsh0(qs_b[uint64(k)] * (prep - hold), q_frac)
                        hh[q] = hq
                        e = rsh0(ps_b[uint64(k)] * (pre - hq), e_shift)
                        ebv = tdec(np.int64(eb[q]), dec, D) + e
                        ec = min(max(ebv, -emax), emax)
                        sat += ec != ebv
                        eb[q] = ec
                        ev_b[uint64(k)] = e
                        live |= hq
                        mxe = max(mxe, abs(ec))
                        mxv = max(mxv, abs(e))
            elif stoch:
                for k in range(n):
                    q = uint64(a + k)
                    e = srnd0(ps_b[uint64(k)] * pre, e_shift, rbuf[uint64(k)])
                    ebv = srnd0(np.int64(eb[q]) * dec, D, rbuf[uint64(k + 1)]) + e
                    ec = min(max(ebv, -emax), emax)
                    sat += ec != ebv
                    eb[q] = ec
                    ev_b[uint64(k)] = e
                    mxe = max(mxe, abs(ec))
                    mxv = max(mxv, abs(e))
            else:
                for k in range(n):
                    q = uint64(a + k)
                    e = rsh0(ps_b[uint64(k)] * pre, e_shift)
                    ebv = tdec(np.int64(eb[q]), dec, D) + e
                    ec = min(max(ebv, -emax), emax)
                    sat += ec != ebv
                    eb[q] = ec
                    ev_b[uint64(k)] = e
                    mxe = max(mxe, abs(ec))
                    mxv = max(mxv, abs(e))
            live_a[i, sg] = (live | mxe) != 0             # some ebar or h nonzero
            # products: on a step without a task signal (task False: L = 0, so Lg = 0) they are rnd(Rg e), and
            # e = 0 in a non-adaptive segment whose pre trace is 0 (e = srnd(psi pre)): nothing to add
            if do_acc and (task or ad or pre != 0):
                if at == 0 and ar == 0:
                    # every product rnd(Lg_j ebar_q + Rg_j e_q) is 0 when the step's largest |Lg|, |Rg| times the
                    # segment's largest |ebar|, |e| stay below half an LSB: exact skip
                    if skip_zero and products_round_to_zero(aml, mxe, amr, mxv, half):
                        continue
                    load_row(Rg, idx, a, k0, n, m, rg_b)
                    if task:
                        load_row(Lg, idx, a, k0, n, m, lg_b)
                        for k in range(n):
                            q = uint64(a + k)
                            pa[q] += rnd(lg_b[uint64(k)] * eb[q] + rg_b[uint64(k)] * ev_b[uint64(k)], sh)
                    else:                              # Lg = 0: the same sums without their zero terms
                        for k in range(n):
                            pa[uint64(a + k)] += rnd(rg_b[uint64(k)] * ev_b[uint64(k)], sh)
                else:
                    load_row(L, idx, a, k0, n, m, lg_b)
                    load_row(rr, idx, a, k0, n, m, rg_b)
                    for k in range(n):
                        q = uint64(a + k)
                        pa[q] += rnd(rsh0(lg_b[uint64(k)] * eb[q], at) * gtp
                                     + rsh0(rg_b[uint64(k)] * ev_b[uint64(k)], ar) * grp, sh)
    return sat


@njit(cache=True)
def outer_rows(pa, ptr, idx, pos, gap, Mt, Mr, pre_t, pre_r, sh, act, n_act, task, mt_a, mr_a, vals):
    """Factorised products of every presynaptic row i of one projection with pre_t[i] != 0:
    pa_q += rnd((Mt_j pre_t[i] + Mr_j pre_r[i]) >> sh) (int64, no clip): the task factor Mt times the
    kappa-filtered pre trace, the regulariser factor Mr times the pre trace. Rows that add 0 are skipped
    exactly: pre_t = 0 (pre_t >= pre_r >= 0 by construction: pk = 0 implies xbar = 0), and, on a step without
    a task signal (task False: L = 0, so Mt = 0 for every j), pre_r = 0. The second skip is most steps of a
    task whose error is masked to a response window: only rows with a nonzero pre trace now do work.

    act[:n_act]: the post neurons with a nonzero factor this step (ascending). A zero factor pair adds
    rnd(0) = 0, so visiting only them is exact; psi_j = 0 for most neurons most of the time (70-87 % of
    neuron-steps on the evidence network) and L_j = 0 outside the readout's mask. gap [n_pre] (the row's shape,
    ``kernels.csr.row_gaps``): a full row (-1) or a row of every post but m (m >= 0, a recurrent row
    without its self-synapse) is indexed by j directly: when enough posts are active (DENSE_FRAC), by a
    branch-free pass over the whole row (contiguous, vectorised: cheaper than a scattered add per active post),
    else at the active posts. Any other row goes through pos [n_pre, n_post] (its position of j, -1 if absent;
    ``backends.native_learn.position_map``), else by a scan of the row. Each synapse gets the same one
    addition per step on every path. One call for all rows (as `elig_rows`: a call per row costs more than a
    short row's work). mt_a, mr_a, vals: int64 scratch of at least n_post (the active posts' factors,
    compacted once per step, and a row's products: computed in a vectorised pass, then added)."""
    amt = np.int64(0)                          # the largest factors this step, |Mt_j| and |Mr_j|
    amr = np.int64(0)
    for q in range(n_act):
        mt = Mt[act[q]]
        mr = Mr[act[q]]
        mt_a[q] = mt
        mr_a[q] = mr
        amt = max(amt, abs(mt))
        amr = max(amr, abs(mr))
    half = np.int64(1) << (sh - 1)
    for i in range(ptr.shape[0] - 1):
        pt = pre_t[i]
        pp = pre_r[i]
        if pt == 0 or (not task and pp == 0):
            continue
        # every product rnd(Mt_j pt + Mr_j pp) of the row is 0 (pt, pp >= 0): exact skip. It takes most rows on
        # most steps, the regulariser's per-step share being below one accumulator LSB (70-83 % of the visited
        # rows on the evidence network, measured)
        if products_round_to_zero(amt, pt, amr, pp, half):
            continue
        a = ptr[i]
        n = ptr[i + 1] - a
        m = gap[i]
        if m >= -1:
            # full row (m = -1: position k is post k) or every post but m (position k is post k + [k >= m])
            if DENSE_FRAC * n_act >= n:
                m0 = n if m < 0 else m
                # unsigned indices into pa / Mt / Mr directly (no row views, no wraparound test): both loops
                # vectorise (0.2 ns per synapse, measured; Mt[k + 1] on a signed k, or a view per row, did not)
                for k in range(m0):                # branch-free: a zero factor pair adds rnd(0) = 0
                    pa[uint64(a + k)] += rnd(Mt[uint64(k)] * pt + Mr[uint64(k)] * pp, sh)
                for k in range(m0, n):             # positions m0.. reach posts m0 + 1..
                    pa[uint64(a + k)] += rnd(Mt[uint64(k + 1)] * pt + Mr[uint64(k + 1)] * pp, sh)
            else:
                for q in range(n_act):
                    vals[q] = rnd(mt_a[q] * pt + mr_a[q] * pp, sh)
                for q in range(n_act):
                    j = act[q]
                    if j != m:                     # post m has no synapse from this row
                        pa[uint64(a + j - (j > m) * (m >= 0))] += vals[q]
            continue
        if pos.shape[0] > 0:
            for q in range(n_act):
                vals[q] = rnd(mt_a[q] * pt + mr_a[q] * pp, sh)
            for q in range(n_act):
                k = pos[i, uint64(act[q])]
                if k >= 0:
                    pa[uint64(a + k)] += vals[q]
            continue
        for k in range(n):
            j = np.uint32(idx[a + k])
            mm = Mt[j]
            r = Mr[j]
            if mm != 0 or r != 0:
                pa[uint64(a + k)] += rnd(mm * pt + r * pp, sh)


@njit(cache=True)
def post_factors(L, rr, psi, pre_t, pre_r, gtp, grp, msh, Mt, Mr, act) -> int:
    """The factorised rule's per-post factors of one projection, one step (int64 [n_post] each):
    Mt_j = rnd(rnd(L_j psi_j >> pre_t) gtp >> msh) (task), Mr_j = rnd(rnd(r_j psi_j >> pre_r) grp >> msh)
    (regulariser); every shift >= 0 (lowering), so the branch-free rsh0. Then `active_posts` into act;
    returns their count. Its own function with branch-free loops, so that both vectorise (inside
    `learn_trial` the same loops cost ~1.2 ms of a 6.4 ms LIF trial, measured)."""
    n = L.shape[0]
    for j in range(n):
        Mt[j] = rsh0(rsh0(L[j] * psi[j], pre_t) * gtp, msh)
        Mr[j] = rsh0(rsh0(rr[j] * psi[j], pre_r) * grp, msh)
    return active_posts(Mt, Mr, act)


@njit(cache=True, inline="always")
def active_posts(Mt, Mr, act) -> int:
    """Fill act with the post indices j where Mt_j or Mr_j is nonzero (ascending); returns their count."""
    n_act = 0
    for j in range(Mt.shape[0]):                   # branch-free: act[n_act] is written, kept if j is active
        act[n_act] = j
        n_act += (Mt[j] | Mr[j]) != 0
    return n_act
