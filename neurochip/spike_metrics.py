"""Spike-train agreement metrics (pure functions over [B, T, N] 0/1 arrays), used by `neurochip.validate`:
the coincidence factor (one-to-one matching within +-window steps) and the van Rossum distance."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ConfigError


def coincidence(z_chip: np.ndarray, z_ref: np.ndarray, window: int = 1) -> dict[str, Any]:
    """One-to-one matching of spikes within +-window steps per (trial, neuron).

    Returns {'overall': float, 'per_neuron': [N] float, 'matched', 'n_chip', 'n_ref'}; agreement =
    2 matched / (n_chip + n_ref), 1.0 where both trains are empty.
    """
    a = np.asarray(z_chip) != 0
    b = np.asarray(z_ref) != 0
    if a.shape != b.shape or a.ndim != 3:
        raise ConfigError(f"spike arrays must both be [B, T, N]; got {a.shape} and {b.shape}")
    B, T, N = a.shape
    matched = np.zeros(N, np.int64)
    exact = a == b
    for bi in range(B):
        # only (trial, neuron) pairs that differ somewhere need the greedy matching
        diff_cols = np.nonzero(~exact[bi].all(axis=0))[0]
        same_cols = np.setdiff1d(np.arange(N), diff_cols)
        matched[same_cols] += a[bi][:, same_cols].sum(axis=0)
        for j in diff_cols:
            ta = np.nonzero(a[bi, :, j])[0]
            tb = np.nonzero(b[bi, :, j])[0]
            i = k = m = 0
            while i < len(ta) and k < len(tb):    # two-pointer greedy on sorted times: optimal for 1-D
                d = ta[i] - tb[k]
                if abs(d) <= window:
                    m += 1; i += 1; k += 1
                elif d < 0:
                    i += 1
                else:
                    k += 1
            matched[j] += m
    na = a.sum(axis=(0, 1)).astype(np.int64)
    nb = b.sum(axis=(0, 1)).astype(np.int64)
    tot = na + nb
    per = np.where(tot > 0, 2.0 * matched / np.maximum(tot, 1), 1.0)
    overall = 2.0 * matched.sum() / tot.sum() if tot.sum() > 0 else 1.0
    return {"overall": float(overall), "per_neuron": per, "matched": int(matched.sum()),
            "n_chip": int(na.sum()), "n_ref": int(nb.sum())}


def van_rossum(z_chip: np.ndarray, z_ref: np.ndarray, tau_steps: float) -> dict[str, Any]:
    """van Rossum distance D = sqrt(sum_t (f_a - f_b)^2 / tau) per (trial, neuron), f = spikes filtered with
    exp(-t/tau) (unit jump per spike, discrete time). Returns {'mean': float, 'per_neuron': [N] (trial mean)}.
    One isolated extra spike gives D ~ sqrt(1/2) for tau >> 1."""
    from scipy.signal import lfilter

    d = (np.asarray(z_chip, np.float64) - np.asarray(z_ref, np.float64))
    k = math.exp(-1.0 / tau_steps)
    f = lfilter([1.0], [1.0, -k], d, axis=1)                 # linear: filter the difference once
    D = np.sqrt((f ** 2).sum(axis=1) / tau_steps)            # [B, N]
    return {"mean": float(D.mean()), "per_neuron": D.mean(axis=0)}
