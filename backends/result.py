"""`RunResult` and `EventCounts` now live in the neutral module `neurochip.backend_contract` (cost,
validate and every backend import it from there); this module re-exports them for older imports."""
from __future__ import annotations

from ..backend_contract import EventCounts, RunResult

__all__ = ["EventCounts", "RunResult"]
