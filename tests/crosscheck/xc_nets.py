"""Hand-built `CompiledNetwork` objects for backend cross-checks (no compiler needed)."""
from __future__ import annotations

import numpy as np

from neurochip.compiler.artifact import CompiledNetwork


def make_compiled(rng: np.random.Generator, *, n_in: int = 6, n_rec: int = 10, n_out: int = 2,
                  w_lim: int = 255, e_in: int = 0, e_rec: int = 0, e_out: int = 0, du: int = 4095,
                  dv: int = 200, dk: int = 200, vth: int = 100, bias_max: int = 0, bias_exp: int = 0,
                  p_rec: float = 0.5, reset: str = "zero", n_ref: int = 1, kind: str = "lif",
                  da: int = 0, a_inc: int = 0, beta_max: int = 0, beta_shift: int = 0,
                  n_cores: int = 2, scale_v: float = 6400.0, scale_out: float = 6400.0) -> CompiledNetwork:
    """Random integer network. Mantissas uniform in [-w_lim, w_lim] (clipped to lava's [-256, 255])."""
    lo, hi = max(-w_lim, -256), min(w_lim, 255)
    w_in = rng.integers(lo, hi + 1, (n_rec, n_in), dtype=np.int64).astype(np.int32)
    mask = rng.random((n_rec, n_rec)) < p_rec
    np.fill_diagonal(mask, False)
    w_rec = (rng.integers(lo, hi + 1, (n_rec, n_rec)) * mask).astype(np.int32)
    w_out = rng.integers(lo, hi + 1, (n_out, n_rec)).astype(np.int32)
    bias = rng.integers(-bias_max, bias_max + 1, n_rec).astype(np.int32) if bias_max else np.zeros(n_rec, np.int32)
    beta = rng.integers(0, beta_max + 1, n_rec).astype(np.int32) if beta_max else np.zeros(n_rec, np.int32)
    core_of = (np.arange(n_rec + n_out) * n_cores // (n_rec + n_out)).astype(np.int32)
    xy = np.stack([np.arange(n_cores), np.zeros(n_cores, int)], axis=1).astype(np.int32)
    hops = np.abs(xy[:, None, 0] - xy[None, :, 0]).astype(np.int32)
    return CompiledNetwork(
        profile_name="loihi2-test", profile=None, neuron_kind=kind, reset=reset,
        n_in=n_in, n_rec=n_rec, n_out=n_out, w_in=w_in, w_rec=w_rec, w_out=w_out, rec_mask=mask,
        e_in=e_in, e_rec=e_rec, e_out=e_out, du=du, dv=dv, da=da, dk=dk, vth=vth,
        bias_mant=bias, bias_exp=bias_exp, beta_mant=beta, beta_shift=beta_shift, a_inc=a_inc, n_ref=n_ref,
        scale_v=scale_v, scale_out=scale_out, b_out=np.zeros(n_out), float_params={},
        core_of=core_of, core_xy=xy, hops=hops, ls_hops=np.zeros(n_cores, np.int32))


def poisson(rng: np.random.Generator, B: int, T: int, n_in: int, p: float) -> np.ndarray:
    return (rng.random((B, T, n_in)) < p).astype(np.uint8)
