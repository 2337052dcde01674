"""kernels.learn_rows.elig_rows: its exact work skipping (whole segments of a row that are zero and stay
zero, products that are zero on a step without a task signal, and products that all round to 0) changes no
value. The same random step sequences are run with the skip and with every segment forced live (every synapse
visited every step, every product pass run); all state and products must agree bit for bit."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st
from numba import njit, uint64

from neurochip.backends.native_learn import adapt_segments
from neurochip.kernels.csr import row_gaps
from neurochip.kernels.learn_rows import elig_rows, load_row


def _run(rng_seed, n_pre, n_post, steps, stoch, force_live, e_shift, sh=8, all_but_one=False, use_gap=True):
    """all_but_one: every row reaches every post but one (as a recurrent row without its self-synapse);
    use_gap False: the rows' shapes withheld (gap -2), so their operands are gathered through the targets."""
    rng = np.random.default_rng(rng_seed)
    mask = rng.random((n_pre, n_post)) < 0.7
    mask[:, 0] = True                                          # no empty row
    if all_but_one:
        mask[:] = True
        mask[np.arange(n_pre), rng.integers(0, n_post, n_pre)] = False
    ptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    idx = np.concatenate([np.flatnonzero(r) for r in mask]).astype(np.int32)
    nnz = idx.size
    qa = np.zeros(n_post, np.int64)
    qa[n_post // 2:] = 1                                       # the first half of the posts does not adapt
    seg = adapt_segments(ptr, idx, qa)
    gap = row_gaps(ptr, idx, n_post) if use_gap else np.full(n_pre, -2, np.int64)
    eb, hh, pa = np.zeros(nnz, np.int32), np.zeros(nnz, np.int32), np.zeros(nnz, np.int64)
    live = np.zeros((n_pre, 2), np.uint8)
    pre = np.zeros(n_pre, np.int64)
    m = n_post + 1
    rbuf = np.zeros(m, np.uint64)
    bufs = [np.zeros(m, np.int64) for _ in range(5)]
    trace = []
    for t in range(steps):
        prep = pre.copy()
        # sparse pre activity and post factors (mostly zero, as on the chip), small enough that e often rounds
        # to 0 while h's increment does not: the case where a segment must be visited for prep alone
        pre = np.where(rng.random(n_pre) < 0.3, rng.integers(1, 40, n_pre), 0).astype(np.int64)
        psi = np.where(rng.random(n_post) < 0.3, rng.integers(1, 8, n_post), 0).astype(np.int64)
        qj = np.where(rng.random(n_post) < 0.5, rng.integers(1, 1 << 15, n_post), 0).astype(np.int64) * qa
        task = bool(rng.random() < 0.5)                       # steps without a task signal have Lg = 0
        Lg = rng.integers(-(1 << 20), 1 << 20, n_post).astype(np.int64) * task
        Rg = rng.integers(-(1 << 20), 1 << 20, n_post).astype(np.int64)
        if force_live:                                       # every segment visited, every product pass run
            live[:] = 1
        sat = elig_rows(eb, hh, pa, ptr, idx, seg, gap, pre, prep, live, psi, Lg, Rg, qj, True, stoch,
                        uint64(1000 + t), e_shift, 300, 40, 12, 16, 127, sh, True, task or force_live, Lg, Rg,
                        1, 1, 0, 0, rbuf, *bufs, not force_live)
        trace.append((eb.copy(), hh.copy(), pa.copy(), sat))
    return trace, seg, ptr


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_pre=st.integers(1, 6), n_post=st.integers(2, 10), stoch=st.booleans(),
       e_shift=st.integers(0, 8), sh=st.integers(1, 30))
def test_rows_without_one_post_equal_gathered(seed, n_pre, n_post, stoch, e_shift, sh):
    """Rows of every post but one (their operands copied in two runs, `learn_rows.load_row`) give the state and
    products of the same rows with their operands gathered through the targets, bit for bit."""
    runs, _, _ = _run(seed, n_pre, n_post, 30, stoch, False, e_shift, sh, all_but_one=True)
    gathered, _, _ = _run(seed, n_pre, n_post, 30, stoch, False, e_shift, sh, all_but_one=True, use_gap=False)
    for t, (a, b) in enumerate(zip(runs, gathered)):
        for x, y in zip(a[:3], b[:3]):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
        assert a[3] == b[3]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_pre=st.integers(1, 6), n_post=st.integers(2, 10),
       stoch=st.booleans(), e_shift=st.integers(0, 8), sh=st.integers(1, 30))
def test_skipping_is_exact(seed, n_pre, n_post, stoch, e_shift, sh):
    """sh up to 30: from no product rounding to 0 to most of them (the zero-product skip)."""
    skipped, seg, ptr = _run(seed, n_pre, n_post, 30, stoch, False, e_shift, sh)
    visited, _, _ = _run(seed, n_pre, n_post, 30, stoch, True, e_shift, sh)
    assert np.all(seg <= np.diff(ptr))
    for t, (a, b) in enumerate(zip(skipped, visited)):
        for x, y in zip(a[:3], b[:3]):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
        assert a[3] == b[3]


def test_adaptive_segment_visited_for_the_previous_pre_alone():
    """pre = 0 now, prep != 0, nothing live: h still takes q (prep - 0) (the second segment's skip needs
    prep = 0 too). Truncating rounding: h = rnd(q prep >> 16) exactly."""
    ptr, idx = np.array([0, 4], np.int64), np.arange(4, dtype=np.int32)
    seg = adapt_segments(ptr, idx, np.array([0, 0, 5, 5]))
    assert seg.tolist() == [2]
    eb, hh, pa = np.zeros(4, np.int32), np.zeros(4, np.int32), np.zeros(4, np.int64)
    live = np.zeros((1, 2), np.uint8)
    qj = np.array([0, 0, 3 << 16, 7 << 16], np.int64)
    z = np.zeros(4, np.int64)
    bufs = [np.zeros(5, np.int64) for _ in range(5)]
    elig_rows(eb, hh, pa, ptr, idx, seg, np.full(1, -1, np.int64), np.array([0]), np.array([10]), live, z, z, z, qj, True, False,
              uint64(1), 0, 300, 40, 12, 16, 127, 8, True, False, z, z, 1, 1, 0, 0, np.zeros(5, np.uint64), *bufs)
    assert hh.tolist() == [0, 0, 30, 70] and live[0].tolist() == [0, 1]


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10_000), n_pre=st.integers(1, 8), n_post=st.integers(1, 8), p=st.floats(0.0, 1.0),
       shuffled=st.booleans())
def test_adapt_segments_is_the_leading_non_adaptive_run(seed, n_pre, n_post, p, shuffled):
    """Row by row: the length of the leading run of targets below the first adaptive post (empty rows, rows
    without any, unsorted rows included)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_pre, n_post)) < p
    rows = [np.flatnonzero(r) for r in mask]
    if shuffled:
        rows = [rng.permutation(r) for r in rows]
    ptr = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
    idx = np.concatenate(rows + [np.zeros(0, np.int64)]).astype(np.int32)
    qa = (rng.random(n_post) < 0.5).astype(np.int64)
    j_a = int(np.flatnonzero(qa)[0]) if qa.any() else n_post
    want = []
    for r in rows:
        k = 0
        while k < r.size and r[k] < j_a:
            k += 1
        want.append(k)
    assert adapt_segments(ptr, idx, qa).tolist() == want


def test_product_skip_at_its_bound():
    """One synapse, e = ebar = 1 on the first step (psi = pre = 1, e_shift = 0, truncating decays, no
    adaptation): its product rnd((Lg + Rg) >> sh) is 0 for |Lg + Rg| = 2^(sh-1) - 1 and +-1 for 2^(sh-1),
    with the skip on (round half away from zero), whichever factor carries it and with either sign."""
    sh = 12
    half = 1 << (sh - 1)
    ptr = np.array([0, 1], np.int64)
    idx = np.array([0], np.int32)
    seg = np.array([1], np.int64)                              # no adaptive segment
    for task, sign in ((False, 1), (False, -1), (True, 1), (True, -1)):
        for x, want in ((half - 1, 0), (half, sign)):
            g = np.array([sign * x], np.int64)
            zero = np.zeros(1, np.int64)
            Lg, Rg = (g, zero) if task else (zero, g)
            eb, hh, pa = np.zeros(1, np.int32), np.zeros(1, np.int32), np.zeros(1, np.int64)
            bufs = [np.zeros(2, np.int64) for _ in range(5)]
            elig_rows(eb, hh, pa, ptr, idx, seg, np.full(1, -1, np.int64), np.ones(1, np.int64), np.zeros(1, np.int64),
                      np.zeros((1, 2), np.uint8), np.ones(1, np.int64), Lg, Rg, zero, False, False, uint64(7), 0,
                      300, 40, 12, 16, 127, sh, True, task, Lg, Rg, 1, 1, 0, 0, np.zeros(2, np.uint64), *bufs)
            assert eb[0] == 1 and pa[0] == want, (task, sign, x, pa)


@njit(cache=False)
def _load_row(src, idx, a, k0, n, m, buf):
    load_row(src, idx, a, k0, n, m, buf)                       # inline="always": called from a jitted caller


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), n_post=st.integers(1, 40), shape=st.sampled_from(["full", "all_but_one", "random"]),
       use_gap=st.booleans(), cut=st.integers(0, 10_000), length=st.integers(0, 10_000))
def test_load_row_is_the_gather_through_the_targets(seed, n_post, shape, use_gap, cut, length):
    """`load_row` (contiguous copies for full rows and rows of every post but one, a gather otherwise) puts
    src[idx[a + k]] into buf[k] for every position of a segment k0..k0+n-1 of the row, whatever part of the
    row the segment is (segments start anywhere: `elig_rows` splits rows at their first adaptive post), and
    nothing past buf[n - 1]."""
    rng = np.random.default_rng(seed)
    if shape == "full":
        row = np.arange(n_post)
    elif shape == "all_but_one" and n_post > 1:
        row = np.delete(np.arange(n_post), rng.integers(0, n_post))
    else:
        row = np.flatnonzero(rng.random(n_post) < 0.5)
    ptr = np.array([0, 3, 3 + row.size], np.int64)                  # a 3-synapse row before it: a = 3 + k0
    idx = np.concatenate([[0, 1, 2], row]).astype(np.int32)
    gap = row_gaps(ptr, idx, n_post)[1] if use_gap else -2         # withheld shape: the gather path
    src = rng.integers(-1000, 1000, n_post).astype(np.int64)
    k0 = cut % (row.size + 1)                                       # any segment of the row, empty included
    n = length % (row.size - k0 + 1)
    buf = np.full(n_post + 2, 7777, np.int64)
    _load_row(src, idx, 3 + k0, k0, n, gap, buf)
    np.testing.assert_array_equal(buf[:n], src[row[k0:k0 + n]])
    assert np.all(buf[n:] == 7777)
