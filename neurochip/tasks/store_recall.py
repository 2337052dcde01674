"""Store-recall (e-prop preprint v1 / eprop_spec 4.3, simplified): remember the bit shown with a
STORE cue and report it when the RECALL cue comes, ignoring the distractor bits in between.

Inputs: 4 groups of ``group_size`` neurons for the symbols 0, 1, STORE, RECALL, each firing at
``rate_hz`` for one slot of ``slot_ms`` while its symbol is shown. A trial is ``n_slots`` slots; every
slot shows a random bit (0 or 1 group). One slot in the first half (drawn per trial) also shows
STORE, and a later slot (after a delay of at least ``min_delay_slots``) shows RECALL. Target: the
stored bit during the RECALL slot (cross-entropy there; one decision per trial).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Batch, batch_rng, check_batch_size, check_positive
from ..errors import InvalidNetworkError


@dataclass(frozen=True)
class StoreRecallTask:
    n_slots: int = 10
    slot_ms: float = 100.0
    min_delay_slots: int = 2
    group_size: int = 10
    rate_hz: float = 50.0
    dt: float = 1.0
    seed: int = 0
    name: str = "store_recall"
    loss: str = "ce"
    n_out: int = 2

    def __post_init__(self) -> None:
        check_positive("store_recall task: slot_ms", self.slot_ms, "ms")
        check_positive("store_recall task: dt", self.dt, "ms")
        check_positive("store_recall task: rate_hz", self.rate_hz, "Hz")
        if self.min_delay_slots < 1:
            raise InvalidNetworkError(f"store_recall task: min_delay_slots must be >= 1, got {self.min_delay_slots!r}")
        if self.n_slots < self.min_delay_slots + 1:
            raise InvalidNetworkError(f"store_recall task: n_slots={self.n_slots} must exceed min_delay_slots={self.min_delay_slots}")
        if self.group_size < 1:
            raise InvalidNetworkError(f"store_recall task: group_size must be >= 1, got {self.group_size!r}")

    @property
    def n_in(self) -> int:
        return 4 * self.group_size

    @property
    def slot_steps(self) -> int:
        return max(1, int(round(self.slot_ms / self.dt)))

    @property
    def n_steps(self) -> int:
        return self.n_slots * self.slot_steps

    def batch(self, batch_size: int, split: str = "train", index: int = 0) -> Batch:
        check_batch_size(batch_size)
        rng = batch_rng(self.seed, split, index)
        S, L, g = self.n_slots, self.slot_steps, self.group_size
        T = S * L
        bits = rng.integers(0, 2, (batch_size, S))
        last_store = S - 1 - self.min_delay_slots
        store = rng.integers(0, last_store + 1, batch_size)
        recall = np.array([rng.integers(s + self.min_delay_slots, S) for s in store])
        p = self.rate_hz * self.dt * 1e-3
        x = np.zeros((batch_size, T, self.n_in), np.uint8)
        mask = np.zeros((batch_size, T), bool)
        labels = bits[np.arange(batch_size), store]
        for b in range(batch_size):
            for s in range(S):
                sl = slice(s * L, (s + 1) * L)
                x[b, sl, bits[b, s] * g:(bits[b, s] + 1) * g] = rng.random((L, g)) < p
            x[b, store[b] * L:(store[b] + 1) * L, 2 * g:3 * g] = rng.random((L, g)) < p
            x[b, recall[b] * L:(recall[b] + 1) * L, 3 * g:] = rng.random((L, g)) < p
            mask[b, recall[b] * L:(recall[b] + 1) * L] = True
        target = np.repeat(labels[:, None], T, 1).astype(np.int64)
        return Batch(x=x, target=target, loss="ce", mask=mask,
                     meta={"task": self.name, "dt": self.dt, "split": split, "index": index, "labels": labels,
                           "store_slot": store, "recall_slot": recall})
