"""The `Batch` every task returns, and the seeded draw helpers tasks share.

Seeding: a task draws batch ``index`` of split ``'train'``, ``'val'`` (validation, for early
stopping) or ``'test'`` (held-out) from ``SeedSequence([seed, split_id, index])``, so the splits
never share a stream
and any batch can be regenerated on its own (no state carried between calls).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import InvalidNetworkError

SPLITS = {"train": 0, "test": 1, "val": 2}


@dataclass(frozen=True)
class Batch:
    """One batch of trials.

    x:      [B, T, n_in] uint8 input spikes (0/1 per step)
    target: 'mse': [B, T, n_out] float64 target traces; 'ce': [B, T] int64 class labels
            (only the entries under ``mask`` are read)
    loss:   'mse' (regression, E = 1/2 sum over masked steps and outputs, mean over trials)
            or 'ce' (softmax cross-entropy, mean over masked steps of the batch)
    mask:   [B, T] bool, the loss window; for 'ce' every contiguous run of True in a trial is one
            decision (prediction = argmax of the run's mean output)
    meta:   free information (task name, dt in ms, labels per decision, ...)
    """

    x: np.ndarray
    target: np.ndarray
    loss: Literal["mse", "ce"]
    mask: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    @property
    def n_steps(self) -> int:
        return self.x.shape[1]


def batch_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Generator for batch ``index`` of ``split`` ('train' | 'val' | 'test') of a task seeded with ``seed``."""
    if split not in SPLITS:
        raise InvalidNetworkError(f"split must be 'train', 'val' or 'test', got {split!r}")
    if index < 0:
        raise InvalidNetworkError(f"batch index must be >= 0, got {index}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS[split], int(index)]))


def poisson(rng: np.random.Generator, rate_hz: np.ndarray | float, shape: tuple[int, ...], dt_ms: float) -> np.ndarray:
    """Bernoulli approximation of Poisson spike trains: P(spike in a step) = rate * dt (clipped to 1)."""
    p = np.clip(np.asarray(rate_hz, dtype=np.float64) * dt_ms * 1e-3, 0.0, 1.0)
    return (rng.random(shape) < p).astype(np.uint8)


def check_positive(name: str, value: float, unit: str = "") -> None:
    if not np.isfinite(value) or value <= 0:
        raise InvalidNetworkError(f"{name} must be > 0{(' ' + unit) if unit else ''}, got {value!r}")


def check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidNetworkError(f"batch_size must be an integer >= 1, got {batch_size!r}")
