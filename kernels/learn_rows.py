"""Row-level integer operations of the on-chip e-prop kernel (`kernels.learn_trial`): the rounding forms,
the counter-based hash keys and one projection's factorised products (`outer_rows`) per step (the
per-synapse eligibility is `kernels.learn_cols`) (docs/fixed_point.md "Learning (on-chip e-prop)").

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
def products_round_to_zero(m1, x1, m2, x2, half):
    """True when every product |f1 y1 + f2 y2| with |f1| <= m1, 0 <= y1 <= x1, |f2| <= m2, 0 <= y2 <= x2 rounds to 0
    under rnd(., sh), half = 2^(sh-1): |f1 y1 + f2 y2| <= m1 x1 + m2 x2 < half, and rnd(x, sh) = 0 for
    |x| < 2^(sh-1). The exact zero-product skip of `learn_cols.elig_cols` and `outer_rows`. Each of m1 x1 and m2 x2 is the
    size of a product the caller forms anyway (no new overflow); their sum is compared without being formed."""
    t1 = m1 * x1
    return t1 < half and m2 * x2 < half - t1


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
    addition per step on every path. One call for all rows (a call per row costs more than a short row's work). mt_a, mr_a, vals: int64 scratch of at least n_post (the active posts' factors,
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
