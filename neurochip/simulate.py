"""Float reference simulation of a `Network` (see `neurochip.network` for the equations)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidNetworkError
from .network import Network


@dataclass(frozen=True)
class FloatTrace:
    """Result of a float forward pass.

    z [B, T, n_rec] uint8 spikes; psi [B, T, n_rec] pseudo-derivative (1/unit of v);
    y [B, T, n_out] filtered readout without bias; out = y + b_out (the network output);
    v, a [B, T, n_rec] membrane and adaptation (only if record_v).
    """

    z: np.ndarray
    psi: np.ndarray
    y: np.ndarray
    out: np.ndarray
    v: np.ndarray | None = None
    a: np.ndarray | None = None


def check_inputs(net: Network, x: np.ndarray) -> np.ndarray:
    """Validate inputs ``[batch, time, n_in]`` (0/1 spikes or graded values) and return float64."""
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != net.n_in:
        raise InvalidNetworkError(f"inputs must have shape [batch, time, n_in={net.n_in}], got {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise InvalidNetworkError(f"inputs need at least one trial and one step, got shape {x.shape}")
    xf = np.ascontiguousarray(x, dtype=np.float64)
    if not np.isfinite(xf).all():
        raise InvalidNetworkError("inputs contain NaN or inf")
    return xf


def simulate(net: Network, x: np.ndarray, *, record_v: bool = False) -> FloatTrace:
    """Run the float network on inputs ``x [B, T, n_in]``; event-driven Numba kernel, batch in parallel."""
    from neurochip.kernels.float_forward import forward_float

    xf = check_inputs(net, x)
    p = net.params
    B, T, _ = xf.shape
    # np.empty, not np.zeros: the kernel writes every element of z, psi, y (and v, a when recorded), and numpy's
    # uninitialised allocation gets huge pages where calloc's zeroed pages fault in 4 KiB at a time (psi at
    # [32, 1000, 256] float64: ~1 ms per trial of page faults)
    z = np.empty((B, T, net.n_rec), np.uint8)
    psi = np.empty((B, T, net.n_rec))
    y = np.empty((B, T, net.n_out))
    shape_v = (B, T, net.n_rec) if record_v else (0, 0, 0)
    v = np.empty(shape_v)
    a = np.empty(shape_v)
    forward_float(xf, np.ascontiguousarray(net.w_in.T), np.ascontiguousarray(net.w_rec.T),
                  np.ascontiguousarray(net.w_out), np.ascontiguousarray(net.beta), p.alpha, p.rho, p.kappa,
                  p.c_in, p.c_a, p.c_kappa, p.v_th, p.gamma_pd, int(p.n_ref), record_v, z, psi, y, v, a)
    return FloatTrace(z=z, psi=psi, y=y, out=y + net.b_out, v=v if record_v else None, a=a if record_v else None)
