"""One error hierarchy for the whole package.

Every error carries a message that names the constraint or field, the place (core, projection,
file) and the numbers (needed vs available). The CLI prints ``str(err)`` on one line and exits
with ``err.exit_code``.
"""
from __future__ import annotations

from dataclasses import dataclass


class NeurochipError(Exception):
    """Base of all neurochip errors."""

    exit_code = 1


class InvalidNetworkError(NeurochipError, ValueError):
    """A `Network`, neuron parameter, task or learning-rule setting is invalid."""

    exit_code = 2


class ConfigError(NeurochipError, ValueError):
    """A config file or command-line option is invalid (unknown key, wrong type, bad value)."""

    exit_code = 2


@dataclass(frozen=True)
class Violation:
    """One broken chip constraint: rule name, where, what was needed and what is available."""

    rule: str
    place: str
    needed: float | int | str
    available: float | int | str
    hint: str = ""

    def __str__(self) -> str:
        s = f"{self.rule} at {self.place}: needs {self.needed}, available {self.available}"
        return s + (f" ({self.hint})" if self.hint else "")


class ChipConstraintError(NeurochipError):
    """The network or rule does not fit the chip profile. Holds every violation found."""

    exit_code = 2

    def __init__(self, violations: list[Violation] | Violation | str, profile: str = ""):
        if isinstance(violations, Violation):
            violations = [violations]
        self.violations = [] if isinstance(violations, str) else list(violations)
        self.profile = profile
        if isinstance(violations, str):
            msg = violations
        else:
            head = f"does not fit chip '{profile}': " if profile else "does not fit the chip: "
            more = f" (+{len(self.violations) - 3} more)" if len(self.violations) > 3 else ""
            msg = head + "; ".join(str(v) for v in self.violations[:3]) + more
        super().__init__(msg)


class FixedPointOverflowError(NeurochipError, OverflowError):
    """A value does not fit its fixed-point format and the profile forbids saturation/wrap."""

    exit_code = 2


class ArtifactError(NeurochipError):
    """A saved artifact is missing, truncated, altered, of a foreign schema version, or holds pickles."""

    exit_code = 2


class BackendError(NeurochipError, RuntimeError):
    """A backend failed, is unavailable, or hung past its timeout."""

    exit_code = 3


class ValidationFailed(NeurochipError):
    """`validate` found a fidelity metric outside the user-set tolerance."""

    exit_code = 4
