"""`EventCounts` derived from recorded spikes + the compiled placement (inference).

Used by backends that do not count inside their kernels (lava, brian2), and as an independent check
of the native backend's in-kernel counts. Pure numpy; cost O(B * T * n_rec) plus one matrix product
per projection.

Counting conventions (the same as the native kernels', see ``backends/result.py``):
- one synaptic op per (spike, existing target synapse): input spikes reach every recurrent neuron
  (dense ``w_in``), a recurrent spike reaches its ``rec_mask`` targets and every readout neuron;
- neuron updates: every recurrent and readout compartment every step;
- a spike packet is one message per recurrent spike per destination core (multicast by core, the
  source core included when it holds targets); input spikes arrive from off-mesh and send no packet;
- mesh hops: ``compiled.hops[src_core, dst_core]`` summed over packets;
- bits read: ``weight_bits`` per synaptic op (one synapse-memory word read per event).
"""
from __future__ import annotations

import numpy as np

from .result import EventCounts


def dense(a) -> np.ndarray:
    """A dense numpy array from a dense array or a scipy.sparse matrix (compiled sparse projections)."""
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def _dest_cores(compiled) -> np.ndarray:
    """[n_rec, n_cores] bool: core c holds a target of recurrent neuron i (rec targets or readout)."""
    n_rec, n_cores = compiled.n_rec, compiled.n_cores
    core_of = np.asarray(compiled.core_of, dtype=np.int64)
    dest = np.zeros((n_rec, n_cores), dtype=bool)
    mask = dense(compiled.rec_mask).astype(bool)           # [post, pre]
    for c in range(n_cores):
        on_c = core_of[:n_rec] == c
        dest[:, c] = mask[on_c, :].any(axis=0)               # any post on core c for pre i
        on_c_out = core_of[n_rec:] == c
        if on_c_out.any():                                    # readout neurons receive every z they have a synapse for
            om = getattr(compiled, "out_mask", None)
            dest[:, c] |= True if om is None else np.asarray(om, bool)[on_c_out].any(axis=0)
    return dest


def counts_from_spikes(compiled, inputs: np.ndarray, spikes: np.ndarray, *, weight_bits: int | None = None) -> EventCounts:
    """Count the events of an inference run.

    compiled: `CompiledNetwork`; inputs [B, T, n_in] 0/1; spikes [B, T, n_rec] 0/1 (float time axis);
    weight_bits: bits read per synaptic op (None: the profile's weight format; float runs pass 64).
    Returns `EventCounts` with totals over batch and time and per-core arrays of length n_cores.
    """
    x = np.asarray(inputs) != 0
    z = np.asarray(spikes) != 0
    B, T, n_in = x.shape
    n_rec, n_out = compiled.n_rec, compiled.n_out
    n_cores = compiled.n_cores
    core_of = np.asarray(compiled.core_of, dtype=np.int64)
    mask = dense(compiled.rec_mask).astype(bool)
    hops = np.asarray(compiled.hops, dtype=np.int64)

    n_in_spk = int(x.sum())
    zc = z.sum(axis=(0, 1)).astype(np.int64)                 # spikes per recurrent neuron
    n_spk = int(zc.sum())
    fan_rec = mask.sum(axis=0).astype(np.int64)              # recurrent targets per pre
    # layer map (None: every input / readout synapse exists)
    im = np.ones((n_rec, n_in), bool) if getattr(compiled, "in_mask", None) is None else np.asarray(compiled.in_mask, bool)
    om = np.ones((n_out, n_rec), bool) if getattr(compiled, "out_mask", None) is None else np.asarray(compiled.out_mask, bool)
    xc = x.sum(axis=(0, 1)).astype(np.int64)                 # spikes per input
    rec_from_in = im.astype(np.int64) @ xc                   # input syn ops received by each rec neuron
    syn_in = int(rec_from_in.sum())
    syn_rec = int((zc * fan_rec).sum())
    syn_out = int((zc * om.sum(axis=0)).sum())
    wbits = int(weight_bits) if weight_bits is not None else \
        int(getattr(getattr(compiled.profile, "format", None), "weight_bits", 9) or 9)

    # per-core synaptic ops, attributed to the core of the target neuron
    per_core_syn = np.zeros(n_cores, np.int64)
    rec_in = mask.astype(np.int64) @ zc                       # syn ops received by each rec neuron
    np.add.at(per_core_syn, core_of[:n_rec], rec_in + rec_from_in)
    np.add.at(per_core_syn, core_of[n_rec:], om.astype(np.int64) @ zc)
    per_core_nu = np.bincount(core_of, minlength=n_cores).astype(np.int64) * (B * T)

    dest = _dest_cores(compiled)                              # [n_rec, n_cores]
    c2c = np.zeros((n_cores, n_cores), np.int64)
    for c in range(n_cores):
        src = core_of[:n_rec] == c
        c2c[c] = (zc[src, None] * dest[src]).sum(axis=0)
    packets = int(c2c.sum())

    # active neuron updates: received a synaptic event or spiked at that step
    got_in = x.any(axis=2)                                    # [B, T] any input -> all rec neurons
    zprev = np.zeros_like(z)
    zprev[:, 1:] = z[:, :-1]
    # which neurons got a recurrent event: sparse spikes x sparse connectivity (an int64 dense product is
    # not BLAS and cost seconds at N = 1024)
    import scipy.sparse as sp
    zs = sp.csr_matrix(zprev.reshape(-1, n_rec), dtype=np.float32)
    got_rec = ((zs @ sp.csr_matrix(mask.T, dtype=np.float32)).toarray() > 0).reshape(B, T, n_rec)
    active_rec = got_in[:, :, None] | got_rec | z              # (as the kernels: an input spike wakes every core)
    active_out = z.any(axis=2)                                # readout gets z^t the same step
    active = int(active_rec.sum()) + int(active_out.sum()) * n_out

    syn_ops = syn_in + syn_rec + syn_out
    return EventCounts(
        steps=B * T, trials=B,
        neuron_updates=(n_rec + n_out) * B * T,
        neuron_updates_active=active,
        spikes=n_spk, input_spikes=n_in_spk,
        syn_ops=syn_ops,
        syn_ops_dense=(int(im.sum()) + int(mask.sum()) + int(om.sum())) * B * T,
        spike_packets=packets,
        mesh_hops=int((c2c * hops).sum()),
        bits_read=syn_ops * wbits,
        per_core_syn_ops=per_core_syn,
        per_core_neuron_updates=per_core_nu,
        per_core_packets_out=c2c.sum(axis=1),
        core_to_core_packets=c2c,
    )
