"""Online (per-step, per-synapse) e-prop: the forward-in-time form a chip runs (eprop_spec 2.3-2.4).

Slow (O(B N (N + n_in)) memory and work per step, numpy): the reference for the cross-check with
the offline scan and for the fixed-point on-chip kernels. Per synapse j <- i, with the refractory-
masked pseudo-derivative psi and the conventions c_in, c_a, c_kappa of `NeuronParams`:

    zbar_i^t  = alpha zbar_i^{t-1} + c_in z_i^{t-1}         xbar_i^t = alpha xbar_i^{t-1} + c_in x_i^t
    eps^a_ji^t = c_a psi_j^{t-1} pre_i^{t-1} + (rho - c_a beta_j psi_j^{t-1}) eps^a_ji^{t-1}
    e_ji^t    = psi_j^t (pre_i^t - beta_j eps^a_ji^t)            (pre = zbar or xbar)
    ebar_ji^t = kappa ebar_ji^{t-1} + c_kappa e_ji^t
    L_j^t     = sum_k F_jk err_k^t                                 (err = dE/do^t, instantaneous)
    dW_ji    += L_j^t ebar_ji^t + reg_j e_ji^t                     (reg_j = dE_reg/dz_j, unfiltered)

Readout: dW_out_kj += err_k^t c_kappa zkap_j^t with zkap^t = kappa zkap^{t-1} + z^t; db_k += err_k^t.
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidNetworkError
from ..network import Network
from ..simulate import FloatTrace, check_inputs
from .gradients import Grads


def eprop_online_grads(net: Network, x: np.ndarray, trace: FloatTrace, err: np.ndarray, F: np.ndarray,
                       reg_signal: np.ndarray | None = None, *, adapt: bool = True) -> Grads:
    """Accumulated online e-prop gradient for inputs x [B, T, n_in], forward ``trace``, output error
    err = dE/do [B, T, n_out], feedback F [n_rec, n_out] (W_out^T symmetric, B random), optional
    reg_signal [n_rec]. ``adapt=False`` drops eps^a (RFLO)."""
    p = net.params
    x = check_inputs(net, x)
    if trace.z.shape != (x.shape[0], x.shape[1], net.n_rec):
        raise InvalidNetworkError(f"trace has shape {trace.z.shape}, inputs imply {(x.shape[0], x.shape[1], net.n_rec)}")
    if err.shape != (x.shape[0], x.shape[1], net.n_out):
        raise InvalidNetworkError(f"err has shape {err.shape}, expected {(x.shape[0], x.shape[1], net.n_out)}")
    if F.shape != (net.n_rec, net.n_out):
        raise InvalidNetworkError(f"feedback F has shape {F.shape}, expected {(net.n_rec, net.n_out)} [n_rec, n_out]")
    Z = trace.z.astype(np.float64)
    PSI = trace.psi
    Bn, T, N = Z.shape
    al, rho, ka = p.alpha, p.rho, p.kappa
    be = net.beta[None, :, None] if adapt else np.zeros((1, N, 1))
    reg = np.zeros(N) if reg_signal is None else np.asarray(reg_signal, dtype=np.float64)
    zb = np.zeros((Bn, N)); xb = np.zeros((Bn, net.n_in))
    zb_prev, xb_prev = zb, xb
    ea_r = np.zeros((Bn, N, N)); ea_i = np.zeros((Bn, N, net.n_in))
    eb_r = np.zeros_like(ea_r); eb_i = np.zeros_like(ea_i)
    zk = np.zeros((Bn, N)); psi_prev = np.zeros((Bn, N))
    g_in = np.zeros((N, net.n_in)); g_rec = np.zeros((N, N)); g_out = np.zeros((net.n_out, N))
    for t in range(T):
        pp = psi_prev[:, :, None]
        ea_r = p.c_a * pp * zb_prev[:, None] + (rho - p.c_a * be * pp) * ea_r
        ea_i = p.c_a * pp * xb_prev[:, None] + (rho - p.c_a * be * pp) * ea_i
        zb = al * zb + p.c_in * (Z[:, t - 1] if t else 0.0)
        xb = al * xb + p.c_in * x[:, t]
        ps = PSI[:, t][:, :, None]
        e_r = ps * (zb[:, None] - be * ea_r)
        e_i = ps * (xb[:, None] - be * ea_i)
        eb_r = ka * eb_r + p.c_kappa * e_r
        eb_i = ka * eb_i + p.c_kappa * e_i
        L = err[:, t] @ F.T
        g_rec += np.einsum("bj,bji->ji", L, eb_r) + np.einsum("j,bji->ji", reg, e_r)
        g_in += np.einsum("bj,bji->ji", L, eb_i) + np.einsum("j,bji->ji", reg, e_i)
        zk = ka * zk + Z[:, t]
        g_out += p.c_kappa * err[:, t].T @ zk
        psi_prev, zb_prev, xb_prev = PSI[:, t], zb, xb
    net.zero_absent(w_in=g_in, w_rec=g_rec, w_out=g_out)
    return Grads(w_in=g_in, w_rec=g_rec, w_out=g_out, b_out=err.sum((0, 1)))
