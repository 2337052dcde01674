"""Evidence (cue) accumulation (eprop_spec 1.6 / 4.2; S1 ``tools.py``): count left vs right cues,
hold the answer through a delay, report it during the recall cue.

40 inputs in 4 groups of 10: left cues, right cues, recall, noise. ``n_cues`` cues of ``cue_ms``
at ``cue_rate_hz`` on the left or right group, one every ``cue_ms + gap_ms`` starting at ``gap_ms``;
per trial one side gets probability ``p_major`` (which side is random). Then a delay, then the recall
group fires for the last ``recall_ms``; noise fires at ``noise_rate_hz`` throughout. Label: the side
with more cues (0 = left, 1 = right). Loss: cross-entropy in the recall window (the decision).
Reference: 7 cues, 100 ms + 50 ms gaps, 1050 ms delay, 150 ms recall -> T = 2250 ms.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Batch, batch_rng, check_batch_size, check_positive
from ..errors import InvalidNetworkError


@dataclass(frozen=True)
class EvidenceTask:
    n_cues: int = 7
    cue_ms: float = 100.0
    gap_ms: float = 50.0
    delay_ms: float = 1050.0
    recall_ms: float = 150.0
    group_size: int = 10
    cue_rate_hz: float = 40.0
    noise_rate_hz: float = 10.0
    p_major: float = 0.7
    dt: float = 1.0
    seed: int = 0
    name: str = "evidence"
    loss: str = "ce"
    n_out: int = 2

    def __post_init__(self) -> None:
        if self.n_cues < 1 or self.n_cues % 2 == 0:
            raise InvalidNetworkError(f"evidence task: n_cues must be odd and >= 1 (no ties), got {self.n_cues!r}")
        for k in ("cue_ms", "recall_ms", "dt", "cue_rate_hz"):
            check_positive(f"evidence task: {k}", getattr(self, k))
        for k in ("gap_ms", "delay_ms", "noise_rate_hz"):
            if getattr(self, k) < 0:
                raise InvalidNetworkError(f"evidence task: {k} must be >= 0, got {getattr(self, k)!r}")
        if self.group_size < 1:
            raise InvalidNetworkError(f"evidence task: group_size must be >= 1, got {self.group_size!r}")
        if not (0.5 < self.p_major <= 1.0):
            raise InvalidNetworkError(f"evidence task: p_major must be in (0.5, 1], got {self.p_major!r}")

    @property
    def n_in(self) -> int:
        return 4 * self.group_size

    def _steps(self, ms: float) -> int:
        return int(round(ms / self.dt))

    @property
    def n_steps(self) -> int:
        # gap, then n_cues x (cue + gap) less the last gap, then delay and recall (reference: 2250 ms)
        return self.n_cues * (self._steps(self.cue_ms) + self._steps(self.gap_ms)) + self._steps(self.delay_ms) \
            + self._steps(self.recall_ms)

    def batch(self, batch_size: int, split: str = "train", index: int = 0) -> Batch:
        check_batch_size(batch_size)
        rng = batch_rng(self.seed, split, index)
        g, T = self.group_size, self.n_steps
        cue, gap, rec = self._steps(self.cue_ms), self._steps(self.gap_ms), self._steps(self.recall_ms)
        p_cue = self.cue_rate_hz * self.dt * 1e-3
        right_major = rng.random(batch_size) < 0.5
        p_right = np.where(right_major, self.p_major, 1.0 - self.p_major)
        sides = (rng.random((batch_size, self.n_cues)) < p_right[:, None]).astype(np.int64)  # 1 = right
        labels = (sides.sum(1) * 2 > self.n_cues).astype(np.int64)
        x = np.zeros((batch_size, T, self.n_in), np.uint8)
        for k in range(self.n_cues):
            t0 = gap + k * (cue + gap)
            for b in range(batch_size):
                grp = sides[b, k]  # 0 = left group, 1 = right group
                x[b, t0:t0 + cue, grp * g:(grp + 1) * g] = rng.random((cue, g)) < p_cue
        x[:, T - rec:, 2 * g:3 * g] = rng.random((batch_size, rec, g)) < p_cue
        x[:, :, 3 * g:] = rng.random((batch_size, T, g)) < self.noise_rate_hz * self.dt * 1e-3
        mask = np.zeros((batch_size, T), bool)
        mask[:, T - rec:] = True
        target = np.repeat(labels[:, None], T, 1)
        return Batch(x=x, target=target, loss="ce", mask=mask,
                     meta={"task": self.name, "dt": self.dt, "split": split, "index": index,
                           "labels": labels, "cue_sides": sides})
