"""Task losses, their gradients with respect to the network output, and task metrics.

Output o^t = y^t + b_out [B, T, K] (see `neurochip.network`). Conventions (eprop_spec 1.4):
- 'mse': E = (1/B) sum_b 1/2 sum_{t in mask, k} (o - y*)^2   (summed over time, averaged over trials)
- 'ce':  E = (1/M) sum_{(b,t) in mask} CE(softmax(o^t), label^t),  M = number of masked steps
Firing-rate regulariser (eprop_spec 2.6, unhalved as in the evidence-accumulation code):
  f_j = sum_{b,t} z_j^{b,t} / (B T dt)  (kHz);  E_reg = c_reg sum_j (f_j - f0)^2
  dE_reg/dz_j^{b,t} = 2 c_reg (f_j - f0) / (B T dt): a per-neuron constant, paired with the
  UNFILTERED eligibility trace (pitfall P6) because it is a direct dependence on z, not through y.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidNetworkError


@dataclass(frozen=True)
class LossResult:
    """loss (task part), reg_loss, err = dE_task/do [B, T, K], reg_signal = dE_reg/dz [n_rec]."""

    loss: float
    reg_loss: float
    err: np.ndarray
    reg_signal: np.ndarray


def softmax(o: np.ndarray) -> np.ndarray:
    e = np.exp(o - o.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def task_loss(out: np.ndarray, target: np.ndarray, mask: np.ndarray, kind: str) -> tuple[float, np.ndarray]:
    """Return (E, dE/do [B, T, K]) for outputs ``out`` [B, T, K]."""
    B, T, K = out.shape
    if mask.shape != (B, T):
        raise InvalidNetworkError(f"loss mask has shape {mask.shape}, expected {(B, T)}")
    m = mask.astype(np.float64)[..., None]
    if kind == "mse":
        if target.shape != out.shape:
            raise InvalidNetworkError(f"mse target has shape {target.shape}, expected {out.shape} (n_out={K})")
        d = (out - target) * m
        return 0.5 * float((d * d).sum()) / B, d / B
    if kind == "ce":
        if target.shape != (B, T):
            raise InvalidNetworkError(f"ce target has shape {target.shape}, expected {(B, T)} (labels)")
        lab = np.where(mask, target, 0)
        if mask.any() and (lab[mask].min() < 0 or lab[mask].max() >= K):
            raise InvalidNetworkError(f"ce labels must be in [0, n_out={K}), got range [{lab[mask].min()}, {lab[mask].max()}]")
        M = max(int(mask.sum()), 1)
        p = softmax(out)
        onehot = np.zeros_like(out)
        np.put_along_axis(onehot, lab[..., None], 1.0, axis=-1)
        logp = np.log(np.maximum(np.take_along_axis(p, lab[..., None], -1)[..., 0], 1e-300))
        return float(-(logp * mask).sum()) / M, (p - onehot) * m / M
    raise InvalidNetworkError(f"loss kind must be 'mse' or 'ce', got {kind!r}")


def rate_regulariser(z: np.ndarray, dt: float, c_reg: float, target_hz: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Return (E_reg, dE_reg/dz per neuron [n_rec], rates [n_rec] in Hz) for spikes z [B, T, n_rec]."""
    B, T, _ = z.shape
    f = z.sum((0, 1), dtype=np.float64) / (B * T * dt)  # kHz
    d = f - target_hz * 1e-3
    return float(c_reg * (d * d).sum()), 2.0 * c_reg * d / (B * T * dt), f * 1e3


def decisions(out: np.ndarray, target: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, true) labels, one per contiguous masked run of each trial ('ce' tasks)."""
    pred, true = [], []
    for b in range(out.shape[0]):
        m = np.concatenate([[False], mask[b], [False]]).astype(np.int8)
        starts = np.flatnonzero(np.diff(m) == 1)
        ends = np.flatnonzero(np.diff(m) == -1)
        for s, e in zip(starts, ends):
            pred.append(int(np.argmax(out[b, s:e].mean(0))))
            true.append(int(target[b, s]))
    return np.array(pred, np.int64), np.array(true, np.int64)


def accuracy(out: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of correct decisions (argmax of the mean output over each masked run)."""
    p, t = decisions(out, target, mask)
    return float((p == t).mean()) if len(p) else float("nan")


def nmse(out: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Normalised MSE over masked steps: mean((o - y*)^2) / var(y*) (per output, then averaged)."""
    m = mask[..., None] & np.ones(out.shape, bool)
    num = np.array([((out[..., k] - target[..., k])[m[..., k]] ** 2).mean() for k in range(out.shape[-1])])
    den = np.array([target[..., k][m[..., k]].var() for k in range(out.shape[-1])])
    return float((num / np.maximum(den, 1e-12)).mean())


def task_metrics(out: np.ndarray, target: np.ndarray, mask: np.ndarray, kind: str) -> dict[str, float]:
    """'ce': accuracy and error; 'mse': nmse."""
    if kind == "ce":
        acc = accuracy(out, target, mask)
        return {"accuracy": acc, "error": 1.0 - acc}
    return {"nmse": nmse(out, target, mask)}
