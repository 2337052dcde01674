"""`RunResult` and `EventCounts`: what every backend returns (DESIGN.md contract).

The cost model reads only `EventCounts` + `ChipProfile`, so every backend is costed the same way.
Counts are additive: ``a + b`` sums every field (runs and batches add up).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


@dataclass
class EventCounts:
    """Counted events of a run (totals over batch and time unless stated).

    steps:              simulated time steps per trial x trials (neuron-update rounds)
    trials:             number of trials (batch entries) simulated
    neuron_updates:     recurrent + readout compartment updates (neurons x steps)
    neuron_updates_active: updates of neurons that received input or spiked that step
    spikes:             spikes emitted by recurrent neurons
    input_spikes:       input spike events delivered
    syn_ops:            synaptic operations: one per (spike, existing target synapse) accumulate,
                        input, recurrent and readout projections together
    syn_ops_dense:      what a dense (non-event-driven) evaluation would do: synapses x steps
    spike_packets:      messages on the mesh: one per spike per destination core (multicast by core)
    mesh_hops:          sum over packets of XY hops travelled (0 for a core's own targets)
    trace_updates:      pre/post/eligibility trace updates (learning runs)
    weight_updates:     synaptic weight writes (learning runs)
    learning_signal_msgs: learning-signal values delivered to recurrent neurons (readout error x B)
    learning_signal_hops: hops travelled by learning-signal messages
    learning_signal_macs: multiply-accumulates to form learning signals (n_out x n_rec per step)
    bits_read, bits_written: on-chip memory traffic (synaptic and state memory), bits
    saturations:        fixed-point saturation/wrap events (overflow is never silent)
    per_core_syn_ops, per_core_neuron_updates, per_core_packets_out: [n_cores] int64
    core_to_core_packets: [n_cores, n_cores] int64 packets from core a to core b (a != b and a == b)
    """

    steps: int = 0
    trials: int = 0
    neuron_updates: int = 0
    neuron_updates_active: int = 0
    spikes: int = 0
    input_spikes: int = 0
    syn_ops: int = 0
    syn_ops_dense: int = 0
    spike_packets: int = 0
    mesh_hops: int = 0
    trace_updates: int = 0
    weight_updates: int = 0
    learning_signal_msgs: int = 0
    learning_signal_hops: int = 0
    learning_signal_macs: int = 0
    bits_read: int = 0
    bits_written: int = 0
    saturations: int = 0
    per_core_syn_ops: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    per_core_neuron_updates: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    per_core_packets_out: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    core_to_core_packets: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    def __add__(self, other: "EventCounts") -> "EventCounts":
        out = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray):
                if a.size == 0:
                    out[f.name] = np.array(b, copy=True)
                elif b.size == 0:
                    out[f.name] = np.array(a, copy=True)
                else:
                    out[f.name] = a + b
            else:
                out[f.name] = int(a) + int(b)
        return EventCounts(**out)

    def scalars(self) -> dict[str, int]:
        """The scalar counts as a dict (JSON friendly)."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self) if not isinstance(getattr(self, f.name), np.ndarray)}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = self.scalars()
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                d[f.name] = v.tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EventCounts":
        kw = {}
        for f in fields(cls):
            if f.name in d:
                v = d[f.name]
                kw[f.name] = np.asarray(v, dtype=np.int64) if isinstance(v, list) else int(v)
        return cls(**kw)


@dataclass
class RunResult:
    """What `backend.run` returns, aligned to the float reference's time axis.

    spikes:   [B, T, n_rec] uint8 recurrent spikes (step t = float step t)
    outputs:  [B, T, n_out] float64 readout (dequantised, bias added): comparable with `FloatTrace.out`
    counts:   `EventCounts`
    backend:  backend name ('native', 'native-float', 'lava', 'brian2')
    v:        optional [B, T, n_rec] membrane (int64 for fixed point, float64 for float backends)
    out_int:  optional [B, T, n_out] int64 raw readout state (fixed point)
    weights:  learned weights after the run: {'w_in', 'w_rec', 'w_out'} (int mantissas for fixed
              point backends, float64 for float ones); empty when learn=False
    weight_updates: optional accumulated weight change per projection (same units as weights)
    meta:     free-form (timings, seeds, learning curve ...)
    """

    spikes: np.ndarray
    outputs: np.ndarray
    counts: EventCounts
    backend: str
    v: np.ndarray | None = None
    out_int: np.ndarray | None = None
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    weight_updates: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
