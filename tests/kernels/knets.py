"""Hand-built integer networks (no compiler) for kernel tests: any widths, extreme values."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from neurochip.compiler.artifact import CompiledNetwork


def fmt_profile(*, S=6, D=12, mb=24, cb=24, wb=9):
    """A stand-in profile carrying only the [format] fields the kernels read."""
    f = SimpleNamespace(threshold_shift=S, decay_bits=D, membrane_bits=mb, current_bits=cb, weight_bits=wb,
                        w_min=-(1 << (wb - 1)), w_max=(1 << (wb - 1)) - 1)
    return SimpleNamespace(format=f, name="test-format")


def random_compiled(rng, *, n_in=5, n_rec=7, n_out=2, wb=9, S=6, D=12, mb=24, cb=24, e_in=0, e_rec=0, e_out=0,
                    reset="subtract", kind="alif", n_ref=3, p_rec=0.5, w_scale=1.0, vth=50, du=4095, dv=300,
                    da=40, dk=300, a_inc=40, beta_max=300, beta_shift=4, bias_max=0, bias_exp=0, n_cores=3):
    wmin, wmax = -(1 << (wb - 1)), (1 << (wb - 1)) - 1

    def w(shape):
        m = rng.integers(wmin, wmax + 1, shape) * w_scale
        return np.clip(np.round(m), wmin, wmax).astype(np.int32)

    mask = rng.random((n_rec, n_rec)) < p_rec
    np.fill_diagonal(mask, False)
    beta = rng.integers(0, beta_max + 1, n_rec).astype(np.int32) if kind == "alif" else np.zeros(n_rec, np.int32)
    core_of = rng.integers(0, n_cores, n_rec + n_out).astype(np.int32)
    xy = np.stack([np.arange(n_cores) % 2, np.arange(n_cores) // 2], axis=1).astype(np.int32)
    hops = (np.abs(xy[:, None, 0] - xy[None, :, 0]) + np.abs(xy[:, None, 1] - xy[None, :, 1])).astype(np.int32)
    return CompiledNetwork(
        profile_name="test", profile=fmt_profile(S=S, D=D, mb=mb, cb=cb, wb=wb), neuron_kind=kind, reset=reset,
        n_in=n_in, n_rec=n_rec, n_out=n_out, w_in=w((n_rec, n_in)), w_rec=w((n_rec, n_rec)) * mask, w_out=w((n_out, n_rec)),
        rec_mask=mask, e_in=e_in, e_rec=e_rec, e_out=e_out, du=du, dv=dv, da=da if kind == "alif" else 0, dk=dk,
        vth=vth, bias_mant=rng.integers(-bias_max, bias_max + 1, n_rec).astype(np.int32), bias_exp=bias_exp,
        beta_mant=beta, beta_shift=beta_shift, a_inc=a_inc if kind == "alif" else 0, n_ref=n_ref,
        scale_v=float(vth << S) / 0.6, scale_out=1000.0, b_out=np.zeros(n_out), float_params={"dt": 1.0},
        core_of=core_of, core_xy=xy, hops=hops, ls_hops=hops[0].copy())
