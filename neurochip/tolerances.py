"""The validation gate: tolerance names and kinds, the defaults every validation applies (each justified
below and in docs/backends.md), parsing ``--tolerance``, and checking measured metrics against them.

`neurochip.validate` measures; this module decides pass / fail (and re-exports through `neurochip.validate`).
"""
from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError, ValidationFailed

# metric -> 'min' (must be >= tolerance) or 'max' (must be <= tolerance). The update_* tolerances apply
# to every trained matrix separately (a matrix that received no update fails them).
TOLERANCE_KINDS = {
    "spike_agreement": "min", "van_rossum": "max", "readout_rms": "max", "readout_nrmse": "max",
    "accuracy_drop": "max", "loss_delta": "max", "weight_drift": "max",
    "cosine_eprop": "min", "cosine_bptt": "min", "learned_weight_drift": "max",
    "update_cosine": "min", "update_norm_ratio_min": "min", "update_norm_ratio_max": "max",
}
PER_MATRIX = {"update_cosine": "cosine", "update_norm_ratio_min": "norm_ratio", "update_norm_ratio_max": "norm_ratio"}

# Defaults every validation applies (docs/backends.md "Validation tolerances" justifies each value); a
# --tolerance entry overrides one, ``name=off`` switches it off.
#  accuracy_drop 0.05: the chip may lose at most 5 accuracy points against the float network on the same
#    trials (paired; 2.3 binomial standard errors at p = 0.85 over 256 trials, so a larger drop is not noise).
#  update_cosine 0.5: per matrix, the on-chip update accumulated over the run vs float SGD with the same
#    rates on the same mini-batches; unbiased low-bit updates give 0.6-0.9 per step and > 0.9 accumulated
#    (reference onchip_learning.md 4.2-4.3); a biased, sign-flipped or frozen update falls below 0.5.
#  update_norm_ratio in [0.6, 1.7]: ||chip|| / ||float||; stochastic rounding of 0.05-LSB updates inflates
#    the norm to 1.6 (reference 4.3), while a gain off by one shift (x0.5 or x2) falls outside.
DEFAULT_TOLERANCES = {"accuracy_drop": 0.05}
DEFAULT_LEARNING_TOLERANCES = {"update_cosine": 0.5, "update_norm_ratio_min": 0.6, "update_norm_ratio_max": 1.7}
OFF = float("nan")     # a tolerance set to 'off'


def parse_tolerances(spec: str | None) -> dict[str, float]:
    """'spike_agreement=0.95,readout_rms=0.1,update_cosine=off' -> dict ('off' = `OFF`, switches a default
    off); unknown names or bad numbers raise ConfigError."""
    out: dict[str, float] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"--tolerance entry {part!r} must be name=value; names: {', '.join(TOLERANCE_KINDS)}")
        k, v = (s.strip() for s in part.split("=", 1))
        if k not in TOLERANCE_KINDS:
            raise ConfigError(f"unknown tolerance {k!r}; known: {', '.join(TOLERANCE_KINDS)}")
        if v.lower() == "off":
            out[k] = OFF
            continue
        try:
            out[k] = float(v)
        except ValueError:
            raise ConfigError(f"tolerance {k}={v!r} is not a number (or 'off')") from None
        if not math.isfinite(out[k]):
            raise ConfigError(f"tolerance {k}={v!r} must be finite (or 'off')")
    return out


def effective_tolerances(user: dict[str, float] | None, *, learn: bool, task_metrics: dict | None = None
                         ) -> dict[str, float]:
    """The defaults that apply to this run, overridden by ``user`` (entries set to `OFF` removed).

    accuracy_drop applies when the held-out task reports an accuracy; the update_* defaults on learning runs."""
    tol: dict[str, float] = {}
    if task_metrics is not None and "accuracy" in task_metrics:
        tol.update(DEFAULT_TOLERANCES)
    if learn:
        tol.update(DEFAULT_LEARNING_TOLERANCES)
    tol.update(user or {})
    return {k: v for k, v in tol.items() if not (isinstance(v, float) and math.isnan(v))}


def _bad(val, kind: str, lim: float) -> bool:
    """True when ``val`` is outside the tolerance; NaN (undefined, e.g. a zero update) is always outside."""
    if val is None or (isinstance(val, float) and math.isnan(val)):
        return True
    return val < lim if kind == "min" else val > lim


def check_tolerances(metrics: dict[str, Any], tol: dict[str, float]) -> list[str]:
    """One line for every metric outside its tolerance (a metric that was not measured, or is NaN,
    fails too). The update_* tolerances are checked on each trained matrix
    (``metrics['learning_per_projection']``); a matrix that received no update is named as such."""
    bad = []
    per = metrics.get("learning_per_projection") or {}
    for k, lim in tol.items():
        kind = TOLERANCE_KINDS[k]
        sym = "<" if kind == "min" else ">"
        if k in PER_MATRIX:
            if not per:
                bad.append(f"{k} was not measured (needs --learn and --task)")
                continue
            for n, d in per.items():
                val = d.get(PER_MATRIX[k])
                if not d.get("chip_norm"):
                    if k == "update_cosine":      # one line per matrix, not one per tolerance
                        bad.append(f"{n} received no on-chip update (float {d.get('float_rule', 'rule')} "
                                   f"update norm {d.get('float_norm', float('nan')):.3g})")
                elif not d.get("float_norm"):
                    if k == "update_cosine":
                        bad.append(f"{n}: the float rule gives no update, so the chip update ({d['chip_norm']:.3g}) "
                                   "cannot be compared")
                elif _bad(val, kind, lim):
                    bad.append(f"{n}: {PER_MATRIX[k].replace('_', ' ')} vs float {d.get('float_rule', 'rule')} "
                               f"= {val:.3g} {sym} {lim:.3g}")
            continue
        val = metrics.get(k)
        if val is None:
            bad.append(f"{k} was not measured (needs {'--learn' if k.startswith(('cosine', 'learned')) else '--task'})")
        elif _bad(val, kind, lim):
            bad.append(f"{k} = {val:.4g} {sym} {lim:.4g}")
    return bad


def learning_outcome_failures(before: dict, after: dict, max_drop: float = DEFAULT_TOLERANCES["accuracy_drop"]
                              ) -> list[str]:
    """One line if on-chip learning lowered held-out accuracy by more than ``max_drop`` (task metrics of
    the chip before and after learning on the same held-out trials); [] otherwise or without accuracy."""
    a0, a1 = before.get("accuracy"), after.get("accuracy")
    if a0 is None or a1 is None:
        return []
    if not (math.isfinite(a0) and math.isfinite(a1)):
        return [f"on-chip learning: held-out accuracy undefined (before {a0}, after {a1})"]
    if a0 - a1 > max_drop:
        return [f"on-chip learning lowered held-out accuracy {a0:.3f} -> {a1:.3f} (drop {a0 - a1:.3f} > {max_drop:.3g})"]
    return []


def raise_if_failed(report: dict[str, Any]) -> None:
    if report["failures"]:
        raise ValidationFailed("validation failed: " + "; ".join(report["failures"]))
