"""The backend contract (DESIGN.md): what every backend returns (`RunResult`, `EventCounts`), what it
declares (`Capabilities`), and the checks every backend applies to its inputs and keyword arguments.

A neutral module: it imports nothing from ``neurochip.backends``, ``neurochip.cost`` or
``neurochip.validate``, so all three import it without a cycle. ``neurochip.backends.result`` re-exports
`RunResult` and `EventCounts` for older imports.

The cost model reads only `EventCounts` + `ChipProfile`, so every backend is costed the same way.
Counts are additive: ``a + b`` sums every field (runs and batches add up). Callers choose a backend by
what it declares in its ``CAPABILITIES`` (fixed or float arithmetic, learning, limits), never by its name.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .errors import BackendError



# register kinds whose wraps / saturations are counted separately (EventCounts.overflow_<kind>)
OVERFLOW_KINDS = ("current", "membrane", "readout", "accumulator", "trace", "weight")


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
    saturations:        fixed-point saturation/wrap events, all register kinds together (never silent)
    overflow_current, overflow_membrane, overflow_readout, overflow_accumulator, overflow_trace,
    overflow_weight:    the same events by register kind (OVERFLOW_KINDS; docs/fixed_point.md
                        "Registers"): updates whose stored value differs from the exact result
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
    overflow_current: int = 0
    overflow_membrane: int = 0
    overflow_readout: int = 0
    overflow_accumulator: int = 0
    overflow_trace: int = 0
    overflow_weight: int = 0
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

    def overflows(self) -> dict[str, int]:
        """Wrap/saturation events per register kind (OVERFLOW_KINDS), e.g. {'current': 3, ...}."""
        return {k: int(getattr(self, "overflow_" + k)) for k in OVERFLOW_KINDS}

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


# --------------------------------------------------------------------------------------------------
# capabilities: what a backend declares about itself (callers ask these, never the backend's name)
# --------------------------------------------------------------------------------------------------
ARITHMETIC = ("fixed", "float")
FLOAT_WEIGHT_BITS = 64   # float backends read float64 weights: EventCounts.bits_read = syn_ops x 64
LEARNING = ("none", "compiled_rule", "partial")
# keyword arguments of every backend's run() (DESIGN.md contract); a backend adds its own in `options`
COMMON_OPTIONS = ("learn", "targets", "record", "seed")
LEARNING_OPTIONS = ("epochs", "batch_size")


@dataclass(frozen=True)
class Capabilities:
    """A backend's declaration of what its ``run()`` does.

    arithmetic: 'fixed' - runs a CompiledNetwork's integer state (docs/fixed_point.md), or 'float' -
        runs the float network (a `Network`, or the ``*_float`` fields of a CompiledNetwork).
    modes: further arithmetic selectable through ``run(mode=...)`` (native: ('fixed', 'float')); empty if none.
    accepts_network: run() also takes a float `Network` as its first argument (a float reference).
    learning: 'none' (learn=True is refused), 'compiled_rule' (learn=True executes ``compiled.rule``
        exactly as lowered), 'partial' (learn=True executes the part of the rule the backend can
        express: ``learned`` projections, ``learning_note`` says what).
    learned: projections a learning run can change ('w_in', 'w_rec', 'w_out').
    learning_note: one line on what a learning run computes.
    records: names ``record=`` accepts.
    options: keyword arguments run() accepts beyond COMMON_OPTIONS (LEARNING_OPTIONS when it learns).
    bit_exact_with: backends whose fixed-point results this one reproduces bit for bit (tests/crosscheck).
    counts: 'kernel' (events counted where they happen) or 'spikes' (derived from recorded spikes and
        the compiled placement, `backends.counts`; inference events only).
    max_trials_per_run: None = no limit beyond memory. startup_s: typical fixed cost per run, s.
    """

    arithmetic: str
    modes: tuple[str, ...] = ()
    accepts_network: bool = False
    learning: str = "none"
    learned: tuple[str, ...] = ()
    learning_note: str = ""
    records: tuple[str, ...] = ("spikes", "outputs")
    options: tuple[str, ...] = ()
    bit_exact_with: tuple[str, ...] = ()
    counts: str = "spikes"
    max_trials_per_run: int | None = None
    startup_s: float = 0.0

    def __post_init__(self) -> None:
        if self.arithmetic not in ARITHMETIC:
            raise ValueError(f"Capabilities.arithmetic must be one of {ARITHMETIC}, got {self.arithmetic!r}")
        if self.learning not in LEARNING:
            raise ValueError(f"Capabilities.learning must be one of {LEARNING}, got {self.learning!r}")
        if self.learning != "none" and not self.learned:
            raise ValueError("a backend that learns must name the projections it changes (learned)")

    @property
    def learns(self) -> bool:
        return self.learning != "none"

    def accepted_options(self) -> tuple[str, ...]:
        return COMMON_OPTIONS + (LEARNING_OPTIONS if self.learns else ()) + tuple(self.options)


def reject_unknown_options(backend: str, caps: Capabilities, unknown: dict[str, Any]) -> None:
    """Raise `BackendError` naming every keyword argument of ``run()`` the backend does not accept
    (a misspelled option must never be swallowed)."""
    if unknown:
        raise BackendError(f"{backend} backend: unknown run() option(s) {', '.join(sorted(map(repr, unknown)))}; "
                           f"accepted: {', '.join(caps.accepted_options())}")


def check_record(backend: str, caps: Capabilities, record) -> tuple[str, ...]:
    """``record`` as a tuple; `BackendError` for names the backend cannot record."""
    rec = tuple(record or ())
    bad = [r for r in rec if r not in caps.records]
    if bad:
        raise BackendError(f"{backend} backend: cannot record {bad}; known: {', '.join(caps.records)}")
    return rec


# --------------------------------------------------------------------------------------------------
# input checking shared by every backend
# --------------------------------------------------------------------------------------------------
def check_spike_inputs(n_in: int, inputs, *, backend: str, binary: bool = True) -> np.ndarray:
    """Inputs [batch, time, n_in] (or [time, n_in]: one trial) of 0/1 spikes -> contiguous uint8.

    `BackendError` naming the problem: wrong rank or width, an empty batch or time axis, non-finite or
    graded values where the backend takes binary spikes."""
    x = np.asarray(inputs)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != n_in:
        raise BackendError(f"{backend} backend: inputs must have shape [batch, time, n_in={n_in}], got {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise BackendError(f"{backend} backend: inputs need at least one trial and one step, got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise BackendError(f"{backend} backend: inputs must be numeric 0/1 spikes, got dtype {x.dtype}")
    if binary and x.dtype != np.uint8 and x.dtype != bool and not np.isin(x, (0, 1)).all():
        raise BackendError(f"{backend} backend takes binary input spikes (0/1); graded inputs are not supported")
    if binary and x.dtype == np.uint8 and x.size and x.max() > 1:
        raise BackendError(f"{backend} backend takes binary input spikes (0/1), got values up to {int(x.max())}")
    return np.ascontiguousarray(x, dtype=np.uint8)


def _dense(a) -> np.ndarray:
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def float_network(compiled):
    """The source float `Network` carried by a `CompiledNetwork` (its ``*_float`` fields and
    ``float_params``); a `Network` is returned unchanged. Missing feedback ``B`` or ``beta`` become
    zeros (inference does not use B; a learning comparison checks ``B_float`` itself).

    Raises `ArtifactError` when the artifact carries no float network."""
    from .errors import ArtifactError
    from .network import Network, NeuronParams

    if isinstance(compiled, Network):
        return compiled
    missing = [n for n in ("w_in_float", "w_rec_float", "w_out_float") if getattr(compiled, n, None) is None]
    if missing or not getattr(compiled, "float_params", None):
        raise ArtifactError(f"compiled network carries no float source network (missing {missing or ['float_params']}); "
                            f"recompile it with this version of the compiler")
    n_rec, n_out = int(compiled.n_rec), int(compiled.n_out)
    B = compiled.B_float if getattr(compiled, "B_float", None) is not None else np.zeros((n_rec, n_out))
    beta = compiled.beta_float if getattr(compiled, "beta_float", None) is not None else np.zeros(n_rec)
    return Network(params=NeuronParams.from_dict(dict(compiled.float_params)), w_in=_dense(compiled.w_in_float),
                   w_rec=_dense(compiled.w_rec_float), w_out=_dense(compiled.w_out_float),
                   b_out=np.asarray(compiled.b_out, float), B=_dense(B), beta=np.asarray(beta, float),
                   rec_mask=_dense(compiled.rec_mask).astype(bool), in_mask=getattr(compiled, "in_mask", None),
                   out_mask=getattr(compiled, "out_mask", None))


def io_synapses(compiled) -> tuple[int, int]:
    """(input, readout) synapses that exist in an artifact: its layer map's in_mask / out_mask counts, else
    all n_in n_rec / n_rec n_out."""
    im, om = getattr(compiled, "in_mask", None), getattr(compiled, "out_mask", None)
    n_in, n_rec, n_out = int(compiled.n_in), int(compiled.n_rec), int(compiled.n_out)
    return (n_in * n_rec if im is None else int(np.count_nonzero(im))), \
        (n_out * n_rec if om is None else int(np.count_nonzero(om)))


__all__ = ["ARITHMETIC", "COMMON_OPTIONS", "OVERFLOW_KINDS", "FLOAT_WEIGHT_BITS", "LEARNING", "LEARNING_OPTIONS", "Capabilities", "EventCounts", "RunResult",
           "check_record", "check_spike_inputs", "float_network", "io_synapses", "reject_unknown_options"]
