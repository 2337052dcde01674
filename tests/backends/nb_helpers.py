"""Helpers shared by the native-backend and kernel tests (wide what-if profiles, exact taus, a toy task)."""
from __future__ import annotations

import numpy as np
import pytest
import tomli

from neurochip.chips.profile import BUILTIN_DIR, profile_from_dict


def wide_profile(trace_bits: int = 24, weight_bits: int = 24):
    """The generic profile with wide traces and weights (the high-precision learning check)."""
    d = tomli.loads((BUILTIN_DIR / "generic.toml").read_text())
    d["format"]["trace_bits"] = trace_bits
    d["format"]["weight_bits"] = weight_bits
    d["name"] = f"generic-t{trace_bits}-w{weight_bits}"
    return profile_from_dict(d)


def exact_taus():
    """Time constants whose 12-bit decays are exact (1 - alpha = 200/4096, 1 - rho = 20/4096), so the
    fixed-point forward pass follows the float one spike for spike at high precision."""
    return {"tau_m": -1 / np.log(1 - 200 / 4096), "tau_out": -1 / np.log(1 - 200 / 4096),
            "tau_a": -1 / np.log(1 - 20 / 4096)}


def two_class_task(rng, B: int, T: int = 100, n_in: int = 20, rate: float = 0.05, window: int = 30):
    """Which of two input groups fires; the decision window is the last ``window`` steps (CE labels)."""
    lab = rng.integers(0, 2, B)
    x = np.zeros((B, T, n_in), np.uint8)
    g = n_in // 2
    for b in range(B):
        x[b, :, lab[b] * g:(lab[b] + 1) * g] = rng.random((T, g)) < rate
    mask = np.zeros((B, T), bool)
    mask[:, -window:] = True
    return x, {"target": np.repeat(lab[:, None], T, 1), "mask": mask, "loss": "ce"}


@pytest.fixture
def wide():
    return wide_profile()
