"""Latency per time step of a compiled network on a barrier-synchronised mesh (Loihi, SANA-FE's model).

A Loihi-style chip advances in time steps: every core works through its events of the step serially,
then all cores meet at a mesh-wide barrier. So the duration of a step is

    step_ns = max over cores c of  work_c  +  barrier_ns(tiles in use)

    work_c  = max(axon_in_c, synapse_c, soma_c, axon_out_c)      (pipelined core, the default)
         or   axon_in_c + synapse_c + soma_c + axon_out_c         (serial core, ``pipelined=False``)
    axon_in_c  = msgs_in_c  * message_in      (spike messages arriving at core c)
    synapse_c  = syn_c      * synapse         (synaptic events processed by core c)
    soma_c     = neurons_c  * neuron_access   (every compartment mapped to c is visited every step)
               + updated_c  * neuron_update   (compartments that received input or spiked)
               + spikes_c   * spike_out       (spikes generated on c)
    axon_out_c = msgs_out_c * message_out     (messages leaving c: one per destination core of a spike)

A Loihi core is a pipeline of these four units working on different events at once, so its time is
that of its slowest unit (SANA-FE's core model; the serial sum overestimates SANA-FE by ~50 % on a
synapse-bound core, tests/crosscheck/test_sanafe.py).

with per-event latencies in ns from a `LatencyTable`. The busiest core sets the pace; NoC transit is
overlapped with processing and ignored (SANA-FE's 'detailed' model adds it only under contention).
Inputs: `core_events` counts the per-step, per-core events from a run's spikes and the compiled network's
placement; `step_latency` turns them into time. Units: ns; arrays [T, n_cores] (summed over the batch
and divided by the number of trials, i.e. per trial).

Latency figures are kept here, not in the chip TOML files, until the profile schema has a latency
section; each table names its source.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class LatencyTable:
    """Per-event latencies (ns) and the barrier time as a function of the number of tiles in use.

    barrier: ((tiles, ns), ...) sorted by tiles; the barrier of n tiles is the entry with the largest
    tiles <= n ('step', SANA-FE's table model) or linear interpolation between entries ('linear')."""

    name: str
    message_in: float
    synapse: float
    neuron_access: float
    neuron_update: float
    spike_out: float
    message_out: float
    barrier: tuple[tuple[int, float], ...]
    barrier_mode: str
    source: str
    pipelined: bool = True

    def barrier_ns(self, tiles: int) -> float:
        keys = np.array([k for k, _ in self.barrier], dtype=np.float64)
        vals = np.array([v for _, v in self.barrier], dtype=np.float64)
        n = max(int(tiles), 1)
        if self.barrier_mode == "linear":
            return float(np.interp(n, keys, vals))
        i = int(np.searchsorted(keys, n, side="right")) - 1
        return float(vals[max(i, 0)])


LATENCY_TABLES = {
    # SANA-FE arch/loihi.yaml (sanafe 2.2.9, examples/loihi.yaml): regression on Loihi silicon (Boyle et al.,
    # IEEE TCAD 2025); sync_model 'table' keyed by the number of tiles in use (checked in tests/crosscheck/test_sanafe.py)
    "loihi1_sanafe": LatencyTable(
        name="loihi1_sanafe", message_in=16.0, synapse=3.8, neuron_access=6.0, neuron_update=3.7, spike_out=30.0,
        message_out=5.1, barrier=((1, 600.0), (2, 1000.0), (4, 1400.0), (29, 1800.0)), barrier_mode="step",
        source="SANA-FE arch/loihi.yaml (Boyle et al., SANA-FE, IEEE TCAD 2025): dense synapse 3.8 ns, access 6.0 ns, "
               "update 3.7 ns, spike out 30 ns, message in 16 ns, message out 5.1 ns, barrier table 0.6-1.8 us"),
    # Davies et al., IEEE Micro 2018, Table 2 (pre-silicon): SOP <= 3.5 ns, neuron update 8.4 ns active
    # (5.3 ns inactive; the access term here), barrier 113-465 ns for 1-32 tiles (linear in between: an assumption)
    "loihi1": LatencyTable(
        name="loihi1", message_in=0.0, synapse=3.5, neuron_access=5.3, neuron_update=3.1, spike_out=0.0,
        message_out=2.1, barrier=((1, 113.0), (32, 465.0)), barrier_mode="linear",
        source="Davies et al. 2018 Table 2: SOP 3.5 ns, neuron 8.4/5.3 ns (active/inactive), in-tile spike 2.1 ns, "
               "barrier 113-465 ns (1-32 tiles, linear interpolation assumed)"),
}


def latency_table(name: str) -> LatencyTable:
    """The latency table of a chip profile name; `ConfigError` when none is published."""
    t = LATENCY_TABLES.get(name)
    if t is None:
        raise ConfigError(f"no per-event latencies for chip '{name}'; known: {', '.join(sorted(LATENCY_TABLES))}")
    return t


@dataclass(frozen=True)
class CoreEvents:
    """Per-step, per-core event counts of one run, per trial (float, [T, n_cores]), plus the static
    neuron count per core [n_cores] and the number of tiles in use."""

    msgs_in: np.ndarray
    syn: np.ndarray
    updated: np.ndarray
    spikes: np.ndarray
    msgs_out: np.ndarray
    neurons: np.ndarray
    tiles: int


def _fan(targets_core: np.ndarray, exists: np.ndarray, n_cores: int) -> np.ndarray:
    """[n_cores, n_src] number of existing synapses of each source onto each core. exists [n_tgt, n_src] bool."""
    out = np.zeros((n_cores, exists.shape[1]))
    for c in range(n_cores):
        out[c] = exists[targets_core == c].sum(axis=0)
    return out


def core_events(compiled, spikes: np.ndarray, inputs: np.ndarray) -> CoreEvents:
    """Events per step and core for a run of ``compiled`` with recurrent spikes [B, T, n_rec] and input
    spikes [B, T, n_in] (0/1). A spike of step t is processed (messages, synapses) in step t.
    Input messages arrive at every core holding a target of the input; they leave no core (off-chip)."""
    z = np.asarray(spikes, dtype=np.float64)
    x = np.asarray(inputs, dtype=np.float64)
    if z.ndim != 3 or x.ndim != 3 or z.shape[:2] != x.shape[:2]:
        raise ConfigError(f"spikes [B, T, n_rec] and inputs [B, T, n_in] must share B and T, got {z.shape} and {x.shape}")
    n_rec, n_out = compiled.n_rec, compiled.n_out
    core_of = np.asarray(compiled.core_of)
    n_cores = int(core_of.max()) + 1
    rec_core, out_core = core_of[:n_rec], core_of[n_rec:n_rec + n_out]
    e_in = np.asarray(compiled.w_in) != 0                                   # [n_rec, n_in]
    e_rec = np.asarray(compiled.rec_mask, bool)                             # [n_rec, n_rec]
    e_out = np.asarray(compiled.w_out) != 0                                 # [n_out, n_rec]
    fan_in = _fan(rec_core, e_in, n_cores)                                  # [C, n_in]
    fan_rec = _fan(rec_core, e_rec, n_cores) + _fan(out_core, e_out, n_cores)  # [C, n_rec]
    B = z.shape[0]
    zs, xs = z.sum(0), x.sum(0)                                             # [T, n]: summed over trials
    syn = (xs @ fan_in.T + zs @ fan_rec.T) / B
    msgs_in = (xs @ (fan_in > 0).T + zs @ (fan_rec > 0).T) / B
    own = np.zeros((n_cores, n_rec))
    own[rec_core, np.arange(n_rec)] = 1.0
    spikes_c = zs @ own.T / B
    dests = (fan_rec > 0).sum(axis=0)                                       # destination cores per neuron
    msgs_out = (zs * dests) @ own.T / B
    # compartments updated: received a synaptic event this step or spiked (recurrent), received one (readout)
    upd = np.zeros_like(syn)
    for b in range(B):
        got = (x[b] @ e_in.T + z[b] @ e_rec.T) > 0
        active = got | (z[b] > 0)
        upd += active @ own.T
        got_out = (z[b] @ e_out.T) > 0
        for k in range(n_out):
            upd[:, out_core[k]] += got_out[:, k]
    upd /= B
    neurons = np.bincount(core_of[:n_rec + n_out], minlength=n_cores).astype(np.float64)
    xy = np.asarray(compiled.core_xy).reshape(-1, 2)
    tiles = len({(int(a), int(b)) for a, b in xy[:n_cores]})
    return CoreEvents(msgs_in=msgs_in, syn=syn, updated=upd, spikes=spikes_c, msgs_out=msgs_out, neurons=neurons,
                      tiles=tiles)


@dataclass(frozen=True)
class StepLatency:
    """Time per step (ns): per_step [T], its mean and max; busiest core per step [T]; barrier (ns);
    work [T, n_cores] (ns, before the barrier); the table used."""

    per_step: np.ndarray
    mean_ns: float
    max_ns: float
    busiest: np.ndarray
    barrier_ns: float
    work: np.ndarray
    table: LatencyTable


def step_latency(ev: CoreEvents, table: LatencyTable) -> StepLatency:
    """Latency per step from per-core events (module docstring formula)."""
    stages = np.stack([ev.msgs_in * table.message_in,                                   # axon in
                       ev.syn * table.synapse,                                          # synapse
                       ev.neurons[None, :] * table.neuron_access + ev.updated * table.neuron_update
                       + ev.spikes * table.spike_out,                                   # soma
                       ev.msgs_out * table.message_out])                                # axon out
    work = stages.max(axis=0) if table.pipelined else stages.sum(axis=0)
    bar = table.barrier_ns(ev.tiles)
    per = work.max(axis=1) + bar
    return StepLatency(per_step=per, mean_ns=float(per.mean()), max_ns=float(per.max()), busiest=work.argmax(axis=1),
                       barrier_ns=bar, work=work, table=table)
