"""BPTT on chip vs e-prop, costed the same way (event counts priced by `neurochip.cost.energy`).

Notation: N recurrent, K readout, n_in inputs, S_in = N n_in, S_rec existing recurrent synapses,
T steps per trial, c(j) = core of neuron j, C_rec = cores holding recurrent neurons.

BPTT (exact gradient, backward pass after the trial):
  * memory: the state history every backward step reads, for every t:
        M_hist = T (N (membrane_bits + current_bits [+ membrane_bits for a]) + N + n_in)  bits
    (v, u, a, spikes z, inputs x), plus S gradient accumulators of ``learning.accumulator_bits``.
    O(N T), against e-prop's T-independent state (`memory.learning_state_bits`).
  * backward traffic per step: every neuron j sends its graded delta_j^t to each core holding one of
    its presynaptic neurons (reverse use of W_rec): sum_j |pre_cores(j)| messages, routed with the
    mesh hop counts; the readout error reaches every recurrent core: K |C_rec| messages.
  * compute per step: delta through W_rec^T (S_rec graded synaptic ops, dense: deltas are dense) and
    through W_out^T (K N MACs); gradient accumulation grad_ji += delta_j z_i^{t-1} for every
    (presynaptic spike, synapse) pair, i.e. the forward input+recurrent synaptic ops (counted as
    per-synapse accumulator updates, priced as ``trace_update``); S weight writes per trial.
  * memory traffic: the history is written once and read once: M_hist bits each way (returned in
    ``info`` and priced by `energy(..., history_bits=...)`: it is *not* inside any per-op figure).
e-prop (forward in time, Bellec et al. 2020; chips_energy.md section 5.2, option A broadcast):
  * per step: K |C_rec| learning-signal messages, K N MACs, trace updates ((n_in + N) presynaptic
    + N postsynaptic per step when factorised; S_in + S_rec more when per-synapse); S weight writes per
    trial (updates applied once per trial, as ReckOn gates them on a valid target).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend_contract import EventCounts, io_synapses
from .memory import learning_state_bits, n_existing


def history_bits_per_step(n_in: int, n_rec: int, fmt, kind: str = "lif") -> int:
    """Bits BPTT must keep per time step: v, u (and a for ALIF) per neuron, spikes, inputs."""
    state = fmt.membrane_bits + fmt.current_bits + (fmt.membrane_bits if kind == "alif" else 0)
    return n_rec * state + n_rec + n_in


def expected_pre_cores(n_rec: int, n_cores: int, p_rec: float) -> float:
    """Expected number of cores holding >= 1 presynaptic neuron of a neuron, for random connectivity
    of density p_rec and N/n_cores neurons per core: n_cores (1 - (1 - p)^(N / n_cores))."""
    per = n_rec / n_cores
    return n_cores * (1.0 - (1.0 - p_rec) ** per)


def analytic(n_in: int, n_rec: int, n_out: int, T: int, fmt, *, p_rec: float = 0.1, neurons_per_core: int = 256,
             kind: str = "lif", accumulator_bits: int = 16) -> dict[str, Any]:
    """Memory (bits) and traffic (messages per trial) of BPTT and e-prop for one trial of T steps."""
    n_cores = max(1, math.ceil(n_rec / neurons_per_core))
    s = n_rec * n_in + p_rec * n_rec * (n_rec - 1)
    hist = T * history_bits_per_step(n_in, n_rec, fmt, kind)
    bptt_mem = hist + s * accumulator_bits
    ef = learning_state_bits(n_in, n_rec, int(s), fmt, eligibility="factorised", kind=kind)["total"]
    es = learning_state_bits(n_in, n_rec, int(s), fmt, eligibility="per_synapse", kind=kind)["total"]
    fb = n_rec * n_out * fmt.weight_bits
    ls = T * n_out * n_cores
    bwd = T * n_rec * expected_pre_cores(n_rec, n_cores, p_rec)
    return {"T": T, "N": n_rec, "n_cores": n_cores,
            "bptt_memory_bits": bptt_mem, "bptt_history_bits": hist,
            "eprop_factorised_memory_bits": ef + fb, "eprop_per_synapse_memory_bits": es + fb,
            "bptt_messages": bwd + ls, "eprop_messages": ls,
            "bptt_memory_traffic_bits": 2 * hist}


def _pre_core_matrix(compiled) -> np.ndarray:
    """[n_cores, n_cores] int64: entry (a, b) = number of recurrent neurons on core a that have >= 1
    presynaptic recurrent neuron on core b (the per-step backward delta messages a -> b)."""
    n_cores = int(compiled.n_cores)
    core = np.asarray(compiled.core_of[: compiled.n_rec], dtype=np.int64)
    import scipy.sparse as sp
    mask = compiled.rec_mask                                  # [post j, pre i], dense bool or CSR
    onehot = np.zeros((compiled.n_rec, n_cores), dtype=np.int64)
    onehot[np.arange(compiled.n_rec), core] = 1
    m_int = mask.astype(np.int64) if sp.issparse(mask) else np.asarray(mask, dtype=bool).astype(np.int64)
    has_pre_on = np.asarray(m_int @ onehot) > 0               # [j, core b]
    m = np.zeros((n_cores, n_cores), dtype=np.int64)
    np.add.at(m, core, has_pre_on.astype(np.int64))
    return m


def _ls_broadcast(compiled) -> tuple[int, int]:
    """(messages, hops) per step for sending K readout errors to every recurrent core."""
    rec_cores = np.unique(np.asarray(compiled.core_of[: compiled.n_rec]))
    ls_hops = np.asarray(compiled.ls_hops, dtype=np.int64)
    k = int(compiled.n_out)
    return k * len(rec_cores), k * int(ls_hops[rec_cores].sum()) if ls_hops.size else 0


def _plastic(compiled) -> tuple[int, int, int]:
    s_in, s_out = io_synapses(compiled)
    s_rec = n_existing(compiled.rec_mask)
    return s_in, s_rec, s_out


def bptt_counts(compiled, forward: EventCounts, profile=None, *, learning: EventCounts | None = None
                ) -> tuple[EventCounts, dict[str, Any]]:
    """EventCounts of on-chip BPTT learning for the trials in ``forward`` (an inference run's counts of
    the same inputs): the forward events plus the backward pass on the compiled placement. The state
    history traffic is in ``info['history_bits_written'/'history_bits_read']`` (pass both to
    `energy(..., history_bits=(read, written))`). ``learning``: an e-prop learning run's counts on the
    same inputs; its learning-signal messages/hops/MACs (the readout error delivered to the recurrent
    neurons on the loss steps) are reused, since BPTT must deliver the same errors; without it every
    step delivers K errors to every recurrent core (an upper bound)."""
    p = profile if profile is not None else compiled.profile
    fmt = p.format
    trials = max(int(forward.trials), 1)
    steps = int(forward.steps)                     # T x trials
    s_in, s_rec, s_out = _plastic(compiled)
    pre = _pre_core_matrix(compiled)
    hops = np.asarray(compiled.hops, dtype=np.int64)
    bwd_c2c = pre * steps
    if learning is not None:
        ls_total = (int(learning.learning_signal_msgs), int(learning.learning_signal_hops),
                    int(learning.learning_signal_macs))
    else:
        m, h = _ls_broadcast(compiled)
        ls_total = (m * steps, h * steps, int(compiled.n_out * compiled.n_rec) * steps)
    hist_step = history_bits_per_step(compiled.n_in, compiled.n_rec, fmt, str(compiled.neuron_kind))
    readout_ops = int(forward.spikes) * int(compiled.n_out)
    grad_acc = max(int(forward.syn_ops) - readout_ops, 0)
    extra = EventCounts(
        steps=0, trials=0,
        syn_ops=s_rec * steps,                               # delta_j through W_rec^T, dense graded
        spike_packets=int(bwd_c2c.sum()),
        mesh_hops=int((bwd_c2c * hops).sum()),
        trace_updates=grad_acc,                              # grad accumulators += delta_j z_i
        weight_updates=(s_in + s_rec + s_out) * trials,
        learning_signal_msgs=ls_total[0],
        learning_signal_hops=ls_total[1],
        learning_signal_macs=ls_total[2],
        per_core_packets_out=bwd_c2c.sum(axis=1),
        core_to_core_packets=bwd_c2c,
    )
    total = forward + extra
    peak = hist_step * (steps // trials) + (s_in + s_rec + s_out) * p.learning.accumulator_bits
    capacity = int(compiled.n_cores) * p.core.syn_mem_bits
    weights = (s_in + s_rec + s_out) * (fmt.weight_bits + p.core.syn_overhead_bits)
    info = {"history_bits_per_step": hist_step, "peak_learning_memory_bits": peak,
            "history_bits_written": hist_step * steps, "history_bits_read": hist_step * steps,
            "fits_in_synaptic_memory": bool(peak + weights <= capacity), "chip_synaptic_memory_bits": capacity,
            "backward_messages": int(bwd_c2c.sum()), "note": "backward deltas priced as spike packets; "
            "state-history writes/reads priced per bit where the chip publishes it (else unpriced); gradient "
            "accumulations as trace updates"}
    return total, info


def eprop_counts(compiled, forward: EventCounts, profile=None, *, eligibility: str | None = None) -> EventCounts:
    """Analytic EventCounts of on-chip e-prop for the trials in ``forward`` (used when no backend
    learning run is available; the native backend's learn=True counts replace it when present)."""
    p = profile if profile is not None else compiled.profile
    if eligibility is None:
        eligibility = p.learning.eligibility[0] if p.learning.eligibility else "factorised"
    trials = max(int(forward.trials), 1)
    steps = int(forward.steps)
    s_in, s_rec, s_out = _plastic(compiled)
    ls_msgs, ls_hops = _ls_broadcast(compiled)
    per_step_traces = (compiled.n_in + 2 * compiled.n_rec)
    if eligibility == "per_synapse":
        per_step_traces += s_in + s_rec
    extra = EventCounts(
        trace_updates=int(per_step_traces) * steps,
        weight_updates=(s_in + s_rec + s_out) * trials,
        learning_signal_msgs=ls_msgs * steps,
        learning_signal_hops=ls_hops * steps,
        learning_signal_macs=int(compiled.n_out * compiled.n_rec) * steps,
    )
    return forward + extra


def scaling_table(fmt, *, Ts=(100, 300, 1000, 3000, 10000), Ns=(64, 256, 1024), n_in: int = 40, n_out: int = 2,
                  p_rec: float = 1.0, neurons_per_core: int = 256, kind: str = "alif",
                  accumulator_bits: int = 16) -> list[dict[str, Any]]:
    """`analytic` over a grid of T and N (defaults: the evidence-accumulation shapes)."""
    return [analytic(n_in, n, n_out, t, fmt, p_rec=p_rec, neurons_per_core=neurons_per_core, kind=kind,
                     accumulator_bits=accumulator_bits) for n in Ns for t in Ts]
