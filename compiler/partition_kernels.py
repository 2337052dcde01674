"""The partition pass's Numba kernels (compiler/partition.py): greedy fill, per-core fan-in, connectivity,
Fiduccia-Mattheyses moves / Kernighan-Lin swaps (refinement), traffic and edge cut. Arrays and scalars only
(CSR ``indptr`` / ``indices`` int arrays, ``core`` int32 [n] core of each neuron, rates float64 spikes per
step); each returns arrays or scalars. Compiler-internal: the simulation kernels live in kernels/.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _greedy(order, src_indptr, src_indices, n_src, slots, synb, learnb, cap_slots, cap_syn, cap_learn, cap_fanin):
    n = slots.shape[0]
    core = np.empty(n, np.int32)
    stamp = np.full(n_src, -1, np.int32)
    c = 0
    cs = 0
    csyn = 0
    cl = 0
    cf = 0
    for q in range(n):
        j = order[q]
        new = 0
        for p in range(src_indptr[j], src_indptr[j + 1]):
            if stamp[src_indices[p]] != c:
                new += 1
        if (cs + slots[j] > cap_slots or csyn + synb[j] > cap_syn or cl + learnb[j] > cap_learn
                or cf + new > cap_fanin) and cs > 0:
            c += 1
            cs = 0
            csyn = 0
            cl = 0
            cf = 0
            new = src_indptr[j + 1] - src_indptr[j]
        core[j] = c
        for p in range(src_indptr[j], src_indptr[j + 1]):
            stamp[src_indices[p]] = c
        cs += slots[j]
        csyn += synb[j]
        cl += learnb[j]
        cf += new
    return core, c + 1


@njit(cache=True)
def _fanin_counts(core, src_indptr, src_indices, n_cores, n_src):
    cnt = np.zeros((n_cores, n_src), np.int32)
    fan = np.zeros(n_cores, np.int64)
    for j in range(core.shape[0]):
        c = core[j]
        for p in range(src_indptr[j], src_indptr[j + 1]):
            s = src_indices[p]
            if cnt[c, s] == 0:
                fan[c] += 1
            cnt[c, s] += 1
    return cnt, fan


@njit(cache=True)
def _core_fanin(core, src_indptr, src_indices, n_cores, n_src):
    """Distinct sources per core without the count table (nodes visited grouped by core)."""
    order = np.argsort(core, kind="mergesort")
    stamp = np.full(n_src, -1, np.int32)
    fan = np.zeros(n_cores, np.int64)
    for q in range(order.shape[0]):
        j = order[q]
        c = core[j]
        for p in range(src_indptr[j], src_indptr[j + 1]):
            s = src_indices[p]
            if stamp[s] != c:
                stamp[s] = c
                fan[c] += 1
    return fan


@njit(cache=True)
def _connectivity(j, core, rate, n_rec, in_indptr, in_idx, out_indptr, out_idx, ro_indptr, ro_idx, conn, touched, nt):
    """conn[c] = rate-weighted edges between neuron j and core c; returns the number of touched cores."""
    for p in range(in_indptr[j], in_indptr[j + 1]):
        i = in_idx[p]
        c = core[i]
        if conn[c] == 0.0:
            touched[nt] = c
            nt += 1
        conn[c] += rate[i] + 1e-12
    for p in range(out_indptr[j], out_indptr[j + 1]):
        c = core[out_idx[p]]
        if conn[c] == 0.0:
            touched[nt] = c
            nt += 1
        conn[c] += rate[j] + 1e-12
    for p in range(ro_indptr[j], ro_indptr[j + 1]):
        c = core[n_rec + ro_idx[p]]
        if conn[c] == 0.0:
            touched[nt] = c
            nt += 1
        conn[c] += rate[j] + 1e-12
    return nt


@njit(cache=True)
def _move(j, a, b, core, src_indptr, src_indices, cnt, fan, used_slots, used_syn, used_learn, slots, synb, learnb):
    for p in range(src_indptr[j], src_indptr[j + 1]):
        s = src_indices[p]
        cnt[a, s] -= 1
        if cnt[a, s] == 0:
            fan[a] -= 1
        if cnt[b, s] == 0:
            fan[b] += 1
        cnt[b, s] += 1
    used_slots[a] -= slots[j]
    used_slots[b] += slots[j]
    used_syn[a] -= synb[j]
    used_syn[b] += synb[j]
    used_learn[a] -= learnb[j]
    used_learn[b] += learnb[j]
    core[j] = b


@njit(cache=True)
def _fits(c, used_slots, used_syn, used_learn, fan, cap_slots, cap_syn, cap_learn, cap_fanin):
    return (used_slots[c] <= cap_slots and used_syn[c] <= cap_syn and used_learn[c] <= cap_learn
            and fan[c] <= cap_fanin)


@njit(cache=True)
def _refine(core, rate, n_rec, n_cores, in_indptr, in_idx, out_indptr, out_idx, ro_indptr, ro_idx,
            src_indptr, src_indices, cnt, fan, slots, synb, learnb, used_slots, used_syn, used_learn,
            cap_slots, cap_syn, cap_learn, cap_fanin, passes):
    conn = np.zeros(n_cores, np.float64)
    conn2 = np.zeros(n_cores, np.float64)
    touched = np.empty(n_cores, np.int64)
    touched2 = np.empty(n_cores, np.int64)
    moves = 0
    swaps = 0
    gain_total = 0.0
    for it in range(passes):
        moved_this = 0
        for j in range(n_rec):
            a = core[j]
            nt = _connectivity(j, core, rate, n_rec, in_indptr, in_idx, out_indptr, out_idx, ro_indptr, ro_idx, conn, touched, 0)
            # best target by connectivity
            best = -1
            bestg = 1e-9
            for q in range(nt):
                c = touched[q]
                if c != a and conn[c] - conn[a] > bestg:
                    bestg = conn[c] - conn[a]
                    best = c
            if best >= 0:
                b = best
                _move(j, a, b, core, src_indptr, src_indices, cnt, fan, used_slots, used_syn, used_learn, slots, synb, learnb)
                if _fits(b, used_slots, used_syn, used_learn, fan, cap_slots, cap_syn, cap_learn, cap_fanin):
                    moves += 1
                    moved_this += 1
                    gain_total += bestg
                else:
                    # Kernighan-Lin swap: a neighbour i of j in core b moves to a if the pair gains.
                    done = False
                    tried = 0
                    for side in range(2):
                        if done or tried >= 8:
                            break
                        lo = in_indptr[j] if side == 0 else out_indptr[j]
                        hi = in_indptr[j + 1] if side == 0 else out_indptr[j + 1]
                        for p in range(lo, hi):
                            i = in_idx[p] if side == 0 else out_idx[p]
                            if core[i] != b or i == j:
                                continue
                            tried += 1
                            nt2 = _connectivity(i, core, rate, n_rec, in_indptr, in_idx, out_indptr, out_idx, ro_indptr, ro_idx, conn2, touched2, 0)
                            gi = conn2[a] - conn2[b]
                            for q in range(nt2):
                                conn2[touched2[q]] = 0.0
                            if bestg + gi > 1e-9:
                                _move(i, b, a, core, src_indptr, src_indices, cnt, fan, used_slots, used_syn, used_learn, slots, synb, learnb)
                                if (_fits(a, used_slots, used_syn, used_learn, fan, cap_slots, cap_syn, cap_learn, cap_fanin)
                                        and _fits(b, used_slots, used_syn, used_learn, fan, cap_slots, cap_syn, cap_learn, cap_fanin)):
                                    swaps += 1
                                    moved_this += 2
                                    gain_total += bestg + gi
                                    done = True
                                    break
                                _move(i, a, b, core, src_indptr, src_indices, cnt, fan, used_slots, used_syn, used_learn, slots, synb, learnb)
                            if tried >= 8:
                                break
                    if not done:
                        _move(j, b, a, core, src_indptr, src_indices, cnt, fan, used_slots, used_syn, used_learn, slots, synb, learnb)
            for q in range(nt):
                conn[touched[q]] = 0.0
        if moved_this == 0:
            break
    return moves, swaps, gain_total


@njit(cache=True)
def _traffic(core, rate_step, n_rec, n_cores, out_indptr, out_idx, ro_indptr, ro_idx):
    """Destination cores per recurrent neuron, core-to-core packets/step, fan-out per core, cut."""
    stamp = np.full(n_cores, -1, np.int64)
    dest_indptr = np.zeros(n_rec + 1, np.int64)
    buf = np.empty(n_cores, np.int32)
    total = 0
    for j in range(n_rec):
        k = 0
        for p in range(out_indptr[j], out_indptr[j + 1]):
            c = core[out_idx[p]]
            if stamp[c] != j:
                stamp[c] = j
                k += 1
        for p in range(ro_indptr[j], ro_indptr[j + 1]):
            c = core[n_rec + ro_idx[p]]
            if stamp[c] != j:
                stamp[c] = j
                k += 1
        total += k
        dest_indptr[j + 1] = total
    dest = np.empty(total, np.int32)
    stamp[:] = -1
    traffic = np.zeros((n_cores, n_cores), np.float64)
    fan_out = np.zeros(n_cores, np.int64)
    cut_edges = 0
    cut_w = 0.0
    for j in range(n_rec):
        a = core[j]
        k = 0
        for p in range(out_indptr[j], out_indptr[j + 1]):
            c = core[out_idx[p]]
            if c != a:
                cut_edges += 1
                cut_w += rate_step[j]
            if stamp[c] != j:
                stamp[c] = j
                buf[k] = c
                k += 1
        for p in range(ro_indptr[j], ro_indptr[j + 1]):
            c = core[n_rec + ro_idx[p]]
            if c != a:
                cut_edges += 1
                cut_w += rate_step[j]
            if stamp[c] != j:
                stamp[c] = j
                buf[k] = c
                k += 1
        s = np.sort(buf[:k])
        base = dest_indptr[j]
        for q in range(k):
            dest[base + q] = s[q]
            traffic[a, s[q]] += rate_step[j]
        fan_out[a] += k
    return dest_indptr, dest, traffic, fan_out, cut_edges, cut_w


@njit(cache=True)
def _edge_cut(core, indptr, indices):
    cut = 0
    for j in range(indptr.shape[0] - 1):
        for p in range(indptr[j], indptr[j + 1]):
            if core[indices[p]] != core[j]:
                cut += 1
    return cut


@njit(cache=True)
def _missing_sources(core, cand, src_indptr, src_idx, n_src, want):
    """How many of the sources ``want`` no neuron of core ``cand`` already receives."""
    member = np.zeros(n_src, np.bool_)
    for j in range(core.shape[0]):
        if core[j] == cand:
            for p in range(src_indptr[j], src_indptr[j + 1]):
                member[src_idx[p]] = True
    k = 0
    for s in want:
        if not member[s]:
            k += 1
    return k
