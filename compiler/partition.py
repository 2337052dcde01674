"""Pass 3, partition: neurons to cores within the per-core limits, minimising spike traffic between cores.

Resources per core (all from the profile): neuron slots (``max_neurons``; an ALIF neuron takes
``compartments_per_adaptive``), synaptic memory (``syn_mem_bits``: synapses x bits_per_synapse, plus the
per-neuron learning state unless the profile has a separate ``learn_state_bits``), input axons
(``max_fan_in``: distinct presynaptic sources, input channels or neurons, of the core's neurons) and
output axons (``max_fan_out``: sum over the core's neurons of the distinct cores they send to).

Algorithm: (1) greedy fill in neuron order and in reverse Cuthill-McKee order of the recurrent graph
(neighbouring positions share sources; RCM recovers locality hidden by a permutation), each followed by a
balanced re-fill with the same core count and a little slack per core; the order with fewer cores (then
the smaller cut) wins; (2) the readout
neurons as one block (they share the learning-signal computation) on the feasible core that receives most of
their input, else a new core; (3) Fiduccia-Mattheyses-style refinement: passes over the recurrent neurons,
moving each to the core it is most connected to (edges weighted by the presynaptic rate) when the cut drops
and the target has room, else trying a Kernighan-Lin pair swap with a neighbour in the target core.
Cut = rate-weighted synapses between cores; packets = expected inter-core spike messages per step (one
per spike per destination core). Numba kernels over arrays only (compiler/partition_kernels.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..chips.profile import ChipProfile
from ..errors import ChipConstraintError, ConfigError, Violation
from ..rules import LearningRule
from .check import bits_per_synapse, learn_bits_per_neuron
from .graph import SynGraph, transpose
from .partition_kernels import _core_fanin, _edge_cut, _fanin_counts, _greedy, _missing_sources, _refine, _traffic


@dataclass(frozen=True)
class PartitionOptions:
    """rates_hz: expected firing rate per recurrent neuron (Hz) or None (rate_hz for all); rate_hz: default
    rate (Hz); passes: refinement passes (0 = greedy only); slack: spare fraction per core in the balanced fill;
    max_count_cells: limit on n_cores x n_sources for the refinement's fan-in table (memory guard);
    order: greedy fill order: 'index', 'rcm' (reverse Cuthill-McKee of the recurrent graph: a bandwidth-
    reducing order that recovers locality hidden by a neuron permutation) or 'auto' (both; fewer cores wins,
    then the smaller cut)."""

    rates_hz: tuple | None = None
    rate_hz: float = 10.0
    passes: int = 4
    slack: float = 0.05
    max_count_cells: int = 200_000_000
    order: str = "auto"

    def __post_init__(self) -> None:
        if self.passes < 0 or self.slack < 0 or self.rate_hz < 0:
            raise ConfigError("partition passes, slack and rate_hz must be >= 0")
        if self.order not in ("auto", "index", "rcm"):
            raise ConfigError(f"partition order must be 'auto', 'index' or 'rcm', got {self.order!r}")


@dataclass(frozen=True, eq=False)
class Partition:
    """core_of [n_rec + n_out] int32 (recurrent then readout); n_cores; per-core usage arrays [n_cores];
    traffic [n_cores, n_cores] float64 expected spike packets per step from core a to core b (a == b: local);
    dest_indptr/dest_core: destination cores of each recurrent neuron (CSR, sorted)."""

    core_of: np.ndarray
    n_cores: int
    neurons: np.ndarray
    syn_bits: np.ndarray
    learn_bits: np.ndarray
    fan_in: np.ndarray
    fan_out: np.ndarray
    traffic: np.ndarray
    dest_indptr: np.ndarray
    dest_core: np.ndarray
    readout_core: int
    report: dict


# --- driver -------------------------------------------------------------------------------------------------

def _sources(g: SynGraph) -> tuple[np.ndarray, np.ndarray]:
    """Source CSR for recurrent neurons: input channel i -> i, recurrent neuron j -> n_in + j."""
    deg_in, deg_rec = g.w_in.degree(), g.w_rec.degree()
    indptr = np.zeros(g.n_rec + 1, np.int64)
    np.cumsum(deg_in + deg_rec, out=indptr[1:])
    idx = np.empty(int(indptr[-1]), np.int32)
    # Row j: its input sources then its recurrent sources (vectorised scatter).
    pos_in = np.repeat(indptr[:-1] - g.w_in.indptr[:-1], deg_in) + np.arange(g.w_in.nnz)
    idx[pos_in] = g.w_in.indices
    pos_rec = np.repeat(indptr[:-1] + deg_in - g.w_rec.indptr[:-1], deg_rec) + np.arange(g.w_rec.nnz)
    idx[pos_rec] = g.w_rec.indices + g.n_in
    return indptr, idx


def partition(g: SynGraph, rule: LearningRule | None, profile: ChipProfile, options: PartitionOptions | None = None,
              *, adaptive: bool | None = None) -> Partition:
    """Assign recurrent and readout neurons to cores; raise `ChipConstraintError` if no assignment fits."""
    o = options or PartitionOptions()
    c = profile.core
    if adaptive is None:
        adaptive = g.params.kind == "alif" and bool((g.beta > 0).any())
    n_rec, n_out, n_in = g.n_rec, g.n_out, g.n_in
    n_src = n_in + n_rec
    bps = bits_per_synapse(profile, rule, adaptive)
    lbn = learn_bits_per_neuron(profile, rule, adaptive)
    shared_learn = c.learn_state_bits is None
    cap_learn = np.int64(c.learn_state_bits) if not shared_learn else np.int64(2 ** 62)
    slots = np.where((g.beta > 0) & adaptive, c.compartments_per_adaptive, 1).astype(np.int64)
    deg = (g.w_in.degree() + g.w_rec.degree()).astype(np.int64)
    synb = deg * bps + (lbn if shared_learn else 0)
    learnb = np.full(n_rec, 0 if shared_learn else lbn, np.int64)
    src_indptr, src_idx = _sources(g)
    # Readout block resources.
    ro_slots = n_out if c.max_readout is None else 0
    ro_syn = int(g.w_out.nnz) * bps
    ro_src = np.unique(g.w_out.indices).astype(np.int64) + n_in
    if o.rates_hz is not None:
        rates = np.asarray(o.rates_hz, np.float64)
        if rates.shape != (n_rec,):
            raise ConfigError(f"rates_hz has shape {rates.shape}, expected ({n_rec},)")
    else:
        rates = np.full(n_rec, o.rate_hz)
    rate_step = rates * g.params.dt * 1e-3  # spikes per step

    caps = (np.int64(c.max_neurons), np.int64(c.syn_mem_bits), cap_learn, np.int64(c.max_fan_in))
    orders = {}
    if o.order in ("auto", "index"):
        orders["index"] = np.arange(n_rec, dtype=np.int64)
    if o.order in ("auto", "rcm") and g.w_rec.nnz:
        from scipy.sparse.csgraph import reverse_cuthill_mckee
        pat = sp.csr_matrix((np.ones(g.w_rec.nnz, np.int8), g.w_rec.indices, g.w_rec.indptr), shape=(n_rec, n_rec))
        orders["rcm"] = np.asarray(reverse_cuthill_mckee((pat + pat.T).tocsr(), symmetric_mode=True), np.int64)
    if not orders:
        orders["index"] = np.arange(n_rec, dtype=np.int64)
    best = None
    for oname, order in orders.items():
        core_o, k_o = _greedy(order, src_indptr, src_idx, n_src, slots, synb, learnb, *caps)
        fill_o = f"greedy ({oname} order)"
        if o.passes > 0 and k_o > 1:
            bal = (min(caps[0], math.ceil(slots.sum() / k_o * (1 + o.slack))), min(caps[1], math.ceil(synb.sum() / k_o * (1 + o.slack))),
                   caps[2], caps[3])
            core2, k2 = _greedy(order, src_indptr, src_idx, n_src, slots, synb, learnb, *(np.int64(x) for x in bal))
            if k2 <= k_o:
                core_o, k_o, fill_o = core2, k2, f"balanced ({oname} order)"
        key = (k_o, _edge_cut(core_o.astype(np.int32), g.w_rec.indptr, g.w_rec.indices) if len(orders) > 1 else 0)
        if best is None or key < best[0]:
            best = (key, core_o, k_o, fill_o)
    _, core, k, fill = best
    core = core.astype(np.int32)

    # Readout block: the feasible core receiving most of its input, else a new core.
    used_slots = np.bincount(core, weights=slots, minlength=k).astype(np.int64)
    used_syn = np.bincount(core, weights=synb, minlength=k).astype(np.int64)
    used_learn = np.bincount(core, weights=learnb, minlength=k).astype(np.int64)
    fan = _core_fanin(core, src_indptr, src_idx, k, n_src)
    ro_core = -1
    if n_out:
        pre_rec = ro_src - n_in
        score = np.bincount(core[pre_rec], weights=rate_step[pre_rec], minlength=k) if pre_rec.size else np.zeros(k)
        for cand in np.argsort(-score, kind="stable")[:8]:  # the best-connected few cores
            extra_src = _missing_sources(core, int(cand), src_indptr, src_idx, n_src, ro_src)
            if (used_slots[cand] + ro_slots <= c.max_neurons and used_syn[cand] + ro_syn <= c.syn_mem_bits
                    and fan[cand] + extra_src <= c.max_fan_in):
                ro_core = int(cand)
                break
        if ro_core < 0:
            ro_core = k
            k += 1
            used_slots = np.append(used_slots, 0)
            used_syn = np.append(used_syn, 0)
            used_learn = np.append(used_learn, 0)
            fan = np.append(fan, 0)
    core_all = np.concatenate([core, np.full(n_out, max(ro_core, 0), np.int32)])

    # Out-edges (by presynaptic neuron) for gains and traffic.
    rec_t = transpose(g.w_rec)
    ro_t = transpose(g.w_out)
    moves = swaps = 0
    gain = 0.0
    refined = "off"
    if o.passes > 0 and k > 1:
        if k * n_src <= o.max_count_cells:
            # Fan-in count table over all nodes (readout block included as node(s) with its sources).
            cnt, fan_t = _fanin_counts(core, src_indptr, src_idx, k, n_src)
            if n_out:
                for s in ro_src:
                    if cnt[ro_core, s] == 0:
                        fan_t[ro_core] += 1
                    cnt[ro_core, s] += 1
                used_slots[ro_core] += ro_slots
                used_syn[ro_core] += ro_syn
            moves, swaps, gain = _refine(core_all, rate_step, n_rec, k, g.w_rec.indptr, g.w_rec.indices, rec_t.indptr,
                                         rec_t.indices, ro_t.indptr, ro_t.indices, src_indptr, src_idx, cnt, fan_t, slots,
                                         synb, learnb, used_slots, used_syn, used_learn, *caps, o.passes)
            del cnt
            refined = "fm"
        else:
            refined = f"skipped (count table {k} x {n_src} cells > max_count_cells)"
    # Refinement can empty a core: renumber the used cores 0..k-1 (order kept).
    used = np.unique(core_all)
    if used.size < k:
        remap = np.full(k, -1, np.int32)
        remap[used] = np.arange(used.size, dtype=np.int32)
        core_all = remap[core_all]
        ro_core = int(remap[ro_core]) if ro_core >= 0 else ro_core
        k = int(used.size)
    # Final accounting from scratch (independent of the incremental bookkeeping).
    core = core_all[:n_rec]
    neurons = np.bincount(core, weights=slots, minlength=k).astype(np.int64)
    syn = np.bincount(core, weights=synb, minlength=k).astype(np.int64)
    learn = np.bincount(core, weights=learnb, minlength=k).astype(np.int64)
    fan_in = _core_fanin(core, src_indptr, src_idx, k, n_src)
    if n_out:
        neurons[ro_core] += ro_slots
        syn[ro_core] += ro_syn
        fan_in[ro_core] += _missing_sources(core, ro_core, src_indptr, src_idx, n_src, ro_src)
    dest_indptr, dest, traffic, fan_out, cut_edges, cut_w = _traffic(core_all, rate_step, n_rec, k, rec_t.indptr, rec_t.indices,
                                                                     ro_t.indptr, ro_t.indices)
    viol = []
    if k > profile.mesh.cores:
        viol.append(Violation("cores", "chip", f"{k} cores", f"{profile.mesh.cores} cores",
                              "use a profile with more cores or sparser / more local connectivity"))
    for name, used, cap in (("max_neurons", neurons, c.max_neurons), ("syn_mem_bits", syn, c.syn_mem_bits),
                            ("max_fan_in", fan_in, c.max_fan_in), ("max_fan_out", fan_out, c.max_fan_out),
                            ("learn_state_bits", learn, c.learn_state_bits if not shared_learn else None)):
        if cap is None:
            continue
        for cc in np.flatnonzero(used > cap)[:3]:
            viol.append(Violation(name, f"core {int(cc)}", int(used[cc]), int(cap),
                                  "use sparser connectivity or a profile with more cores"))
    if n_out and c.max_readout is not None and n_out > c.max_readout:
        viol.append(Violation("max_readout", f"core {ro_core}", n_out, c.max_readout, "reduce the outputs"))
    if viol:
        if o.passes > 0 and refined == "fm" and not any(v.rule == "cores" for v in viol):
            # Refinement checks neurons, memory and fan-in but not fan-out: fall back to the greedy result.
            from dataclasses import replace
            return partition(g, rule, profile, replace(o, passes=0), adaptive=adaptive)
        raise ChipConstraintError(viol, profile.name)
    inter = traffic.sum() - np.trace(traffic)
    rep = {
        "n_cores": int(k), "fill": fill, "refinement": refined, "moves": int(moves), "swaps": int(swaps),
        "bits_per_synapse": int(bps), "learn_bits_per_neuron": int(lbn),
        "learn_state": "separate" if not shared_learn else "in synaptic memory",
        "cut_synapses": int(cut_edges), "cut_rate_weighted": float(cut_w),
        "inter_core_packets_per_step": float(inter), "local_packets_per_step": float(np.trace(traffic)),
        "rate_hz_mean": float(rates.mean()), "readout_core": int(ro_core),
        "per_core": {"neurons": neurons.tolist(), "syn_bits": syn.tolist(), "learn_bits": learn.tolist(),
                     "fan_in": fan_in.tolist(), "fan_out": fan_out.tolist()},
        "limits": {"max_neurons": c.max_neurons, "syn_mem_bits": c.syn_mem_bits, "max_fan_in": c.max_fan_in,
                   "max_fan_out": c.max_fan_out, "learn_state_bits": c.learn_state_bits},
        "learning_state_bits_total": int(lbn * n_rec + (g.w_in.nnz + g.w_rec.nnz) * (bps - profile.format.weight_bits - c.syn_overhead_bits)) if rule is not None else 0,
    }
    return Partition(core_all.astype(np.int32), int(k), neurons, syn, learn, fan_in, fan_out, traffic, dest_indptr, dest,
                     int(ro_core), rep)
