"""A finite training set: M fixed trials of a task's 'train' split, revisited in shuffled epochs.

Liu et al. (NeurIPS 2022) measure the generalization gap of a rule as the difference between its
error on the trials it was trained on and on held-out trials. With a fresh draw at every iteration (the
default of `neurochip.train.train`) a network never sees a trial twice and the expected gap is ~0 by
construction; with a finite set of M trials revisited for epochs it can over-fit, and the gap is real.

Draws (all seeded, no state carried between calls):
    the set       ``task.batch(M, 'train', set_index)`` - one draw of M trials (``set_index`` defaults to
                  the training seed's first 'train' index, seed * 10**6, so a seed picks its own set);
    the order     epoch e is a permutation of range(M) from ``SeedSequence([seed, 7, e])``; minibatch k
                  of the run is the k-th slice of ``batch_size`` trials of the concatenated epochs, so a
                  minibatch may straddle two epochs and every trial is seen once per epoch;
    held-out      the task's 'test' split, which never shares a random stream with 'train'
                  (`neurochip.tasks.base.batch_rng`): disjoint from the set by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InvalidNetworkError
from .base import Batch

ORDER_STREAM = 7     # SeedSequence stream id of the epoch permutations (distinct from the split ids 0-2)


def take(batch: Batch, idx: np.ndarray) -> Batch:
    """The trials ``idx`` [k] (int) of ``batch`` as a new `Batch` (arrays copied; meta shared)."""
    idx = np.asarray(idx, np.int64)
    return replace(batch, x=batch.x[idx], target=batch.target[idx], mask=batch.mask[idx])


@dataclass(frozen=True)
class FiniteSet:
    """``size`` trials of ``task`` (the draw ``task.batch(size, 'train', set_index)``) with the seed of
    their epoch order. Use `minibatch(k, batch_size)` for the k-th (0-based) training minibatch."""

    trials: Batch
    seed: int

    @property
    def size(self) -> int:
        return self.trials.batch_size

    def order(self, epoch: int) -> np.ndarray:
        """Permutation [size] of the trials for ``epoch`` (>= 0)."""
        rng = np.random.default_rng(np.random.SeedSequence([int(self.seed), ORDER_STREAM, int(epoch)]))
        return rng.permutation(self.size)

    def indices(self, k: int, batch_size: int) -> np.ndarray:
        """Trial indices [batch_size] of minibatch ``k``: positions k*B .. (k+1)*B - 1 of the concatenated
        epoch permutations."""
        start = int(k) * int(batch_size)
        pos = np.arange(start, start + int(batch_size))
        ep = pos // self.size
        out = np.empty(pos.size, np.int64)
        for e in np.unique(ep):
            sel = ep == e
            out[sel] = self.order(int(e))[pos[sel] % self.size]
        return out

    def minibatch(self, k: int, batch_size: int) -> Batch:
        return take(self.trials, self.indices(k, batch_size))

    def chunks(self, batch_size: int):
        """The whole set in order, as batches of at most ``batch_size`` trials (for evaluation)."""
        for a in range(0, self.size, int(batch_size)):
            yield take(self.trials, np.arange(a, min(self.size, a + int(batch_size))))


def finite_set(task, size: int, seed: int, set_index: int | None = None) -> FiniteSet:
    """The finite training set of ``size`` trials for training seed ``seed`` (see the module docstring)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise InvalidNetworkError(f"train_set_size must be an integer >= 1 (trials), got {size!r}")
    idx = int(seed) * 10**6 if set_index is None else int(set_index)
    return FiniteSet(trials=task.batch(int(size), "train", idx), seed=int(seed))
