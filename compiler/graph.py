"""The synapse graph every pass works on, and `SparseNetwork` for networks too big for dense arrays.

`Network` stores ``w_rec`` dense (``[n_rec, n_rec]`` float64: 80 GB at 1e5 neurons), so the compiler works on
CSR arrays instead. `as_graph` turns either a `Network` or a `SparseNetwork` into a `SynGraph`:

* input and recurrent projections as CSR by postsynaptic neuron (``indptr [n_post + 1]`` int64,
  ``indices [nnz]`` int32 presynaptic index, ``data [nnz]`` float64 weight): an entry is an *existing*
  synapse (it takes synaptic memory and can learn), whatever its weight, including 0;
* the readout projection as CSR by readout neuron the same way.

For a dense `Network` every input and readout synapse exists (as `Network.n_synapses` counts them) and
the recurrent ones are those of ``rec_mask``. For a `SparseNetwork` the CSR structure says which exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidNetworkError
from ..network import Network, NeuronParams


@dataclass(frozen=True, eq=False)
class SparseNetwork:
    """A float network with sparse projections (plain data; same equations as `Network`).

    w_in [n_rec, n_in], w_rec [n_rec, n_rec] (zero diagonal), w_out [n_out, n_rec]: scipy.sparse matrices
    (any format; converted to CSR) or dense arrays (then every entry exists). b_out [n_out], B [n_rec, n_out],
    beta [n_rec] dense float64. Units as `Network`.
    """

    params: NeuronParams
    w_in: Any
    w_rec: Any
    w_out: Any
    b_out: np.ndarray
    B: np.ndarray
    beta: np.ndarray

    @property
    def n_rec(self) -> int:
        return int(self.w_rec.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.w_in.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.w_out.shape[0])

    def digest(self) -> str:
        """sha256 over parameters and the CSR arrays (provenance)."""
        import hashlib
        h = hashlib.sha256(repr(sorted(self.params.to_dict().items())).encode())
        for name in ("w_in", "w_rec", "w_out"):
            m = _csr(getattr(self, name), name)
            for a in (m.indptr, m.indices, m.data):
                h.update(np.ascontiguousarray(a).tobytes())
        for name in ("b_out", "B", "beta"):
            h.update(np.ascontiguousarray(np.asarray(getattr(self, name), np.float64)).tobytes())
        return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Csr:
    """CSR by postsynaptic neuron: row j holds the synapses onto post j."""

    indptr: np.ndarray   # [n_post + 1] int64
    indices: np.ndarray  # [nnz] int32, presynaptic index
    data: np.ndarray     # [nnz] float64, weight
    n_pre: int

    @property
    def n_post(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[0])

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def to_scipy(self) -> sp.csr_matrix:
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n_post, self.n_pre))


@dataclass(frozen=True, eq=False)
class SynGraph:
    """What the passes read: sizes, neuron parameters and the three projections as `Csr`."""

    params: NeuronParams
    n_in: int
    n_rec: int
    n_out: int
    w_in: Csr
    w_rec: Csr
    w_out: Csr
    b_out: np.ndarray
    B: np.ndarray
    beta: np.ndarray
    sparse: bool          # True when built from a SparseNetwork (artifact keeps CSR)
    digest: str

    @property
    def n_synapses(self) -> int:
        return self.w_in.nnz + self.w_rec.nnz + self.w_out.nnz


def _csr(m: Any, name: str) -> sp.csr_matrix:
    if sp.issparse(m):
        c = sp.csr_matrix(m)
    else:
        a = np.asarray(m, dtype=np.float64)
        if a.ndim != 2:
            raise InvalidNetworkError(f"{name} must be 2-D [post, pre], got ndim {a.ndim}")
        # Dense: every entry is a synapse, zeros included (build the structure explicitly).
        n_post, n_pre = a.shape
        c = sp.csr_matrix((a.ravel(), np.tile(np.arange(n_pre, dtype=np.int32), n_post),
                           np.arange(0, n_post * n_pre + 1, n_pre, dtype=np.int64)), shape=a.shape)
    c.sum_duplicates()
    c.sort_indices()
    return c


def _to_csr(c: sp.csr_matrix) -> Csr:
    return Csr(np.asarray(c.indptr, np.int64), np.asarray(c.indices, np.int32), np.asarray(c.data, np.float64), int(c.shape[1]))


def _masked_csr(w: np.ndarray, mask: np.ndarray) -> Csr:
    """The synapses of dense w [post, pre] where mask is True (zero weights included), row-major."""
    rows, cols = np.nonzero(mask)          # row-major: sorted by post, then pre
    indptr = np.zeros(w.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=w.shape[0]), out=indptr[1:])
    return Csr(indptr, cols.astype(np.int32), w[rows, cols].astype(np.float64), w.shape[1])


def as_graph(net: Network | SparseNetwork) -> SynGraph:
    """Build the `SynGraph` of a dense `Network` or a `SparseNetwork` (validating the sparse one)."""
    if isinstance(net, Network):
        return SynGraph(net.params, net.n_in, net.n_rec, net.n_out, _masked_csr(net.w_in, net.in_mask),
                        _masked_csr(net.w_rec, net.rec_mask), _masked_csr(net.w_out, net.out_mask),
                        np.asarray(net.b_out), np.asarray(net.B), np.asarray(net.beta), False, net.digest())
    if not isinstance(net, SparseNetwork):
        raise InvalidNetworkError(f"compile needs a Network or SparseNetwork, got {type(net).__name__}")
    p = net.params
    if not isinstance(p, NeuronParams):
        raise InvalidNetworkError(f"params must be NeuronParams, got {type(p).__name__}")
    w_in, w_rec, w_out = (_csr(getattr(net, n), n) for n in ("w_in", "w_rec", "w_out"))
    n_rec, n_in = w_in.shape
    n_out = w_out.shape[0]
    if w_rec.shape != (n_rec, n_rec) or w_out.shape != (n_out, n_rec):
        raise InvalidNetworkError(f"w_rec {w_rec.shape} / w_out {w_out.shape} do not match n_rec={n_rec}, n_out={n_out}")
    for name, m in (("w_in", w_in), ("w_rec", w_rec), ("w_out", w_out)):
        if not np.isfinite(m.data).all():
            raise InvalidNetworkError(f"{name} has non-finite weights")
    rows = np.repeat(np.arange(n_rec), np.diff(w_rec.indptr))
    if (rows == w_rec.indices).any():
        j = int(rows[rows == w_rec.indices][0])
        raise InvalidNetworkError(f"w_rec[{j}, {j}] exists: self-connections are forbidden (zero diagonal)")
    arrs = {}
    for name, shape in (("b_out", (n_out,)), ("B", (n_rec, n_out)), ("beta", (n_rec,))):
        a = np.asarray(getattr(net, name), np.float64)
        if a.shape != shape:
            raise InvalidNetworkError(f"{name} has shape {a.shape}, expected {shape}")
        if not np.isfinite(a).all():
            raise InvalidNetworkError(f"{name} must be finite")
        arrs[name] = a
    if (arrs["beta"] < 0).any():
        raise InvalidNetworkError("beta must be >= 0 (adaptation strength)")
    if p.kind == "lif" and (arrs["beta"] != 0).any():
        raise InvalidNetworkError("kind 'lif' needs beta = 0 everywhere (use kind 'alif')")
    return SynGraph(p, n_in, n_rec, n_out, _to_csr(w_in), _to_csr(w_rec), _to_csr(w_out), arrs["b_out"],
                    arrs["B"], arrs["beta"], True, net.digest())


def transpose(c: Csr, n_post: int | None = None) -> Csr:
    """CSR by presynaptic neuron (out-edges): row i lists the posts i projects to (data left empty)."""
    n_post = c.n_post if n_post is None else n_post
    order = np.argsort(c.indices, kind="stable")
    post = np.repeat(np.arange(c.n_post, dtype=np.int32), np.diff(c.indptr))
    indptr = np.zeros(c.n_pre + 1, np.int64)
    np.cumsum(np.bincount(c.indices, minlength=c.n_pre), out=indptr[1:])
    return Csr(indptr, post[order], np.empty(0), n_post)
