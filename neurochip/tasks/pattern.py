"""Pattern generation (e-prop paper, eprop_spec 4.1): regress target traces from frozen Poisson input.

Input: ``n_in`` Poisson trains at ``rate_hz`` drawn once from the task seed and frozen (identical in
every batch and in both splits: the task *is* that one input/target pair, so the held-out draw is
the same sequence). Targets: per output the sum of sines with periods 1000, 500, 333, 200 ms,
amplitudes U(0.5, 2) and phases U(0, 2 pi), shifted so target[0] = 0 and scaled so max|target| = 1.
Loss: MSE over all steps. Metric: normalised MSE = mean((o - y*)^2) / var(y*).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Batch, batch_rng, check_batch_size, check_positive
from ..errors import InvalidNetworkError


@dataclass(frozen=True)
class PatternTask:
    """n_in inputs, n_out target traces of ``n_steps`` steps of ``dt`` ms."""

    n_in: int = 100
    n_out: int = 3
    n_steps: int = 1000
    dt: float = 1.0
    rate_hz: float = 50.0
    periods_ms: tuple[float, ...] = (1000.0, 500.0, 333.0, 200.0)
    seed: int = 0
    name: str = "pattern"
    loss: str = "mse"

    def __post_init__(self) -> None:
        for k in ("n_in", "n_out", "n_steps"):
            if int(getattr(self, k)) < 1:
                raise InvalidNetworkError(f"pattern task: {k} must be >= 1, got {getattr(self, k)!r}")
        check_positive("pattern task: dt", self.dt, "ms")
        check_positive("pattern task: rate_hz", self.rate_hz, "Hz")

    def _frozen(self) -> tuple[np.ndarray, np.ndarray]:
        # Drawn from the task seed alone (not the split or index): the frozen sequence.
        rng = np.random.default_rng(np.random.SeedSequence([int(self.seed), 7]))
        x = (rng.random((self.n_steps, self.n_in)) < self.rate_hz * self.dt * 1e-3).astype(np.uint8)
        t = np.arange(self.n_steps) * self.dt
        y = np.zeros((self.n_steps, self.n_out))
        for k in range(self.n_out):
            amp = rng.uniform(0.5, 2.0, len(self.periods_ms))
            ph = rng.uniform(0.0, 2 * np.pi, len(self.periods_ms))
            y[:, k] = sum(a * np.sin(2 * np.pi * t / P + p) for a, p, P in zip(amp, ph, self.periods_ms))
            y[:, k] -= y[0, k]
            y[:, k] /= max(np.abs(y[:, k]).max(), 1e-12)
        return x, y

    def batch(self, batch_size: int, split: str = "train", index: int = 0) -> Batch:
        check_batch_size(batch_size)
        batch_rng(self.seed, split, index)  # validates split/index
        x, y = self._frozen()
        return Batch(x=np.repeat(x[None], batch_size, 0), target=np.repeat(y[None], batch_size, 0), loss="mse",
                     mask=np.ones((batch_size, self.n_steps), bool),
                     meta={"task": self.name, "dt": self.dt, "split": split, "index": index})
