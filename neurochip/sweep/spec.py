"""The sweep spec (TOML) and its expansion into points.

A spec has three tables::

    [sweep]                       # how to run
    name = "liu2022"
    kind = "train"                # what a point runs: 'train' (float training + gap + curvature) or
                                  #   'onchip' (the same with the training on chip: [chip], [onchip])
    [base]                        # a pipeline config (sections task / network / rule / train /
    task.name = "evidence"        #   chip / onchip / analysis), shared by every point
    train.iterations = 400
    [grid]                        # dotted config key -> list of values; the points are the cartesian
    "rule.name" = ["bptt", "eprop_random"]     # product, in the order the keys are written
    "train.seed" = [0, 1, 2, 3, 4]

Several grids in one spec (``[[grid]]``, an array of tables) give the union of their points, in order;
a grid table may name its own ``kind`` (e.g. float points with kind 'train' and on-chip points with kind
'onchip' in one sweep, over different rule lists)::

    [[grid]]
    "rule.name" = ["bptt", "eprop_random"]
    "train.seed" = [0, 1]
    [[grid]]
    kind = "onchip"
    "rule.name" = ["eprop_random"]
    "train.seed" = [0, 1]

A point's id is ``<index>-<sha256 of its kind and canonical config>[:10]``: stable across runs of the same spec,
and different whenever anything a point depends on changes (so a resumed sweep never reuses a stale result).
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

KINDS = ("train", "onchip")
SECTIONS = ("task", "network", "rule", "train", "chip", "onchip", "analysis")
MAX_POINTS = 100_000


@dataclass(frozen=True)
class Point:
    """One grid point: its index, id, the grid values that define it ({dotted key: value}) and the full
    resolved config it runs (sections as in `SECTIONS`)."""

    index: int
    id: str
    values: dict
    config: dict
    kind: str = "train"


@dataclass(frozen=True)
class SweepSpec:
    name: str
    kind: str
    base: dict
    grid: dict           # dotted key -> list of values (insertion order kept); several grids: every key they use
    digest: str          # sha256 of the canonical spec
    grids: tuple = ()    # ((kind, {dotted key: values}), ...) when the spec has several grids ([[grid]])

    def parts(self) -> list[tuple[str, dict]]:
        """The grids to expand, each with its kind (one grid: the spec's kind and ``grid``)."""
        return [(k, dict(g)) for k, g in self.grids] if self.grids else [(self.kind, self.grid)]

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "base": self.base, "grid": self.grid, "digest": self.digest}
        if self.grids:
            d["grids"] = [{"kind": k, "grid": g} for k, g in self.grids]
        return d


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _check_value(key: str, v: Any) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        raise ConfigError(f"sweep: {key} = {v!r}: values must be finite")
    if isinstance(v, dict):
        raise ConfigError(f"sweep: {key} = {v!r}: a grid value must be a number, string, bool or list")


def _set(cfg: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    if len(parts) != 2 or parts[0] not in SECTIONS or not parts[1]:
        raise ConfigError(f"sweep: grid key {dotted!r} must be 'section.key' with section one of {', '.join(SECTIONS)}")
    cfg.setdefault(parts[0], {})[parts[1]] = value


def parse_spec(data: dict, where: str = "spec") -> SweepSpec:
    """A `SweepSpec` from the parsed TOML ``data``; raises `ConfigError` naming the bad entry."""
    unknown = set(data) - {"sweep", "base", "grid"}
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {sorted(unknown)}; known: sweep, base, grid")
    sw = dict(data.get("sweep", {}))
    bad = set(sw) - {"name", "kind"}
    if bad:
        raise ConfigError(f"{where}: [sweep] has unknown key(s) {sorted(bad)}; known: name, kind")
    name = sw.get("name", "sweep")
    if not isinstance(name, str) or not name or any(c in name for c in "/\\\0"):
        raise ConfigError(f"{where}: [sweep] name must be a non-empty string without slashes, got {name!r}")
    kind = sw.get("kind", "train")
    if kind not in KINDS:
        raise ConfigError(f"{where}: [sweep] kind = {kind!r}; known: {', '.join(KINDS)}")
    base = data.get("base", {})
    if not isinstance(base, dict):
        raise ConfigError(f"{where}: [base] must be a table of config sections")
    for sec, vals in base.items():
        if sec not in SECTIONS or not isinstance(vals, dict):
            raise ConfigError(f"{where}: [base.{sec}] is not a config section; known: {', '.join(SECTIONS)}")
    grid = data.get("grid", {})
    tables = grid if isinstance(grid, list) else [grid]
    if not tables or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: [grid] must be a table (or [[grid]] tables) mapping 'section.key' to lists")
    parts, n = [], 0
    for t in tables:
        t = dict(t)
        gk = t.pop("kind", kind) if isinstance(grid, list) else kind
        if gk not in KINDS:
            raise ConfigError(f"{where}: [[grid]] kind = {gk!r}; known: {', '.join(KINDS)}")
        if not t:
            raise ConfigError(f"{where}: [grid] must map at least one 'section.key' to a list of values")
        m = 1
        for k, vals in t.items():
            if not isinstance(vals, list) or not vals:
                raise ConfigError(f"{where}: grid {k!r} must be a non-empty list, got {vals!r}")
            for v in vals:
                _check_value(k, v)
            _set({}, k, None)                       # validates the key's form
            m *= len(vals)
        parts.append((gk, t))
        n += m
    if n > MAX_POINTS:
        raise ConfigError(f"{where}: the grid has {n} points; at most {MAX_POINTS} are allowed")
    if isinstance(grid, list):
        merged: dict = {}
        for _, t in parts:
            for k, vals in t.items():
                merged.setdefault(k, [])
                merged[k] += [v for v in vals if v not in merged[k]]
        body = {"name": name, "kind": kind, "base": base, "grids": [{"kind": k, "grid": t} for k, t in parts]}
        return SweepSpec(name=name, kind=kind, base=copy.deepcopy(base), grid=merged,
                         digest=hashlib.sha256(_canonical(body).encode()).hexdigest(),
                         grids=tuple((k, copy.deepcopy(t)) for k, t in parts))
    body = {"name": name, "kind": kind, "base": base, "grid": grid}
    return SweepSpec(name=name, kind=kind, base=copy.deepcopy(base), grid=copy.deepcopy(grid),
                     digest=hashlib.sha256(_canonical(body).encode()).hexdigest())


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a spec file (TOML)."""
    from ..config import read_toml
    return parse_spec(read_toml(path, "sweep spec"), where=str(Path(path)))


def expand(spec: SweepSpec) -> list[Point]:
    """The grid's points in order (the last grid key varies fastest; several grids one after another)."""
    pts = []
    for kind, grid in spec.parts():
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            cfg = copy.deepcopy(spec.base)
            values = dict(zip(keys, combo))
            for k, v in values.items():
                _set(cfg, k, v)
            i = len(pts)
            h = hashlib.sha256(_canonical({"kind": kind, "config": cfg}).encode()).hexdigest()[:10]
            pts.append(Point(index=i, id=f"{i:05d}-{h}", values=values, config=cfg, kind=kind))
    return pts
