"""Integer primitives of docs/fixed_point.md, shared by the inference and learning kernels.

All arguments and results are int64 scalars (Numba ``inline='always'`` so they cost nothing in the
hot loops). ``D`` is ``decay_bits`` (12 on every shipped profile: decays are D-bit fractions of 2^D).
"""
from __future__ import annotations

from numba import njit, int64, uint64


@njit(cache=True, inline="always")
def trunc_decay(x, d, D):
    """trunc0(x * (2^D - d) >> D): leak by a D-bit decay, rounding toward zero (lava's u/v decays)."""
    return trunc_decay_by(x, (1 << D) - d, D)


@njit(cache=True, inline="always")
def trunc_decay_by(x, f, D):
    """`trunc_decay` with its factor f = 2^D - d given: trunc0(x * f >> D). A loop that narrows f to int32 once
    (``kernels.fixed_neurons._lif_loop``) gets a 32 x 32 -> 64 multiply for int32 x."""
    p = x * f
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


# --------------------------------------------------------------------------------------------------
# Registers at their limits (docs/fixed_point.md "Registers"): one definition, used by every kernel.
# --------------------------------------------------------------------------------------------------
# Overflow semantics of a profile (``format.overflow``), passed to the kernels as an int:
OVF_LAVA = 0        # lava-nc's PyLifModelBitAcc / PyDenseModelBitAcc: int32 sums wrap, u wraps once, v saturates
OVF_SATURATE = 1    # every neuron register saturates (symmetric) at its width; sums are exact (int64)
OVF_WRAP = 2        # every neuron register wraps (two's complement) at its width; sums are exact (int64)
OVERFLOW_MODES = {"lava": OVF_LAVA, "saturate": OVF_SATURATE, "wrap": OVF_WRAP}
LAVA_SUM_BITS = 32  # lava keeps u, v, a_in and every neuron-side sum in int32 numpy arrays


@njit(cache=True, inline="always")
def wrap_to(x, bits):
    """Two's-complement wrap of int64 ``x`` to ``bits`` bits (result in [-2^(bits-1), 2^(bits-1) - 1]):
    ((x + 2^(b-1)) & (2^b - 1)) - 2^(b-1), the value a b-bit register keeps."""
    h = int64(1) << (bits - 1)
    return ((x + h) & (2 * h - 1)) - h


@njit(cache=True)
def _current_limit(x, mode, half_c):
    """`reg_current` outside [-(half_c - 1), half_c - 1] (not inlined: rare, and it keeps the hot loops
    small)."""
    if mode == OVF_LAVA:
        if x == half_c:                                           # lava keeps +2^(cb-1) itself
            return x, 0
        w = wrap_to(x, LAVA_SUM_BITS)                             # int32 sum (lava's numpy int32 arrays)
        if w > half_c:                                            # lava's single wrap of u
            w -= 2 * half_c
        elif w <= -half_c:
            w += 2 * half_c
        return w, 1
    if mode == OVF_SATURATE:
        m = half_c - 1
        return (m if x > m else -m), 1
    w = ((x + half_c) & (2 * half_c - 1)) - half_c                # two's complement at cb bits
    return w, (1 if w != x else 0)                                # -2^(cb-1) is representable


@njit(cache=True, inline="always")
def reg_current(x, mode, half_c):
    """Store the exact int64 value ``x`` in a current register of half range ``half_c`` = 2^(cb-1).
    Returns (stored, event): event = 1 when the stored value differs from x (a wrap or saturation).

    lava: x is an int32 sum in lava (wrap to 32 bits), then lava's single asymmetric wrap of u
    (x > 2^(cb-1) -> x - 2^cb, x <= -2^(cb-1) -> x + 2^cb: the result can stay outside cb bits);
    saturate: clip to +-(2^(cb-1) - 1); wrap: two's complement at cb bits.
    The in-range test (one unsigned compare) is the only work when nothing overflows."""
    if uint64(x + (half_c - 1)) <= uint64(2 * half_c - 2):       # [-(half_c - 1), half_c - 1]: every mode
        return x, 0
    return _current_limit(x, mode, half_c)


@njit(cache=True)
def _membrane_limit(x, mode, vmax):
    """`reg_membrane` outside [-vmax, vmax] (not inlined: rare)."""
    if mode == OVF_LAVA:
        w = wrap_to(x, LAVA_SUM_BITS)                             # int32 sum, then lava's clip of v
        return (vmax if w > vmax else (-vmax if w < -vmax else w)), 1
    if mode == OVF_SATURATE:
        return (vmax if x > vmax else -vmax), 1
    h = vmax + 1
    w = ((x + h) & (2 * h - 1)) - h                               # two's complement at mb bits
    return w, (1 if w != x else 0)                                # -2^(mb-1) is representable


@njit(cache=True, inline="always")
def reg_membrane(x, mode, vmax):
    """Store the exact int64 value ``x`` in a membrane (or readout) register, vmax = 2^(mb-1) - 1.
    Returns (stored, event). lava: int32 sum (wrap to 32 bits), then clip to +-vmax (lava's v);
    saturate: clip to +-vmax; wrap: two's complement at mb bits."""
    if uint64(x + vmax) <= uint64(2 * vmax):                      # [-vmax, vmax]: unchanged in every mode
        return x, 0
    return _membrane_limit(x, mode, vmax)


# Branch-free forms of `reg_current` / `reg_membrane` for loops where ``mode`` is a literal (a constant at
# the call site, so LLVM drops the other modes): the limit case is computed with selects next to the
# in-range value instead of behind a branch and a call, which keeps a loop over neurons vectorisable
# (the call to `_current_limit` / `_membrane_limit` stops LLVM's loop vectoriser). Same results and events
# as `reg_current` / `reg_membrane` for every int64 ``x`` (tests/kernels/test_fixed_ops_select.py).
@njit(cache=True, inline="always")
def reg_current_sel(x, mode, half_c):
    """`reg_current` without branches; ``mode`` must be a literal (OVF_LAVA / OVF_SATURATE / OVF_WRAP)."""
    inr = uint64(x + (half_c - 1)) <= uint64(2 * half_c - 2)     # [-(half_c - 1), half_c - 1]
    if mode == OVF_LAVA:
        keep = inr or x == half_c                                 # lava keeps +2^(cb-1) itself
        w = wrap_to(x, LAVA_SUM_BITS)                             # int32 sum, then lava's single wrap of u
        w = w - 2 * half_c if w > half_c else (w + 2 * half_c if w <= -half_c else w)
        return (x if keep else w), (0 if keep else 1)
    if mode == OVF_SATURATE:
        m = half_c - 1
        return (x if inr else (m if x > m else -m)), (0 if inr else 1)
    w = ((x + half_c) & (2 * half_c - 1)) - half_c                # two's complement at cb bits (x if in range)
    return w, (1 if w != x else 0)


@njit(cache=True, inline="always")
def reg_membrane_sel(x, mode, vmax):
    """`reg_membrane` without branches; ``mode`` must be a literal (OVF_LAVA / OVF_SATURATE / OVF_WRAP)."""
    inr = uint64(x + vmax) <= uint64(2 * vmax)                    # [-vmax, vmax]
    if mode == OVF_LAVA:
        w = wrap_to(x, LAVA_SUM_BITS)                             # int32 sum, then lava's clip of v
        w = vmax if w > vmax else (-vmax if w < -vmax else w)
        return (x if inr else w), (0 if inr else 1)
    if mode == OVF_SATURATE:
        return (x if inr else (vmax if x > vmax else -vmax)), (0 if inr else 1)
    h = vmax + 1
    w = ((x + h) & (2 * h - 1)) - h                               # two's complement at mb bits (x if in range)
    return w, (1 if w != x else 0)
