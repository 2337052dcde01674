"""Small task batches shared by the tests (imported as ``from batches import ...``, like ``stdp_nets``)."""
from __future__ import annotations

import numpy as np


def short_ce_batch(n_in, n_out, B=16, T=120, seed=0):
    """A cross-entropy Batch: Poisson-like inputs (p = 0.1 per step), one random class per trial, scored on the
    last 40 steps."""
    from neurochip.tasks.base import Batch

    rng = np.random.default_rng(seed)
    x = (rng.random((B, T, n_in)) < 0.1).astype(np.uint8)
    target = np.repeat(rng.integers(0, n_out, B)[:, None], T, axis=1)
    mask = np.zeros((B, T), bool)
    mask[:, -40:] = True
    return Batch(x=x, target=target, loss="ce", mask=mask)
