"""Pass 6, emit: assemble the `CompiledNetwork` with provenance.

Dense networks get dense int32 mantissa matrices ([post, pre]); sparse ones keep w_rec / rec_mask /
w_rec_float as CSR (see `compiler.artifact`). Input / readout projections with absent synapses (a
network's layer map, or a sparse w_in / w_out) get in_mask / out_mask; None when every synapse exists.
Provenance: network digest, rule, profile name and path, compiler version, UTC time, options.
"""
from __future__ import annotations

import datetime as _dt

import numpy as np
import scipy.sparse as sp

from ..chips.profile import ChipProfile
from .artifact import CompiledNetwork
from .graph import Csr, SynGraph
from .partition import Partition
from .place import Placement
from .quantize import Quantized
from .route import Routes
from .serial import jsonable

COMPILER_VERSION = "0.1.0"


def _dense(c: Csr, mant: np.ndarray | None, dtype) -> np.ndarray:
    out = np.zeros((c.n_post, c.n_pre), dtype)
    rows = np.repeat(np.arange(c.n_post), np.diff(c.indptr))
    out[rows, c.indices] = c.data if mant is None else mant
    return out


def _csr(c: Csr, data: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix((data, c.indices.copy(), c.indptr.copy()), shape=(c.n_post, c.n_pre))


def emit(g: SynGraph, q: Quantized, part: Partition, pl: Placement, rt: Routes, profile: ChipProfile, *,
         compiled_rule=None, rule=None, report: dict | None = None, options: dict | None = None) -> CompiledNetwork:
    from .. import __version__ as pkg_version
    if g.sparse:
        w_rec = _csr(g.w_rec, q.w_rec.mant.astype(np.int32))
        rec_mask = _csr(g.w_rec, np.ones(g.w_rec.nnz, bool))
        w_rec_f = _csr(g.w_rec, g.w_rec.data.copy())
    else:
        w_rec = _dense(g.w_rec, q.w_rec.mant, np.int32)
        rec_mask = _dense(g.w_rec, np.ones(g.w_rec.nnz, bool), bool)
        w_rec_f = _dense(g.w_rec, None, np.float64)
    prov = {
        "network_digest": g.digest, "rule": rule.to_dict() if rule is not None else None,
        "profile_name": profile.name, "profile_path": profile.path, "compiler_version": COMPILER_VERSION,
        "neurochip_version": pkg_version, "utc_time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "options": options or {},
    }
    return CompiledNetwork(
        profile_name=profile.name, profile=profile, neuron_kind=q.neuron_kind, reset=q.reset,
        n_in=g.n_in, n_rec=g.n_rec, n_out=g.n_out,
        w_in=_dense(g.w_in, q.w_in.mant, np.int32), w_rec=w_rec, w_out=_dense(g.w_out, q.w_out.mant, np.int32),
        rec_mask=rec_mask, e_in=q.w_in.exp, e_rec=q.w_rec.exp, e_out=q.w_out.exp,
        du=q.du, dv=q.dv, da=q.da, dk=q.dk, vth=q.vth, bias_mant=q.bias_mant, bias_exp=q.bias_exp,
        beta_mant=q.beta_mant, beta_shift=q.beta_shift, a_inc=q.a_inc, n_ref=q.n_ref,
        scale_v=float(q.scale_v), scale_out=float(q.scale_out), b_out=np.asarray(g.b_out, np.float64).copy(),
        float_params=g.params.to_dict(), core_of=part.core_of.astype(np.int32), core_xy=pl.core_xy.astype(np.int32),
        hops=rt.hops.astype(np.int32), ls_hops=rt.ls_hops.astype(np.int32), rule=compiled_rule,
        w_in_float=_dense(g.w_in, None, np.float64), w_rec_float=w_rec_f, w_out_float=_dense(g.w_out, None, np.float64),
        B_float=np.asarray(g.B, np.float64).copy(), beta_float=np.asarray(g.beta, np.float64).copy(),
        report=jsonable(report or {}), provenance=jsonable(prov),
        route_indptr=part.dest_indptr.astype(np.int64), route_dst=part.dest_core.astype(np.int32), xy_next=rt.xy_next,
        w_lsb=np.array([q.w_in.lsb, q.w_rec.lsb, q.w_out.lsb], np.float64), scale_a=float(q.scale_a),
        in_mask=_structure(g.w_in), out_mask=_structure(g.w_out))


def _structure(c: Csr) -> np.ndarray | None:
    """bool [post, pre]: which synapses of a projection exist, or None when all do (the dense default)."""
    if c.indices.shape[0] == c.n_post * c.n_pre:
        return None
    return _dense(c, np.ones(c.indices.shape[0], bool), bool)
