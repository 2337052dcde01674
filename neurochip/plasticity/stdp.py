"""Float STDP: pair-based (all-to-all or nearest pairing), additive or weight-dependent, triplet
(Pfister & Gerstner 2006), and the reward-modulated (three-factor) form.

Discrete time, step dt (ms). For a synapse j -> i with presynaptic spikes s_j^t and postsynaptic
spikes z_i^t (0/1), the traces include the spike of the current step:

    all-to-all:  X_j^t = lam+ X_j^{t-1} + s_j^t          Y_i^t = lam- Y_i^{t-1} + z_i^t
    nearest:     X_j^t = 1 if s_j^t else lam+ X_j^{t-1}   (reset to 1: only the nearest spike counts)
    lam+ = exp(-dt / tau+),  lam- = exp(-dt / tau-)

    dw_ij = sum_t  A+ f+(w_ij) z_i^t X_j^t  -  A- f-(w_ij) s_j^t Y_i^t

so one pre spike at t_pre and one post spike at t_post give A+ exp(-(t_post - t_pre) dt / tau+) when
t_post >= t_pre and -A- exp(-(t_pre - t_post) dt / tau-) when t_pre >= t_post; a simultaneous pair
counts both (A+ - A-), as Loihi's engine with t_epoch = 1 does (its traces also include the current
step's spike). Additive: f+ = f- = 1; multiplicative (soft bounds): f+ = w_max - w, f- = w - w_min,
evaluated at the weights of the start of the batch (the float update is applied once per batch).

Triplet (minimal all-to-all model): slow traces Xs (tau_x, presynaptic), Ys (tau_y, postsynaptic);
at a post spike the potentiation is X (A2+ + A3+ Ys^{t-}) and at a pre spike the depression is
Y (A2- + A3- Xs^{t-}), where ^{t-} is the slow trace just before this step's spike is added.

Reward-modulated STDP (Izhikevich 2007; Fremaux & Gerstner 2016): the STDP term of every step enters
an eligibility trace e^t = lam_e e^{t-1} + stdp^t (lam_e = exp(-dt / tau_e)); the reward R of a trial
arrives at its last step and the weights move by (R - b) e^{T-1}, b the reward prediction (the
batch's mean reward, or 0). So each step's pairs are weighted by (R - b) lam_e^{T-1-t}.

Pre spikes: the input spikes x for W_in, the network's spikes z (at emission) for W_rec.
Shapes: spikes [B, T, n]; weights [n_post, n_pre]; every sum runs over trials and steps.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _trace(s, lam, nearest, before):
    B, T, N = s.shape
    out = np.zeros((B, T, N))
    for b in range(B):
        for n in range(N):
            v = 0.0
            for t in range(T):
                v = lam * v
                if before:
                    out[b, t, n] = v          # the value just before this step's spike is added
                if s[b, t, n] != 0:
                    v = 1.0 if nearest else v + s[b, t, n]
                if not before:
                    out[b, t, n] = v
    return out


def spike_trace(s: np.ndarray, tau_ms: float, dt_ms: float, *, nearest: bool = False, before: bool = False) -> np.ndarray:
    """Trace [B, T, n] of spikes ``s`` [B, T, n]: decay exp(-dt/tau) per step, +1 (all-to-all) or reset to 1
    (nearest) at a spike; ``before``: the value before this step's spike (triplet's t-)."""
    s = np.ascontiguousarray(s, dtype=np.float64)
    return _trace(s, math.exp(-dt_ms / tau_ms), bool(nearest), bool(before))


def _wsum(a: np.ndarray, b: np.ndarray, wt: np.ndarray | None) -> np.ndarray:
    """sum_{b,t} wt[b,t] a[b,t,:]^T b[b,t,:] -> [n_a, n_b]."""
    if wt is not None:
        a = a * wt[:, :, None]
    return a.reshape(-1, a.shape[2]).T @ b.reshape(-1, b.shape[2])


def pair_terms(pre: np.ndarray, post: np.ndarray, tau_plus: float, tau_minus: float, dt: float, *,
               pairing: str = "all", weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(P, D) [n_post, n_pre]: potentiation sum z_i X_j and depression sum Y_i s_j (each step weighted by
    ``weight`` [B, T] if given)."""
    nearest = pairing == "nearest"
    pre = np.asarray(pre, np.float64)
    post = np.asarray(post, np.float64)
    X = spike_trace(pre, tau_plus, dt, nearest=nearest)
    Y = spike_trace(post, tau_minus, dt, nearest=nearest)
    return _wsum(post, X, weight), _wsum(Y, pre, weight)


def triplet_terms(pre, post, tau_plus, tau_minus, tau_x, tau_y, dt, weight=None):
    """(P2, P3, D2, D3): pair and triplet potentiation/depression sums of the minimal triplet model."""
    pre = np.asarray(pre, np.float64)
    post = np.asarray(post, np.float64)
    X = spike_trace(pre, tau_plus, dt)
    Y = spike_trace(post, tau_minus, dt)
    Ys = spike_trace(post, tau_y, dt, before=True)
    Xs = spike_trace(pre, tau_x, dt, before=True)
    return (_wsum(post, X, weight), _wsum(post * Ys, X, weight), _wsum(Y, pre, weight), _wsum(Y, pre * Xs, weight))


def stdp_dw(w: np.ndarray, P: np.ndarray, D: np.ndarray, a_plus: float, a_minus: float, *, form: str = "additive",
            w_min: float = -1.0, w_max: float = 1.0) -> np.ndarray:
    """Weight change A+ f+(w) P - A- f-(w) D (see module docstring)."""
    if form == "multiplicative":
        return a_plus * (w_max - w) * P - a_minus * (w - w_min) * D
    return a_plus * P - a_minus * D


def trial_rewards(out: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Reward per trial [B]: 1 if the class with the largest mean output over the trial's decision
    window (``mask``) is the labelled one, else 0. Trials without a window get 0."""
    B = out.shape[0]
    r = np.zeros(B)
    for b in range(B):
        m = np.asarray(mask[b], bool)
        if not m.any():
            continue
        pred = int(np.argmax(out[b][m].mean(0)))
        r[b] = float(pred == int(np.asarray(target[b])[m][0]))
    return r


def reward_weights(R: np.ndarray, T: int, tau_e: float, dt: float, baseline: bool = True) -> np.ndarray:
    """Weight of each step's STDP term [B, T]: (R_b - b) lam_e^{T-1-t} (reward at the last step)."""
    R = np.asarray(R, np.float64)
    adv = R - (R.mean() if baseline else 0.0)
    decay = np.exp(-(T - 1 - np.arange(T)) * dt / tau_e)
    return adv[:, None] * decay[None, :]
