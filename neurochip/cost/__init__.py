"""Cost model: energy, communication and memory of inference and on-chip learning, per chip.

Reads only `EventCounts` (any backend) + `ChipProfile` (published costs with grades and sources) +
the compiled placement. Modules, one job each (formulas and sources in docs/cost_model.md):

- `energy`      counted events x pJ per event + static power; unpriced events flagged, all-in scope kept apart
- `comm`        packets, hops, bytes, XY link and router loads, learning-signal traffic
- `memory`      on-chip bits: weights, neuron state, e-prop learning state, feedback weights
- `bptt`        on-chip BPTT counts (state history, backward traffic) vs e-prop; T/N scaling
- `neurobench`  NeuroBench-compatible metrics with the harness's counting rules
- `validation`  the model against a published chip workload (TrueNorth, Merolla 2014)
- `report`      one chip's report and the side-by-side table; `plots` its figures
- `bench`       `neurochip bench` as a library (counts from the native backend, per-chip recompiles)
"""
from .energy import EnergyReport, energy  # noqa: F401

__all__ = ["energy", "EnergyReport"]
