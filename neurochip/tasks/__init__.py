"""Generated benchmark tasks (no downloads), seeded, with separate train and held-out test draws.

Each task is a frozen dataclass with ``n_in``, ``n_out``, ``n_steps``, ``dt`` (ms), ``loss`` and
``batch(batch_size, split='train'|'val'|'test', index=0) -> Batch``. ``get_task(name, **kw)`` builds one.
"""
from __future__ import annotations

from .base import Batch, batch_rng, poisson  # noqa: F401
from .evidence import EvidenceTask
from .pattern import PatternTask
from .reward import RewardPatternTask
from .store_recall import StoreRecallTask
from ..errors import InvalidNetworkError

TASKS = {"pattern": PatternTask, "evidence": EvidenceTask, "store_recall": StoreRecallTask,
         "reward_pattern": RewardPatternTask}


def get_task(name: str, **kw):
    """Task ``name`` ('pattern' | 'evidence' | 'store_recall') with its options (see each class)."""
    if name not in TASKS:
        raise InvalidNetworkError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    cls = TASKS[name]
    from dataclasses import fields
    known = {f.name for f in fields(cls)} - {"name", "loss"}
    unknown = set(kw) - known
    if unknown:
        raise InvalidNetworkError(f"task {name!r}: unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
    return cls(**kw)


__all__ = ["Batch", "get_task", "TASKS", "PatternTask", "EvidenceTask", "StoreRecallTask", "RewardPatternTask", "batch_rng", "poisson"]
