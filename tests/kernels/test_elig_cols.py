"""kernels.learn_cols: the per-synapse eligibility by post column. Its exact work skipping (products that all
round to 0) and its operand copies change no value; its deferred (lazy) decays are one rounding by the Q0.32
decay table, equal to the per-step rounding for one step and unbiased for many; the CSC it reads is the CSR's
synapses. The whole-kernel check against the pure-Python model is tests/kernels/test_kernel_eprop.py."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st
from numba import njit, uint64

from neurochip.kernels.csr import csc_of, pad_columns, padded_positions, row_gaps
from neurochip.kernels.fixed_ops import splitmix64
from neurochip.kernels.learn_cols import decay_table, elig_cols
from neurochip.kernels.learn_rows import srnd0, tdec


def _network(rng, n_pre, n_post, shape):
    if shape == "all_but_one":                                 # a recurrent layer without self-synapses
        mask = np.ones((n_pre, n_post), bool)
        np.fill_diagonal(mask, False)
    else:
        mask = rng.random((n_pre, n_post)) < (1.0 if shape == "full" else 0.6)
    ptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    idx = np.concatenate([np.flatnonzero(r) for r in mask] + [np.zeros(0, np.int64)]).astype(np.int32)
    return mask, ptr, idx


def _run(seed, n_pre, n_post, steps, stoch, skip_zero, e_shift, sh, shape, use_gap=True, lazy=True, lanes=8):
    """Random sparse steps through elig_cols; returns per-step copies of (eb, hh, pac, sat, visits), the state in
    column order without padding (columns padded to ``lanes`` in the kernel's layout)."""
    rng = np.random.default_rng(seed)
    _, ptr, idx = _network(rng, n_pre, n_post, shape)
    cptr, cpre, cq, cgap = csc_of(ptr, idx, n_post)
    if not use_gap:
        cgap = np.full(n_post, -2, np.int64)                   # shapes withheld: every operand gathered
    cpad = pad_columns(cptr, lanes, lanes - 1)                 # every column padded (the kernel takes any layout)
    live = padded_positions(cptr, cpad)
    npad = int(cpad[-1])
    qa = np.zeros(n_post, np.int64)
    qa[n_post // 2:] = 1                                       # the first half of the posts does not adapt
    eb, hh, pac = np.zeros(npad, np.int32), np.zeros(npad, np.int32), np.zeros(npad, np.int64)
    fk, fa = decay_table(4096 - 300, 12, steps), decay_table(4096 - 40, 12, steps)
    last = np.full(n_post, -1, np.int64)
    kgap = np.ones(n_post, np.int64)
    act = np.zeros(n_post, np.int64)
    bufs = [np.zeros(n_pre + lanes, np.int64) for _ in range(3)]
    pre = np.zeros(n_pre, np.int64)
    out = []
    qj = np.zeros(n_post, np.int64)
    for t in range(steps):
        prep = pre.copy()
        pre = np.where(rng.random(n_pre) < 0.3, rng.integers(1, 40, n_pre), 0).astype(np.int64)
        psi = np.where(rng.random(n_post) < 0.3, rng.integers(1, 8, n_post), 0).astype(np.int64)
        task = bool(rng.random() < 0.5)                       # steps without a task signal have L = 0
        L = rng.integers(-50, 50, n_post).astype(np.int64) * task
        Lg = L * (1 << 14)
        Rg = rng.integers(-(1 << 20), 1 << 20, n_post).astype(np.int64)
        n_act = 0
        for j in range(n_post):
            if not lazy or psi[j] or qj[j] or L[j]:
                act[n_act] = j
                n_act += 1
                kgap[j] = t - last[j] if last[j] >= 0 else 1
                last[j] = t
        sat, vis = elig_cols(eb, hh, pac, cptr, cpad, cpre, cgap, pre, prep, act, n_act, kgap, psi, Lg, Rg, qj,
                             qa, stoch, uint64(1000 + t), e_shift, 16, 127, sh, True, task, L, Rg, 1 << 14, 1, 0, 0,
                             fk, fa, *bufs, skip_zero)
        pad = np.ones(npad, bool)
        pad[live] = False
        assert not eb[pad].any() and not hh[pad].any() and not pac[pad].any(), "a padding entry moved"
        out.append((eb[live].copy(), hh[live].copy(), pac[live].copy(), sat, vis))
        qj = np.where(psi > 0, rng.integers(1, 1 << 15, n_post), 0).astype(np.int64) * qa
    return out, cq


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_pre=st.integers(1, 6), n_post=st.integers(2, 10), stoch=st.booleans(),
       e_shift=st.integers(0, 8), sh=st.integers(1, 30), shape=st.sampled_from(["full", "all_but_one", "random"]),
       lazy=st.booleans())
def test_product_skip_and_operand_copies_are_exact(seed, n_pre, n_post, stoch, e_shift, sh, shape, lazy):
    """sh up to 30: from no product rounding to 0 to most of them. With the skip and without it, with the
    columns' operands copied in runs or gathered through the pres, and with the columns padded to 8 synapses
    or not, every state, product and count agree (and no padding entry ever moves)."""
    if shape == "all_but_one":
        n_pre = n_post
    ref, _ = _run(seed, n_pre, n_post, 30, stoch, False, e_shift, sh, shape, use_gap=False, lazy=lazy, lanes=1)
    for kw in ({"skip_zero": True}, {"skip_zero": False, "use_gap": True}, {"skip_zero": True, "lanes": 1}):
        got, _ = _run(seed, n_pre, n_post, 30, stoch, kw["skip_zero"], e_shift, sh, shape,
                      use_gap=kw.get("use_gap", True), lazy=lazy, lanes=kw.get("lanes", 8))
        for t, (a, b) in enumerate(zip(got, ref)):
            for x, y in zip(a[:3], b[:3]):
                np.testing.assert_array_equal(x, y, err_msg=f"step {t} {kw}")
            assert a[3:] == b[3:]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), stoch=st.booleans())
def test_lazy_visits_fewer_synapses(seed, stoch):
    """The lazy schedule visits fewer synapses than one visit per step on sparse activity (psi nonzero on 30 %
    of post-steps here). Its values are checked against the pure-Python model in test_kernel_eprop.py."""
    lazy, _ = _run(seed, 5, 8, 40, stoch, True, 2, 8, "random", lazy=True)
    eager, _ = _run(seed, 5, 8, 40, stoch, True, 2, 8, "random", lazy=False)
    assert sum(v[4] for v in lazy) < sum(v[4] for v in eager)


@settings(max_examples=300, deadline=None)
@given(x=st.integers(-(1 << 31) + 1, (1 << 31) - 1), r=st.integers(0, (1 << 64) - 1), D=st.integers(8, 24),
       dk=st.integers(1, 255))
def test_one_step_of_the_table_is_the_per_step_rounding(x, r, D, dk):
    """f_1 = dec 2^(31 - D), so rounding x f_1 at 2^-31 (the top 31 hash bits) is rounding x dec at 2^-D (the top
    D bits), stochastic and truncating: a lazy visit after one step is the per-step update bit for bit."""
    dec = (1 << D) - dk
    f = decay_table(dec, D, 3)
    assert f[0] == 1 << 31 and f[1] == dec << (31 - D) and f[1] < 1 << 31
    assert srnd0(np.int64(x) * f[1], 31, uint64(r)) == srnd0(np.int64(x) * dec, D, uint64(r))
    assert tdec(np.int64(x), f[1], 31) == tdec(np.int64(x), dec, D)


@settings(max_examples=100, deadline=None)
@given(D=st.integers(10, 20), dk=st.integers(1, 400), n=st.integers(1, 3000))
def test_decay_table_follows_the_power(D, dk, n):
    """f_k = (dec / 2^D)^k 2^31 within k/2 + 1 units (one half-unit rounding per step), non-increasing."""
    dec = (1 << D) - min(dk, (1 << D) - 1)
    f = decay_table(dec, D, n)
    k = np.arange(n + 1)
    exact = (dec / 2.0 ** D) ** k * 2.0 ** 31
    assert np.all(np.abs(f - exact) <= k / 2 + 1)
    assert np.all(np.diff(f) <= 0)


@njit(cache=False)
def _decays(x, dec, D, fk, k, n):
    """n samples of one k-step rounding of x (by fk at 2^-31) and of k per-step roundings (by dec at 2^-D)."""
    lazy = np.empty(n, np.int64)
    eager = np.empty(n, np.int64)
    for s in range(n):
        lazy[s] = srnd0(np.int64(x) * fk, 31, splitmix64(uint64(s)))
        v = np.int64(x)
        for i in range(k):
            v = srnd0(v * dec, D, splitmix64(uint64(s) + uint64(i + 1) * uint64(1 << 40)))
        eager[s] = v
    return lazy, eager


def test_a_deferred_decay_is_unbiased():
    """E[srnd(x f_k)] = x f_k 2^-31: the mean over 40,000 hashes of one k-step rounding, and of k per-step
    roundings, both land within 4 standard errors of x (dec / 2^D)^k; the lazy one has the smaller spread."""
    D, dec, x, k, n = 12, 4096 - 200, 77, 15, 40_000
    f = decay_table(dec, D, k)
    lazy, eager = _decays(x, dec, D, f[k], k, n)
    want = x * (dec / 2 ** D) ** k
    for a in (lazy.astype(np.float64), eager.astype(np.float64)):
        assert abs(a.mean() - want) < 4 * a.std() / np.sqrt(n), (a.mean(), want)
    assert lazy.std() < eager.std()
    # a biased rounding (truncation) of the same decays is caught by the same bound
    trunc = np.int64(x) * f[k] >> 31
    assert abs(trunc - want) > 4 * lazy.std() / np.sqrt(n)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), n_pre=st.integers(1, 12), n_post=st.integers(1, 12), p=st.floats(0.0, 1.0))
def test_csc_is_the_csr_by_post(seed, n_pre, n_post, p):
    """Column j lists the pres of post j ascending; cq is a permutation of the CSR positions and points at the
    CSR entry (pre, j); cgap is `row_gaps` of the columns."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_pre, n_post)) < p
    ptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    idx = np.concatenate([np.flatnonzero(r) for r in mask] + [np.zeros(0, np.int64)]).astype(np.int32)
    cptr, cpre, cq, cgap = csc_of(ptr, idx, n_post)
    pre_of = np.repeat(np.arange(n_pre), np.diff(ptr))
    assert sorted(cq.tolist()) == list(range(idx.size))
    for j in range(n_post):
        col = cpre[cptr[j]:cptr[j + 1]]
        np.testing.assert_array_equal(col, np.flatnonzero(mask[:, j]))
        np.testing.assert_array_equal(idx[cq[cptr[j]:cptr[j + 1]]], np.full(col.size, j))
        np.testing.assert_array_equal(pre_of[cq[cptr[j]:cptr[j + 1]]], col)
    np.testing.assert_array_equal(cgap, row_gaps(cptr, cpre, n_pre))
    # the padded layout (kernels.csr.pad_columns): a column is padded up to a multiple of 8 when that adds at most
    # 4 entries, else kept; entries in order
    cpad = pad_columns(cptr, 8)
    n, npad = np.diff(cptr), np.diff(cpad)
    np.testing.assert_array_equal(npad, np.where((-n) % 8 <= 4, n + (-n) % 8, n))
    pos = padded_positions(cptr, cpad)
    for j in range(n_post):
        np.testing.assert_array_equal(pos[cptr[j]:cptr[j + 1]], cpad[j] + np.arange(n[j]))
