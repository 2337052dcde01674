"""Build the event-driven tables the kernels read: CSR by presynaptic neuron and per-neuron routes.

Plain numpy, run once per backend call (cost O(synapses)). Weights [post, pre] come in dense
(mantissas + mask, as in `CompiledNetwork`); the CSR keeps only existing synapses, targets ascending,
mantissas in the narrowest integer type that holds the profile's weight format (int16 up to 16 bits:
the synaptic loop is memory bound, so fewer bytes per synapse is more events per second).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
import scipy.sparse as sp


def weight_dtype(w: np.ndarray) -> np.dtype:
    """int8/int16/int32: the narrowest type holding every mantissa of ``w``."""
    if w.size == 0:
        return np.dtype(np.int16)
    lo, hi = int(w.min()), int(w.max())
    for dt in (np.int8, np.int16):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    return np.dtype(np.int32)


def csr_by_pre(w: np.ndarray, mask: np.ndarray | None = None, dtype=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of ``w [post, pre]`` indexed by presynaptic neuron: (ptr [n_pre+1] int64, idx int32 post
    indices ascending, data). ``mask`` [post, pre] bool selects existing synapses (None: all)."""
    if sp.issparse(w):                                  # sparse artifact: CSC column i = presynaptic i
        c = sp.csc_matrix(w)
        c.sort_indices()
        dt = weight_dtype(c.data) if dtype is None else dtype
        return np.asarray(c.indptr, np.int64), np.asarray(c.indices, np.int32), c.data.astype(dt)
    w = np.asarray(w)
    m = np.ones(w.shape, bool) if mask is None else np.asarray(mask, bool)
    wt, mt = w.T, m.T                                   # [pre, post]
    counts = mt.sum(axis=1)
    ptr = np.zeros(w.shape[1] + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    pre_idx, post_idx = np.nonzero(mt)                  # row-major: pre ascending, post ascending
    dt = weight_dtype(w) if dtype is None else dtype
    return ptr, post_idx.astype(np.int32), wt[pre_idx, post_idx].astype(dt)


@dataclass(frozen=True)
class Routes:
    """Per recurrent neuron i: destination cores dest_core[dest_ptr[i]:dest_ptr[i+1]], synapses reached
    on each (dest_syn: recurrent targets + readout targets there) and XY hops from i's core (dest_hops);
    in_core_syn [n_cores]: recurrent neurons per core (each input spike reaches all of them)."""

    dest_ptr: np.ndarray
    dest_core: np.ndarray
    dest_syn: np.ndarray
    dest_hops: np.ndarray
    in_core_syn: np.ndarray
    n_cores: int


def build_routes(compiled) -> Routes:
    """Destination cores of every recurrent neuron's spikes (multicast by core, as counted by
    `backends.counts`): core c is a destination when it holds a recurrent target or a readout neuron (that the
    neuron has a synapse onto, with a layer map's out_mask)."""
    n_rec, n_out = compiled.n_rec, compiled.n_out
    core_of = np.asarray(compiled.core_of, np.int64)
    n_cores = int(compiled.n_cores)
    hops = np.asarray(compiled.hops, np.int64)
    mask = compiled.rec_mask                            # [post, pre], dense bool or scipy CSR
    # syn[i, c]: synapses of pre i on core c
    onehot = sp.csr_matrix((np.ones(n_rec, np.int64), (np.arange(n_rec), core_of[:n_rec])), shape=(n_rec, n_cores))
    mt = sp.csr_matrix(mask).T.astype(np.int64) if sp.issparse(mask) else sp.csr_matrix(np.asarray(mask, bool).T.astype(np.int64))
    syn = np.asarray((mt @ onehot).todense(), np.int64)  # [pre, core] recurrent targets
    om = getattr(compiled, "out_mask", None)            # layer map: readout synapses of each pre (None: all)
    if om is None:
        syn = syn + np.bincount(core_of[n_rec:], minlength=n_cores).astype(np.int64)[None, :]
    else:
        onehot_out = np.zeros((n_out, n_cores), np.int64)
        onehot_out[np.arange(n_out), core_of[n_rec:]] = 1
        syn = syn + np.asarray(om, bool).T.astype(np.int64) @ onehot_out     # [pre, core] readout targets
    dest = syn > 0
    ptr = np.zeros(n_rec + 1, np.int64)
    np.cumsum(dest.sum(axis=1), out=ptr[1:])
    pre, cores = np.nonzero(dest)
    # input spikes reach the recurrent neurons on a core that have input synapses (all of them without a layer
    # map; with one, the neurons with any input synapse: exact when every input reaches the same neurons,
    # as in a layer map, an upper bound otherwise)
    im = getattr(compiled, "in_mask", None)
    fed = np.ones(n_rec, bool) if im is None else np.asarray(im, bool).any(axis=1)
    return Routes(dest_ptr=ptr, dest_core=cores.astype(np.int64), dest_syn=syn[pre, cores],
                  dest_hops=hops[core_of[pre], cores],
                  in_core_syn=np.bincount(core_of[:n_rec][fed], minlength=n_cores).astype(np.int64), n_cores=n_cores)


def row_gaps(ptr, idx, n_post: int) -> np.ndarray:
    """int64 [n_pre]: the shape of each presynaptic row of a CSR (ptr, idx) over n_post posts. -1: full (every
    post, ascending: position k is post k); m >= 0: every post but m, ascending (position k is post k for
    k < m, post k + 1 from m on: a recurrent row without its self-synapse); -2: any other row."""
    ptr = np.ascontiguousarray(ptr, np.int64)
    return _row_gaps(ptr, np.ascontiguousarray(np.asarray(idx, np.int64)[:int(ptr[-1]) if ptr.size > 1 else 0]),
                     int(n_post))


@njit(cache=True)
def _row_gaps(ptr, idx, n_post):
    """`row_gaps` in one pass (a numpy loop over rows cost 11 ms for N = 1024, p = 1, on every learning call):
    d = target - position within the row is 0 before the row's missing post and 1 from it on, so a row has one
    of the two shapes iff its d are all 0 or 1 and never decrease; m is its count of d = 0."""
    n_pre = ptr.shape[0] - 1
    out = np.full(n_pre, -2, np.int64)
    for i in range(n_pre):
        a = ptr[i]
        n = ptr[i + 1] - a
        if n != n_post and (n != n_post - 1 or n == 0):
            continue
        zeros = 0
        prev = 0
        ok = True
        for k in range(n):
            d = idx[a + k] - k
            if (d != 0 and d != 1) or d < prev:
                ok = False
                break
            prev = d
            zeros += d == 0
        if ok and n == n_post - 1:
            out[i] = zeros
        elif ok and zeros == n:                  # n = n_post: every d is 0
            out[i] = -1
    return out


def csc_of(ptr, idx, n_post: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same synapses as a CSR by pre (ptr, idx: targets ascending per row), by post: (cptr [n_post + 1] int64,
    cpre int32 pres ascending per column, cq int64 the CSR position of each entry, cgap [n_post] int64 each
    column's shape over the n_pre pres, as `row_gaps`). Column j is entries cptr[j]..cptr[j+1]-1."""
    ptr = np.asarray(ptr, np.int64)
    idx = np.asarray(idx, np.int64)
    n_pre = ptr.size - 1
    pre = np.repeat(np.arange(n_pre, dtype=np.int64), np.diff(ptr))
    # by post; the CSR order keeps pres ascending within one. A stable sort of 16-bit keys is numpy's radix
    # sort (11 against 28 ms for the 1 M synapses of N = 1024, p = 1)
    keys = idx.astype(np.uint16) if n_post <= (1 << 16) else idx
    order = np.argsort(keys, kind="stable")
    cptr = np.zeros(n_post + 1, np.int64)
    np.cumsum(np.bincount(idx, minlength=n_post)[:n_post], out=cptr[1:])
    cpre = pre[order].astype(np.int32)
    return cptr, cpre, order.astype(np.int64), row_gaps(cptr, cpre, n_pre)


def pad_columns(cptr, lanes: int = 8, max_pad: int = 4) -> np.ndarray:
    """int64 [n_post + 1]: the start of each column of a CSC (cptr) in a layout where a column is padded up to a
    multiple of ``lanes`` entries when that adds at most ``max_pad`` (an empty column stays empty). The
    per-synapse learning kernel keeps its state in this layout (kernels.learn_cols.elig_cols): a remainder of
    n mod 8 >= 4 synapses costs more in the scalar tail of a vectorised loop than 8 - n mod 8 inert lanes, one
    of 1-2 less (`benchmarks/dense_floors.py`: 0.70-0.95x the time per visit at n mod 8 = 4-7, 1.06-1.13x at
    1-2, neutral at 3)."""
    n = np.diff(np.asarray(cptr, np.int64))
    up = (n + lanes - 1) // lanes * lanes
    out = np.zeros(n.size + 1, np.int64)
    np.cumsum(np.where(up - n <= max_pad, up, n), out=out[1:])
    return out


def padded_positions(cptr, cpad) -> np.ndarray:
    """int64 [nnz]: the padded position (`pad_columns`) of each CSC entry."""
    cptr = np.asarray(cptr, np.int64)
    n = np.diff(cptr)
    col = np.repeat(np.arange(n.size, dtype=np.int64), n)
    return np.arange(int(cptr[-1]), dtype=np.int64) - cptr[col] + np.asarray(cpad, np.int64)[col]
