"""Reward task: two-class spike-pattern classification learnt from a scalar reward (R-STDP's task).

Each class c has a frozen rate template over ``n_in`` inputs: every input fires at ``rate_hi_hz`` or
``rate_lo_hz`` for that class, chosen independently per class with probability 1/2 from the task's
``template_seed`` (so the classes differ on about half the inputs and share the rest). A trial draws a
class uniformly, then fresh Bernoulli spikes from its template for ``n_steps`` steps: held-out trials are
new noise realisations of the two templates. The decision is the argmax of the network's mean output over
the last ``window_ms`` (the readout of two neuron groups); a rule that learns from reward gets 1 for a
right decision and 0 for a wrong one at the end of the trial. Chance level: 50 % accuracy.
Loss 'ce' on the decision window (so gradient rules such as e-prop train on the same trials).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Batch, batch_rng, check_batch_size, check_positive, poisson
from ..errors import InvalidNetworkError


@dataclass(frozen=True)
class RewardPatternTask:
    n_in: int = 40
    duration_ms: float = 100.0
    window_ms: float = 30.0
    rate_hi_hz: float = 50.0
    rate_lo_hz: float = 5.0
    template_seed: int = 0
    dt: float = 1.0
    seed: int = 0
    name: str = "reward_pattern"
    loss: str = "ce"
    n_out: int = 2

    CHANCE = 0.5          # two balanced classes

    def __post_init__(self) -> None:
        for k in ("duration_ms", "window_ms", "dt", "rate_hi_hz"):
            check_positive(f"reward_pattern task: {k}", getattr(self, k))
        if self.rate_lo_hz < 0 or self.rate_lo_hz >= self.rate_hi_hz:
            raise InvalidNetworkError(f"reward_pattern task: rate_lo_hz must be in [0, rate_hi_hz={self.rate_hi_hz}), "
                                      f"got {self.rate_lo_hz!r}")
        if not isinstance(self.n_in, (int, np.integer)) or self.n_in < 2:
            raise InvalidNetworkError(f"reward_pattern task: n_in must be an integer >= 2, got {self.n_in!r}")
        if self.window_ms > self.duration_ms:
            raise InvalidNetworkError(f"reward_pattern task: window_ms must be <= duration_ms={self.duration_ms}, "
                                      f"got {self.window_ms!r}")

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_ms / self.dt))

    def templates(self) -> np.ndarray:
        """Rates [2, n_in] in Hz of the two classes."""
        rng = np.random.default_rng(np.random.SeedSequence([int(self.template_seed), 16]))
        hi = rng.random((2, self.n_in)) < 0.5
        return np.where(hi, self.rate_hi_hz, self.rate_lo_hz)

    def batch(self, batch_size: int, split: str = "train", index: int = 0) -> Batch:
        check_batch_size(batch_size)
        rng = batch_rng(self.seed, split, index)
        T = self.n_steps
        labels = rng.integers(0, 2, batch_size)
        rates = self.templates()[labels][:, None, :]                  # [B, 1, n_in]
        x = poisson(rng, np.broadcast_to(rates, (batch_size, T, self.n_in)), (batch_size, T, self.n_in), self.dt)
        mask = np.zeros((batch_size, T), bool)
        mask[:, T - int(round(self.window_ms / self.dt)):] = True
        target = np.repeat(labels[:, None], T, 1).astype(np.int64)
        return Batch(x=x, target=target, loss="ce", mask=mask,
                     meta={"task": self.name, "dt": self.dt, "split": split, "index": index, "labels": labels,
                           "chance": self.CHANCE})
