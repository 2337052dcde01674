"""kernels.learn_rows.outer_rows (the factorised products of one projection, one step) and the row shapes it
dispatches on (kernels.csr.row_gaps): every path (dense pass over a full row or a row without one
post, active posts of such a row, the position map, the scan, the skip of rows whose products all round to 0)
adds exactly what the definition says."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from neurochip.backends.native_learn import position_map
from neurochip.kernels.csr import row_gaps
from neurochip.kernels.learn_rows import active_posts, outer_rows


def _csr(mask):
    ptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    idx = np.concatenate([np.flatnonzero(r) for r in mask] or [np.zeros(0, int)]).astype(np.int32)
    return ptr, idx


def _rows(rng, n_pre, n_post, kinds):
    """A mask whose rows are, by kinds[i]: 0 full, 1 every post but one, 2 random (p = 0.5), 3 empty."""
    mask = np.zeros((n_pre, n_post), bool)
    for i, kd in enumerate(kinds):
        if kd == 0:
            mask[i] = True
        elif kd == 1:
            mask[i] = True
            mask[i, rng.integers(n_post)] = False
        elif kd == 2:
            mask[i] = rng.random(n_post) < 0.5
    return mask


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), n_pre=st.integers(1, 10), n_post=st.integers(1, 40),
       kinds=st.lists(st.integers(0, 3), min_size=10, max_size=10))
def test_row_gaps_names_each_row(seed, n_pre, n_post, kinds):
    rng = np.random.default_rng(seed)
    mask = _rows(rng, n_pre, n_post, kinds[:n_pre])
    ptr, idx = _csr(mask)
    gap = row_gaps(ptr, idx, n_post)
    for i in range(n_pre):
        missing = np.flatnonzero(~mask[i])
        want = -1 if missing.size == 0 else (int(missing[0]) if missing.size == 1 and n_post > 1 else -2)
        assert gap[i] == want, (i, mask[i], gap[i])


def _reference(pa, ptr, idx, Mt, Mr, pt, pr, sh, task):
    """The definition, synapse by synapse: pa_q += rnd((Mt_j pt_i + Mr_j pr_i) >> sh) (round half away)."""
    out = pa.copy()
    for i in range(ptr.size - 1):
        if pt[i] == 0 or (not task and pr[i] == 0):
            continue
        for q in range(ptr[i], ptr[i + 1]):
            j = int(idx[q])
            x = int(Mt[j]) * int(pt[i]) + int(Mr[j]) * int(pr[i])
            h = 1 << (sh - 1)
            out[q] += (x + h) >> sh if x >= 0 else -((-x + h) >> sh)
    return out


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), n_pre=st.integers(1, 10), n_post=st.integers(2, 70),
       kinds=st.lists(st.integers(0, 3), min_size=10, max_size=10), p_act=st.floats(0.0, 1.0),
       task=st.booleans(), sh=st.integers(1, 40))
def test_outer_rows_every_path_equals_the_definition(seed, n_pre, n_post, kinds, p_act, task, sh):
    rng = np.random.default_rng(seed)
    mask = _rows(rng, n_pre, n_post, kinds[:n_pre])
    ptr, idx = _csr(mask)
    on = rng.random(n_post) < p_act                   # the active posts: few (sparse paths) to all (dense passes)
    Mt = np.where(on & task, rng.integers(-2**20, 2**20, n_post), 0).astype(np.int64)
    Mr = np.where(on, rng.integers(-2**20, 2**20, n_post), 0).astype(np.int64)
    pr = np.where(rng.random(n_pre) < 0.7, rng.integers(0, 2**12, n_pre), 0).astype(np.int64)
    pt = np.where(rng.random(n_pre) < 0.1, 0, pr + rng.integers(0, 2**12, n_pre)).astype(np.int64)
    pt[pr > 0] = np.maximum(pt[pr > 0], pr[pr > 0])   # pt >= pr >= 0 (pk = 0 implies xbar = 0)
    pa0 = rng.integers(-1000, 1000, ptr[-1]).astype(np.int64)
    want = _reference(pa0, ptr, idx, Mt, Mr, pt, pr, sh, task)
    act = np.zeros(n_post, np.int64)
    na = active_posts(Mt, Mr, act)
    scratch = [np.zeros(n_post, np.int64) for _ in range(3)]
    no_gaps = np.full(n_pre, -2, np.int64)
    no_pos = np.zeros((0, 0), np.int32)
    full_pos = position_map(ptr, idx, n_post)
    for gap, pos in ((row_gaps(ptr, idx, n_post), full_pos), (no_gaps, full_pos), (no_gaps, no_pos)):
        pa = pa0.copy()
        if na > 0:
            outer_rows(pa, ptr, idx, pos, gap, Mt, Mr, pt, pr, sh, act, na, task, *scratch)
        np.testing.assert_array_equal(pa, want)


def test_outer_rows_skips_the_missing_post_of_a_gap_row():
    """A row of every post but m, with m among a few active posts (the sparse path): post m gets nothing and
    the others get their own product (the dense pass is covered by the property test above)."""
    n_post, m = 64, 20
    mask = np.ones((1, n_post), bool)
    mask[0, m] = False
    ptr, idx = _csr(mask)
    gap = row_gaps(ptr, idx, n_post)
    assert gap[0] == m
    Mt = np.zeros(n_post, np.int64)
    Mr = np.zeros(n_post, np.int64)
    Mr[[3, m, m + 1]] = [1 << 10, 1 << 11, 1 << 12]   # 3 active posts of 63 synapses: the sparse path
    pt = np.array([4], np.int64)
    pr = np.array([4], np.int64)
    act = np.zeros(n_post, np.int64)
    na = active_posts(Mt, Mr, act)
    pa = np.zeros(ptr[-1], np.int64)
    outer_rows(pa, ptr, idx, np.zeros((0, 0), np.int32), gap, Mt, Mr, pt, pr, 2, act, na, False,
               *[np.zeros(n_post, np.int64) for _ in range(3)])
    want = np.zeros(ptr[-1], np.int64)
    want[3] = (1 << 10) * 4 >> 2
    want[m] = (1 << 12) * 4 >> 2                      # position m holds post m + 1
    np.testing.assert_array_equal(pa, want)


def test_outer_rows_row_skip_at_its_bound():
    """A row is skipped only when every product rounds to 0: |x| = 2^(sh-1) - 1 adds 0, |x| = 2^(sh-1) adds +-1
    (round half away from zero), whether the largest factor is the task's or the regulariser's."""
    sh = 10
    half = 1 << (sh - 1)
    ptr, idx = _csr(np.ones((1, 4), bool))
    gap = row_gaps(ptr, idx, 4)
    for task, sign in ((False, 1), (False, -1), (True, 1), (True, -1)):
        for x, want in ((half - 1, 0), (half, sign)):
            Mt = np.zeros(4, np.int64)
            Mr = np.zeros(4, np.int64)
            (Mt if task else Mr)[2] = sign * x
            Mr[0] = 1 if task else 0                  # a second active post with a tiny factor
            pt = np.array([1], np.int64)
            pr = np.array([1 if not task else 0], np.int64)
            act = np.zeros(4, np.int64)
            na = active_posts(Mt, Mr, act)
            pa = np.zeros(4, np.int64)
            outer_rows(pa, ptr, idx, np.zeros((0, 0), np.int32), gap, Mt, Mr, pt, pr, sh, act, na, task,
                       *[np.zeros(4, np.int64) for _ in range(3)])
            assert pa[2] == want and pa[[0, 1, 3]].tolist() == [0, 0, 0], (task, sign, x, pa)


def _row_gaps_by_rows(ptr, idx, n_post):
    """`row_gaps` read row by row with numpy (the implementation before session 21): the oracle."""
    out = np.full(ptr.size - 1, -2, np.int64)
    ar = np.arange(n_post)
    for i in range(ptr.size - 1):
        r = np.asarray(idx[ptr[i]:ptr[i + 1]], np.int64)
        if r.size == n_post and np.array_equal(r, ar):
            out[i] = -1
        elif r.size == n_post - 1 and r.size > 0:
            m = int(np.argmax(np.append(r, n_post) != ar))
            if np.array_equal(r[:m], ar[:m]) and np.array_equal(r[m:], ar[m + 1:]):
                out[i] = m
    return out


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), n_post=st.integers(0, 12),
       lens=st.lists(st.integers(0, 13), min_size=1, max_size=8), edit=st.integers(0, 4))
def test_row_gaps_any_index_list(seed, n_post, lens, edit):
    """Rows near the two named shapes (a full row or one missing a post, then unsorted, repeated, out of range
    or shifted targets) and arbitrary ones: the kernel names each as the row-by-row reading does."""
    rng = np.random.default_rng(seed)
    rows = []
    for ln in lens:
        if ln in (n_post, n_post - 1) and n_post > 0:
            r = np.sort(rng.choice(n_post, ln, replace=False))
            if edit == 1 and r.size > 1:
                r[[0, -1]] = r[[-1, 0]]                       # unsorted
            elif edit == 2 and r.size > 1:
                r[-1] = r[-2]                                 # repeated target
            elif edit == 3 and r.size:
                r[-1] = n_post                                # out of range
            elif edit == 4 and r.size:
                r = r + 1                                     # shifted by one
        else:
            r = rng.integers(-1, n_post + 2, ln)
        rows.append(r.astype(np.int64))
    ptr = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
    idx = np.concatenate(rows).astype(np.int32)
    np.testing.assert_array_equal(row_gaps(ptr, idx, n_post), _row_gaps_by_rows(ptr, idx, n_post))
