"""Integer primitives of docs/fixed_point.md, shared by the inference and learning kernels.

All arguments and results are int64 scalars (Numba ``inline='always'`` so they cost nothing in the
hot loops). ``D`` is ``decay_bits`` (12 on every shipped profile: decays are D-bit fractions of 2^D).
"""
from __future__ import annotations

from numba import njit, int64, uint64


@njit(cache=True, inline="always")
def trunc_decay(x, d, D):
    """trunc0(x * (2^D - d) >> D): leak by a D-bit decay, rounding toward zero (lava's u/v decays)."""
    p = x * ((1 << D) - d)
    # one select, no negations: for p < 0, -((-p) >> D) == (p + 2^D - 1) >> D (ceil of p / 2^D)
    return (p + (((1 << D) - 1) if p < 0 else 0)) >> D


@njit(cache=True, inline="always")
def floor_shift(x, e):
    """x << e for e >= 0, arithmetic (floor) x >> -e otherwise: a shared weight exponent on a sum."""
    if e >= 0:
        return x << e
    return x >> (-e)


@njit(cache=True, inline="always")
def round_shift(x, k):
    """Round-to-nearest (ties away from zero) of x / 2^k for k >= 0; x << -k for k < 0."""
    if k <= 0:
        return x << (-k)
    h = 1 << (k - 1)
    if x >= 0:
        return (x + h) >> k
    return -((-x + h) >> k)


@njit(cache=True, inline="always")
def splitmix64(z):
    """splitmix64 finaliser (Steele et al. 2014) of a uint64 counter; wrapping arithmetic."""
    z = z + 0x9E3779B97F4A7C15
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    return z ^ (z >> 31)


@njit(cache=True, inline="always")
def stoch_shift(x, k, key):
    """floor((x + u) / 2^k) with u uniform in [0, 2^k) from the counter-based hash ``key`` (uint64):
    unbiased, E = x / 2^k; the same key always gives the same result (runs repeat exactly)."""
    if k <= 0:
        return x << (-k)
    u = int64(splitmix64(uint64(key)) >> uint64(64 - k))   # top k bits of the hash (k <= 62)
    return (x + u) >> k
