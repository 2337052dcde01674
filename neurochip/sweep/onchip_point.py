"""Sweep kind 'onchip': kind 'train''s protocol (`neurochip.sweep.point`) with the training done on chip.

One point: the network of the task / network / rule sections, from its random initialisation, compiled
for ``[chip] name`` with the rule and trained on chip (`neurochip.onchip.train_onchip`, native backend,
fixed point) for ``train.iterations`` weight applications of ``train.batch_size`` trials, on the same draws
the float trainer uses: the finite set of ``train.train_set_size`` trials in its shuffled epochs
(`neurochip.tasks.finite`) when given, else fresh draws. ``[onchip]`` sets the chip's rule: ``lr`` (SGD
rate, default the rule's own), ``eligibility`` and ``rounding`` (default the compiled rule's). With
``train.stop_loss`` and a finite set the chip stops, like the float trainer, once its mean task loss over
the last epoch's trials is below it (Liu's matched training loss).

Measured like kind 'train', so float and chip points share one summary table:

* test: the chip's task loss and error on the held-out draws test/0 .. test/(train.eval_batches - 1) of
  ``batch_size`` trials (the float trainer's test set); train_set: the same on the finite set; gap = test -
  train_set. The loss is the task loss of the chip's dequantised readout (`learning.losses.task_loss`).
* curvature: the dominant eigenvalue of the float surrogate Hessian w.r.t. W_rec (and all weights) at the
  chip's learned weights, dequantised (mantissa x the quantiser's saved LSB), on the same curvature batch
  as kind 'train': the landscape the chip's weights sit in, measured on the exact float model.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import ConfigError

SECTIONS = ("task", "network", "rule", "train", "chip", "onchip", "analysis")
ONCHIP_KEYS = ("lr", "eligibility", "rounding")


class _FiniteTrain:
    """``task`` whose 'train' draw i is minibatch i of a finite set (its shuffled epochs)."""

    def __init__(self, task, fset):
        self.task, self.fset = task, fset

    def __getattr__(self, k):
        return getattr(self.task, k)

    def batch(self, n, split="train", index=0):
        return self.fset.minibatch(index, n) if split == "train" else self.task.batch(n, split, index)


def check_onchip_point(cfg: dict) -> None:
    """Validate an 'onchip' point's config before any work (sections, [onchip] keys, the build)."""
    from ..train import build
    from .point import TRAIN_SECTIONS, analysis_options
    extra = set(cfg) - set(SECTIONS)
    if extra:
        raise ConfigError(f"sweep kind 'onchip' uses sections {', '.join(SECTIONS)}; got {sorted(extra)}")
    if not isinstance((cfg.get("chip") or {}).get("name"), str):
        raise ConfigError("sweep kind 'onchip' needs chip.name (a shipped profile or a .toml path)")
    oc = cfg.get("onchip") or {}
    bad = set(oc) - set(ONCHIP_KEYS)
    if bad:
        raise ConfigError(f"sweep kind 'onchip': unknown [onchip] key(s) {sorted(bad)}; known: {', '.join(ONCHIP_KEYS)}")
    if oc.get("eligibility") not in (None, "per_synapse", "factorised"):
        raise ConfigError(f"[onchip] eligibility must be 'per_synapse' or 'factorised', got {oc.get('eligibility')!r}")
    if oc.get("rounding") not in (None, "nearest", "stochastic"):
        raise ConfigError(f"[onchip] rounding must be 'nearest' or 'stochastic', got {oc.get('rounding')!r}")
    lr = oc.get("lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < float(lr) < float("inf")):
        raise ConfigError(f"[onchip] lr must be a finite number > 0, got {lr!r}")
    analysis_options(cfg)
    from ..chips import load_profile
    load_profile(cfg["chip"]["name"])
    build({k: cfg[k] for k in TRAIN_SECTIONS if k in cfg})


def _chip_metrics(c, batches, native) -> dict[str, float]:
    """Mean over equal-sized ``batches`` of the chip's task loss and metrics (as `train.evaluate_batches`)."""
    from ..learning.losses import task_loss, task_metrics
    acc: dict[str, list[float]] = {}
    for b in batches:
        out = native.run(c, b.x).outputs
        m = {"loss": float(task_loss(out, b.target, b.mask, b.loss)[0])}
        m.update(task_metrics(out, b.target, b.mask, b.loss))
        for k, v in m.items():
            acc.setdefault(k, []).append(v)
    return {k: float(np.mean(v)) for k, v in acc.items()}


def dequantized_network(c):
    """The float `Network` at the chip's weights: the artifact's source network with each learned mantissa
    matrix times its saved LSB."""
    from ..backend_contract import float_network
    from ..validate import dequantize
    return float_network(c).with_weights(**{n: dequantize(c, n, getattr(c, n)) for n in ("w_in", "w_rec", "w_out")})


def run_onchip_point(cfg: dict, progress: bool = False) -> dict[str, Any]:
    """Run one 'onchip' point (see the module docstring); returns its JSON-able result (kind 'train''s keys)."""
    import warnings
    from dataclasses import replace

    from ..backends import get_backend
    from ..compiler import compile as compile_net
    from ..compiler.pipeline import CompileOptions
    from ..onchip import OnchipPlan, prepare_rule, train_onchip
    from ..tasks.base import Batch
    from ..train import build
    from .point import TRAIN_SECTIONS, _curvature_batch, _eig, analysis_options
    check_onchip_point(cfg)
    a = analysis_options(cfg)
    oc = cfg.get("onchip") or {}
    task, net, rule, tr, _ = build({k: cfg[k] for k in TRAIN_SECTIONS if k in cfg})
    seed, B, its = int(tr.get("seed", 0)), int(tr["batch_size"]), int(tr["iterations"])
    n_eval = int(tr.get("eval_batches", 4))
    native = get_backend("native")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # register-overflow notes of the compiler and the runs: counted in the artifact's report / run meta
        warnings.simplefilter("ignore")
        crule = replace(rule, eligibility=oc.get("eligibility") or rule.eligibility)
        cn = compile_net(net, cfg["chip"]["name"], crule, options=CompileOptions.make(seed=seed))
        cn = prepare_rule(cn, lr=float(oc["lr"]) if oc.get("lr") is not None else float(rule.lr),
                          eligibility=oc.get("eligibility"), rounding=oc.get("rounding"), batch_size=B)
        fset = None
        if tr.get("train_set_size"):
            from ..tasks.finite import finite_set
            fset = finite_set(task, int(tr["train_set_size"]), seed)
            ttask, first = _FiniteTrain(task, fset), 0
        else:
            ttask, first = task, seed * 10**6
        tests = [task.batch(B, "test", k) for k in range(n_eval)]
        test = Batch(x=np.concatenate([b.x for b in tests]), target=np.concatenate([b.target for b in tests]),
                     loss=tests[0].loss, mask=np.concatenate([b.mask for b in tests]), meta=tests[0].meta)
        # Liu's matched training loss (train.stop_loss): stop once the chip's mean task loss over the last epoch
        # of the finite set (the trials of one chunk of ceil(M / B) updates) is below it, as the float trainer
        stop = tr.get("stop_loss")
        K = max(1, -(-fset.size // B)) if (stop is not None and fset is not None) else its
        res = train_onchip(cn, ttask, OnchipPlan(iterations=its, batch_size=B, eval_every=K,
                                                  eval_trials=test.x.shape[0], seed=seed, first_index=first,
                                                  curve_trials=min(16, test.x.shape[0])),
                           test=test, progress=progress,
                           callback=(lambda pt: pt.get("train_loss", float("inf")) < float(stop)) if K < its else None)
        c = res.compiled
        train_seconds = time.perf_counter() - t0
        te = _chip_metrics(c, tests, native)
        ts = _chip_metrics(c, fset.chunks(B), native) if fset is not None else None
    out: dict[str, Any] = {
        "kind": "onchip", "task": task.name, "rule": rule.name, "chip": c.profile_name,
        "iterations": int(res.curve["points"][-1]["iteration"]), "stopped_early": bool(res.curve["stopped_early"]), "lr": res.curve["lr"], "eligibility": res.curve["eligibility"],
        "rounding": res.curve["rounding"], "test": te, "train_set": ts,
        "gap": {k: te[k] - ts[k] for k in ("loss", "error", "nmse") if ts and k in ts and k in te} or None,
        "train_seconds": train_seconds, "weight_updates": res.curve["events"]["weight_updates"],
        "train_last": {k: v for k, v in (("loss", res.curve["points"][-1].get("train_loss")),) if v is not None},
        "heldout_before": res.curve["before"], "heldout_after": res.curve["after"],
    }
    if a["curvature"]:
        dn = dequantized_network(c)
        cbatch = _curvature_batch(task, tr, a["curvature_trials"])
        out["curvature_w_rec"] = _eig(dn, cbatch, ("w_rec",), a["curvature_iters"])
        if a["curvature_all"]:
            out["curvature_all"] = _eig(dn, cbatch, ("w_in", "w_rec", "w_out"), a["curvature_iters"])
        out["curvature_drift"] = []             # not tracked on chip (the learned weights live in the kernel)
        out["curvature_trials"] = int(cbatch.batch_size)
    out["seconds"] = time.perf_counter() - t0
    return out
