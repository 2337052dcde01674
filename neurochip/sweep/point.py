"""What one sweep point runs: a pure function of its config, returning a JSON-able result (kind 'onchip', the
same protocol trained on chip: `neurochip.sweep.onchip_point`).

kind 'train' (float): train the task/network/rule/train sections with `neurochip.train.train_from_config`
(a finite training set when train.train_set_size is given, so the gap is real), then measure

* the generalization gap, test - train, of the task loss and error (Liu et al. 2022: 'error' is
  1 - accuracy for classification, nmse for regression) on the held-out 'test' draws vs the trained set;
* the curvature: the dominant eigenvalue of the surrogate Hessian of the task loss (exact surrogate
  gradient, `neurochip.analysis.curvature.dominant_eigenvalue`) w.r.t. W_rec (Liu's choice) and w.r.t.
  all weights, on a fixed batch of training trials, at the end and every ``curvature_every`` iterations
  during training (the drift).

[analysis] keys: curvature (bool, default true), curvature_every (iterations, 0 = only at the end),
curvature_trials (trials of the curvature batch, default 16), curvature_iters (power iterations, default 20),
curvature_all (bool, default true: also the all-weights eigenvalue at the end).
"""
from __future__ import annotations

import math
import time
from typing import Any

from ..errors import ConfigError

ANALYSIS_DEFAULTS = {"curvature": True, "curvature_every": 0, "curvature_trials": 16, "curvature_iters": 20,
                     "curvature_all": True}
TRAIN_SECTIONS = ("task", "network", "rule", "train")


def analysis_options(cfg: dict) -> dict:
    """The [analysis] section over its defaults; raises `ConfigError` on unknown keys or bad values."""
    a = dict(cfg.get("analysis", {}))
    bad = set(a) - set(ANALYSIS_DEFAULTS)
    if bad:
        raise ConfigError(f"[analysis] unknown key(s) {sorted(bad)}; known: {', '.join(ANALYSIS_DEFAULTS)}")
    out = {**ANALYSIS_DEFAULTS, **a}
    for k in ("curvature_every", "curvature_trials", "curvature_iters"):
        v = out[k]
        lo = 0 if k == "curvature_every" else 1
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ConfigError(f"[analysis] {k} must be an integer >= {lo}, got {v!r}")
    for k in ("curvature", "curvature_all"):
        if not isinstance(out[k], bool):
            raise ConfigError(f"[analysis] {k} must be true or false, got {out[k]!r}")
    return out


def check_point(kind: str, cfg: dict) -> None:
    """Validate a point's config without running it (called for every point before any work starts)."""
    if kind == "onchip":
        from .onchip_point import check_onchip_point
        check_onchip_point(cfg)
        return
    if kind != "train":
        raise ConfigError(f"sweep kind {kind!r} is not supported; known: train, onchip")
    from ..train import build
    extra = set(cfg) - set(TRAIN_SECTIONS) - {"analysis"}
    if extra:
        raise ConfigError(f"sweep kind 'train' uses sections {', '.join(TRAIN_SECTIONS)}, analysis; "
                          f"got {sorted(extra)}")
    analysis_options(cfg)
    build({k: cfg[k] for k in TRAIN_SECTIONS if k in cfg})


def _curvature_batch(task, tr: dict, n: int):
    from ..tasks.finite import finite_set
    seed = int(tr.get("seed", 0))
    if tr.get("train_set_size"):
        fs = finite_set(task, int(tr["train_set_size"]), seed)
        return fs.minibatch(0, min(n, fs.size)) if n <= fs.size else fs.trials
    return task.batch(n, "train", seed * 10**6)


def _eig(net, batch, names, iters) -> dict:
    from ..analysis.curvature import dominant_eigenvalue
    r = dominant_eigenvalue(net, batch, names, max_iter=iters, tol=1e-3)
    return {"value": float(r["value"]), "converged": bool(r["converged"]), "iterations": int(r["iterations"]),
            "max_flips": int(r.get("max_flips", 0))}


def run_point(kind: str, cfg: dict, progress: bool = False) -> dict[str, Any]:
    """Run one point (see the module docstring; kind 'onchip': `neurochip.sweep.onchip_point`); returns its
    JSON-able result."""
    if kind == "onchip":
        from .onchip_point import run_onchip_point
        return run_onchip_point(cfg, progress=progress)
    check_point(kind, cfg)
    from ..train import build, train_from_config
    a = analysis_options(cfg)
    tcfg = {k: cfg[k] for k in TRAIN_SECTIONS if k in cfg}
    tcfg.setdefault("train", {})
    tcfg["train"] = {**tcfg["train"], "progress": progress}
    task, _, _, tr, _ = build(tcfg)
    cbatch = _curvature_batch(task, tr, a["curvature_trials"]) if a["curvature"] else None
    drift: list[dict] = []

    def callback(it, net, m):
        if a["curvature"] and a["curvature_every"] and (it + 1) % a["curvature_every"] == 0:
            drift.append({"iteration": it + 1, "loss": float(m.get("loss", math.nan)),
                          **_eig(net, cbatch, ("w_rec",), a["curvature_iters"])})

    t0 = time.perf_counter()
    net, hist, metrics = train_from_config(tcfg, progress=progress, callback=callback)
    out: dict[str, Any] = {
        "kind": kind, "task": metrics["task"], "rule": metrics["rule"], "iterations": metrics["iterations"],
        "stopped_early": metrics["stopped_early"], "train_last": metrics["train_last"], "test": metrics["test"],
        "train_set": metrics.get("train_set"), "gap": metrics.get("gap"), "train_seconds": metrics["seconds"],
    }
    if a["curvature"]:
        out["curvature_w_rec"] = _eig(net, cbatch, ("w_rec",), a["curvature_iters"])
        if a["curvature_all"]:
            out["curvature_all"] = _eig(net, cbatch, ("w_in", "w_rec", "w_out"), a["curvature_iters"])
        out["curvature_drift"] = drift
        out["curvature_trials"] = int(cbatch.batch_size)
    out["seconds"] = time.perf_counter() - t0
    return out
