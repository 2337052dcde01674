"""Tiny networks and batches for the analysis tests (a few neurons, tens of steps: fast)."""
from __future__ import annotations

import numpy as np

from neurochip import Network, NeuronParams
from neurochip.tasks import Batch


def tiny_net(seed: int = 3, n_in: int = 3, n_rec: int = 5, n_out: int = 2, kind: str = "alif") -> Network:
    """A small LIF/ALIF net with strong enough weights to spike at ~10-30 % of steps."""
    rng = np.random.default_rng(seed)
    params = NeuronParams(kind=kind, tau_m=20.0, tau_a=200.0, tau_out=10.0, v_th=0.6, n_ref=2)
    mask = np.ones((n_rec, n_rec), bool)
    np.fill_diagonal(mask, False)
    beta = np.zeros(n_rec)
    if kind == "alif":
        beta[n_rec // 2:] = 0.2
    return Network(params=params, w_in=1.5 * rng.standard_normal((n_rec, n_in)),
                   w_rec=0.6 * rng.standard_normal((n_rec, n_rec)) * mask, w_out=rng.standard_normal((n_out, n_rec)),
                   b_out=np.zeros(n_out), B=rng.standard_normal((n_rec, n_out)), beta=beta, rec_mask=mask)


def tiny_batch(seed: int = 0, B: int = 2, T: int = 60, n_in: int = 3, n_out: int = 2, loss: str = "ce") -> Batch:
    """Random 0/1 inputs at p = 0.3 per step; 'ce': random labels in the last 20 steps; 'mse': random targets."""
    rng = np.random.default_rng(seed)
    x = (rng.random((B, T, n_in)) < 0.3).astype(np.uint8)
    mask = np.zeros((B, T), bool)
    mask[:, -20:] = True
    if loss == "ce":
        target = np.repeat(rng.integers(0, n_out, B)[:, None], T, 1)
    else:
        target = rng.standard_normal((B, T, n_out))
    return Batch(x=x, target=target, loss=loss, mask=mask)
