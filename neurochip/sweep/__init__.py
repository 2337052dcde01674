"""Sweeps: a grid of pipeline configs (rules x seeds x tasks x chips x any config key) expanded into
independent points, each run by a pure function and written atomically, resumable, on a local process
pool or a Ray cluster. See `spec` (the TOML spec and its expansion), `point` (what one point runs),
`execute` (executors and resume) and `summary` (table, statistics and plots)."""
from .spec import Point, SweepSpec, expand, load_spec
from .execute import run_sweep

__all__ = ["Point", "SweepSpec", "expand", "load_spec", "run_sweep"]
