"""Rounding to integers: nearest (ties away from zero) and stochastic from a counter-based generator.

Stochastic rounding draws u ~ U[0, 1) from splitmix64(seed, stream, index), a pure function of its
counter, so a compile repeats exactly and any element can be recomputed alone; floor(x + u) is unbiased:
E[floor(x + u)] = x.
"""
from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(counter: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser of uint64 counters (Steele et al. 2014), elementwise, wrapping arithmetic."""
    with np.errstate(over="ignore"):
        z = counter.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def uniform(seed: int, stream: int, n: int, offset: int = 0) -> np.ndarray:
    """n uniforms in [0, 1) (53-bit) for counters offset..offset+n-1 of (seed, stream)."""
    base = splitmix64(np.array([(seed & 0xFFFFFFFF) << 32 | (stream & 0xFFFFFFFF)], np.uint64))[0]
    with np.errstate(over="ignore"):
        ctr = np.arange(offset, offset + n, dtype=np.uint64) + base
    return (splitmix64(ctr) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def round_nearest(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (symmetric for signed weights), as int64."""
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def round_stochastic(x: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """floor(x + u), u from the counter-based generator: unbiased, |error| < 1."""
    return np.floor(x + uniform(seed, stream, x.size).reshape(x.shape)).astype(np.int64)


def round_mode(x: np.ndarray, mode: str, seed: int = 0, stream: int = 0) -> np.ndarray:
    if mode == "nearest":
        return round_nearest(x)
    if mode == "stochastic":
        return round_stochastic(x, seed, stream)
    from ..errors import ConfigError
    raise ConfigError(f"rounding must be 'nearest' or 'stochastic', got {mode!r}")
