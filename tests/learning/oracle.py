"""Independent numpy oracles for the learning tests (written from eprop_spec 1.x/2.1 and Appendix A,
not from neurochip.learning): a plain-loop forward pass and forward-mode RTRL."""
from __future__ import annotations

import numpy as np


def forward(net, x):
    """Appendix-A forward pass with the c_in/c_a/c_kappa conventions. Returns z, psi, y (no bias)."""
    p = net.params
    x = np.asarray(x, dtype=np.float64)
    B, T, _ = x.shape
    N, K = net.n_rec, net.n_out
    v, a, z, r = (np.zeros((B, N)) for _ in range(4))
    y = np.zeros((B, K))
    Z, PSI, Y = [], [], []
    for t in range(T):
        a = p.rho * a + p.c_a * z
        A = p.v_th + net.beta * a
        v = p.alpha * v + p.c_in * (x[:, t] @ net.w_in.T + z @ net.w_rec.T) - p.v_th * z
        ref = r > 0
        z_new = ((v > A) & ~ref).astype(float)
        PSI.append(~ref * p.gamma_pd / p.v_th * np.maximum(0, 1 - abs(v - A) / p.v_th))
        r = np.clip(r + p.n_ref * z_new - 1, 0, p.n_ref)
        z = z_new
        y = p.kappa * y + p.c_kappa * z @ net.w_out.T
        Z.append(z); Y.append(y)
    return np.stack(Z, 1), np.stack(PSI, 1), np.stack(Y, 1)


def rtrl(net, x, Z, PSI, err, reg=None, reset=True, trunc=0):
    """Exact forward-mode gradient of E with dE/do^t = err^t and dE/dz^t = reg (per neuron), for
    theta = (W_rec, W_in). Influence matrices M^v = dv/dtheta, M^a = da/dtheta, D = dz/dtheta.

    trunc = k > 0: truncated BPTT as rules.py defines it, written in forward form. The sequence is cut into
    k-step windows counted from the end ([T-k, T-1], [T-2k, T-k-1], ...); the neuron state (v, a, z) that
    enters a window is treated as a constant, so the influence matrices restart from zero at the first
    step of every window but the first. The readout filter is not cut (M^y keeps its history) and the
    presynaptic spikes a window's first step reads are still the previous step's."""
    p = net.params
    B, T, N = Z.shape
    Ni = x.shape[2]; K = net.n_out
    P = N * N + N * Ni
    reg = np.zeros(N) if reg is None else reg
    Mv = np.zeros((B, N, P)); Ma = np.zeros((B, N, P)); D = np.zeros((B, N, P)); My = np.zeros((B, K, P))
    J = p.c_in * net.w_rec - (p.v_th * np.eye(N) if reset else 0.0)
    g = np.zeros(P)
    for t in range(T):
        zp = Z[:, t - 1] if t else np.zeros((B, N))
        if trunc > 0 and t > 0 and (T - t) % trunc == 0:   # t opens a window: the state it inherits is detached
            Mv = np.zeros_like(Mv); Ma = np.zeros_like(Ma); D = np.zeros_like(D)
        Ma = p.rho * Ma + p.c_a * D
        imm = np.zeros((B, N, P))
        for j in range(N):
            imm[:, j, j * N:(j + 1) * N] = zp
            imm[:, j, N * N + j * Ni:N * N + (j + 1) * Ni] = x[:, t]
        Mv = p.alpha * Mv + np.einsum("jk,bkp->bjp", J, D) + p.c_in * imm
        D = PSI[:, t][:, :, None] * (Mv - net.beta[None, :, None] * Ma)
        My = p.kappa * My + p.c_kappa * np.einsum("kj,bjp->bkp", net.w_out, D)
        g += np.einsum("bk,bkp->p", err[:, t], My) + np.einsum("j,bjp->p", reg, D)
    g_rec = g[:N * N].reshape(N, N) * net.rec_mask
    return g[N * N:].reshape(N, Ni), g_rec


def readout_grad(net, Z, err):
    """dE/dW_out = c_kappa sum_t err^t zkap^t (zkap: kappa-filtered z including the current step)."""
    p = net.params
    zk = np.zeros((Z.shape[0], Z.shape[2])); g = np.zeros((net.n_out, net.n_rec))
    for t in range(Z.shape[1]):
        zk = p.kappa * zk + Z[:, t]
        g += p.c_kappa * err[:, t].T @ zk
    return g
