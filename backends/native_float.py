"""The native backend's float mode: the CompiledNetwork's ``*_float`` weights through ``kernels.float_csr``
(the float reference's arithmetic and summation order over existing synapses only): spikes and outputs
identical to `neurochip.simulate`; event counts from the kernel's per-neuron tallies. Tables are built
once per artifact object (memoised like the fixed-point ones, `backends.native.derived`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..backend_contract import FLOAT_WEIGHT_BITS   # float modes read float64 weights: bits_read = syn_ops x 64
from ..errors import BackendError
from .native import derived, in_slices, n_rec_synapses
from .result import EventCounts


def float_params(compiled):
    """The source `NeuronParams` of ``compiled`` (for float mode)."""
    from neurochip.network import NeuronParams

    if not compiled.float_params:
        raise BackendError("mode='float' needs compiled.float_params (the source NeuronParams); this artifact has none")
    return NeuronParams.from_dict(dict(compiled.float_params))


@dataclass(frozen=True)
class FloatTables:
    """The float weights of one compiled network recoded once for `kernels.float_csr` (same synapses and
    order as `csr_by_pre` of the ``*_float`` matrices; targets uint16 up to 65536 neurons), the recurrent
    mask's CSR for the activity counts (the weight CSR's own arrays when the structures agree), and the
    per-network constants `counts_from_float` needs."""

    in_ptr: np.ndarray
    in_idx: np.ndarray
    in_w: np.ndarray
    rec_ptr: np.ndarray
    rec_idx: np.ndarray
    rec_w: np.ndarray
    m_ptr: np.ndarray
    m_idx: np.ndarray
    w_out_t: np.ndarray
    beta: np.ndarray
    b_out: np.ndarray
    fan_rec: np.ndarray          # [n_rec] recurrent targets per presynaptic neuron (mask)
    route_pre: np.ndarray        # per route entry: the presynaptic neuron (routes from `tables_for`)
    route_src: np.ndarray        # its core
    route_core: np.ndarray       # destination core
    route_syn: np.ndarray        # synapses reached there
    in_core_syn: np.ndarray


def float_tables(compiled) -> FloatTables:
    """`FloatTables` of ``compiled`` (O(synapses); memoised by `float_tables_for`)."""
    from neurochip.kernels.csr import build_routes, csr_by_pre

    n_rec = compiled.n_rec
    idx_dt = np.uint16 if n_rec <= (1 << 16) else np.uint32
    ip, ii, iw = csr_by_pre(np.asarray(compiled.w_in_float, np.float64), None, np.float64)
    wr = compiled.w_rec_float
    rp, ri, rw = csr_by_pre(wr if sp.issparse(wr) else np.asarray(wr, np.float64),
                            None if sp.issparse(wr) else compiled.rec_mask, np.float64)
    m = compiled.rec_mask
    if sp.issparse(m):
        mc = sp.csc_matrix(m).astype(bool)
        mc.eliminate_zeros()
        mc.sort_indices()
        mp, mi = np.asarray(mc.indptr, np.int64), np.asarray(mc.indices, np.int32)
    else:
        mp, mi, _ = csr_by_pre(np.zeros(np.shape(m), np.int8), m, np.int8)
    same = mp.shape == rp.shape and mi.shape == ri.shape and np.array_equal(mp, rp) and np.array_equal(mi, ri)
    rp = np.ascontiguousarray(rp, np.int64)
    ri = ri.astype(idx_dt)
    mp, mi = (rp, ri) if same else (np.ascontiguousarray(mp, np.int64), mi.astype(idx_dt))
    rt = build_routes(compiled)
    core_of = np.asarray(compiled.core_of, np.int64)
    pre = np.repeat(np.arange(n_rec, dtype=np.int64), np.diff(rt.dest_ptr))
    return FloatTables(np.ascontiguousarray(ip, np.int64), ii.astype(idx_dt), np.ascontiguousarray(iw, np.float64),
                       rp, ri, np.ascontiguousarray(rw, np.float64), mp, mi,
                       np.ascontiguousarray(np.asarray(compiled.w_out_float, np.float64).T),
                       np.ascontiguousarray(compiled.beta_float, np.float64),
                       np.asarray(compiled.b_out, np.float64),
                       np.diff(mp).astype(np.int64), pre, core_of[pre], np.asarray(rt.dest_core, np.int64),
                       np.asarray(rt.dest_syn, np.int64), np.asarray(rt.in_core_syn, np.int64))


def float_tables_for(compiled) -> FloatTables:
    """`float_tables` memoised per CompiledNetwork."""
    return derived(compiled, "float_tables", float_tables)


def counts_from_float(compiled, ft: FloatTables, B: int, T: int, nspk, n_inspk, n_act) -> EventCounts:
    """`EventCounts` of a float run from the kernel's per-trial tallies: the same numbers as
    `backends.counts.counts_from_spikes` (its conventions and formulas, per-neuron spike totals in
    place of the spike raster)."""
    n_rec, n_out, n_in = compiled.n_rec, compiled.n_out, compiled.n_in
    n_cores = int(compiled.n_cores)
    core_of = np.asarray(compiled.core_of, np.int64)
    zc = nspk.sum(axis=0)
    n_spk = int(zc.sum())
    n_in_spk = int(n_inspk.sum())
    syn_ops = n_in_spk * n_rec + int((zc * ft.fan_rec).sum()) + n_spk * n_out
    # per-core synaptic ops at the target's core: every rec neuron per input spike, and per recurrent
    # spike its targets on each destination core (recurrent + readout, `build_routes`)
    per_core_syn = n_in_spk * ft.in_core_syn + np.bincount(ft.route_core, zc[ft.route_pre] * ft.route_syn,
                                                           minlength=n_cores).astype(np.int64)
    c2c = np.bincount(ft.route_src * n_cores + ft.route_core, zc[ft.route_pre],
                      minlength=n_cores * n_cores).astype(np.int64).reshape(n_cores, n_cores)
    hops = np.asarray(compiled.hops, np.int64)
    return EventCounts(
        steps=B * T, trials=B,
        neuron_updates=(n_rec + n_out) * B * T,
        neuron_updates_active=int(n_act.sum()),
        spikes=n_spk, input_spikes=n_in_spk,
        syn_ops=syn_ops,
        syn_ops_dense=(n_rec * n_in + n_rec_synapses(compiled) + n_out * n_rec) * B * T,
        spike_packets=int(c2c.sum()),
        mesh_hops=int((c2c * hops).sum()),
        bits_read=syn_ops * FLOAT_WEIGHT_BITS,
        per_core_syn_ops=per_core_syn,
        per_core_neuron_updates=np.bincount(core_of, minlength=n_cores).astype(np.int64) * (B * T),
        per_core_packets_out=c2c.sum(axis=1),
        core_to_core_packets=c2c,
    )


def run_float(compiled, x: np.ndarray, record=("spikes", "outputs")):
    """Float reference run of the compiled network's ``*_float`` weights (event driven over CSR,
    bit-identical to `neurochip.simulate`). Returns (z, out, v|None, counts). Tables are built once per
    artifact (`float_tables_for`); trials run in contiguous slices of the batch on
    ``numba.get_num_threads()`` threads, as in `run_fixed`; counts come from the kernel's tallies."""
    from neurochip.kernels.float_csr import forward_float_csr

    from .kernel_cache import ensure_fresh
    ensure_fresh("inference")                        # no cached copy compiled from other sources than ours

    for name in ("w_in_float", "w_rec_float", "w_out_float", "beta_float"):
        if getattr(compiled, name) is None:
            raise BackendError(f"mode='float' needs compiled.{name} (the source float network); this artifact has none")
    p = float_params(compiled)
    ft = float_tables_for(compiled)
    B, T, _ = x.shape
    n_rec, n_out = compiled.n_rec, compiled.n_out
    want_v = "v" in record
    z = np.empty((B, T, n_rec), np.uint8)
    y = np.empty((B, T, n_out))
    v = np.empty((B, T, n_rec) if want_v else (1, 1, 1))
    nspk = np.zeros((B, n_rec), np.int64)
    n_inspk = np.zeros(B, np.int64)
    n_act = np.zeros(B, np.int64)
    args = (ft.in_ptr, ft.in_idx, ft.in_w, ft.rec_ptr, ft.rec_idx, ft.rec_w, ft.m_ptr, ft.m_idx, ft.w_out_t, ft.beta,
            float(p.alpha), float(p.rho), float(p.kappa), float(p.c_in), float(p.c_a), float(p.c_kappa),
            float(p.v_th), int(p.n_ref), want_v)

    def part(b0: int, b1: int) -> None:              # trials b0..b1-1 (the kernel releases the GIL)
        forward_float_csr(x[b0:b1], *args, z[b0:b1], y[b0:b1], v[b0:b1] if want_v else v, nspk[b0:b1],
                          n_inspk[b0:b1], n_act[b0:b1])

    in_slices(B, part)
    y += ft.b_out[None, None, :]
    counts = counts_from_float(compiled, ft, B, T, nspk, n_inspk, n_act)
    return z, y, (v if want_v else None), counts
