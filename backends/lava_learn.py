"""lava backend, ``run(..., learn=True)``: the part of e-prop lava-nc's learning engine expresses
(``dw = 2^-7 u0 x1 y2 y3`` on w_in and w_rec, `lava.run_eprop3f`), with learning-signal codes from the
chip's own readout error (a lava inference run at the current weights). Trials in groups of
``batch_size`` learn from the same weights; the group's summed change is applied, clipped to lava's
9-bit weight range, before the next group; ``epochs`` passes: the native backend's schedule."""
from __future__ import annotations

import time

import numpy as np

from ..backend_contract import RunResult
from ..errors import ConfigError
from .counts import dense
from .lava import (CAPABILITIES, LAVA_W_MAX, LAVA_W_MIN, LEARN_EXP, LEARN_X1_IMPULSE, LEARN_X1_TAU, NAME,
                   learning_signal_codes, run, run_eprop3f)


def _targets_of(targets, B: int, n_out: int):
    """(target, mask, loss) from a Batch-like object or dict; `ConfigError` naming what is missing."""
    if targets is None:
        raise ConfigError("lava backend: learn=True needs targets (a task Batch or a dict with target, mask, loss)")
    get = (lambda k: targets.get(k)) if isinstance(targets, dict) else (lambda k: getattr(targets, k, None))
    tgt, mask, loss = get("target"), get("mask"), get("loss")
    if tgt is None or mask is None or loss not in ("mse", "ce"):
        raise ConfigError("lava backend: targets must carry target, mask [B, T] and loss ('mse' | 'ce')")
    tgt, mask = np.asarray(tgt), np.asarray(mask)
    if tgt.shape[0] != B or mask.shape[0] != B:
        raise ConfigError(f"lava backend: targets hold {tgt.shape[0]} trials, inputs {B}")
    return tgt, mask, loss


def run_learning(compiled, x: np.ndarray, targets, *, seed: int, epochs: int, batch_size: int | None,
                  timeout_s: float | None) -> RunResult:
    """`lava.run(..., learn=True)`: see the module docstring."""
    from dataclasses import replace

    from neurochip.learning.losses import task_loss

    B, T, _ = x.shape
    tgt, mask, loss = _targets_of(targets, B, compiled.n_out)
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    bs = 1 if batch_size is None else batch_size             # None: one application per trial, as native
    if not isinstance(bs, (int, np.integer)) or bs < 1:
        raise ConfigError(f"batch_size must be an integer >= 1 (trials per weight application), got {batch_size!r}")
    names = CAPABILITIES.learned
    cur = compiled
    spikes = np.zeros((B, T, compiled.n_rec), np.uint8)
    outputs = np.zeros((B, T, compiled.n_out))
    counts = None
    t0 = time.perf_counter()
    history = []
    for ep in range(int(epochs)):
        losses = []
        for g0 in range(0, B, int(bs)):
            g1 = min(B, g0 + int(bs))
            r = run(cur, x[g0:g1], timeout_s=timeout_s)            # the chip's own outputs at the current weights
            spikes[g0:g1], outputs[g0:g1] = r.spikes, r.outputs
            counts = r.counts if counts is None else counts + r.counts
            lval, err = task_loss(r.outputs, tgt[g0:g1], mask[g0:g1], loss)
            losses.append(lval)
            w0 = {n: dense(getattr(cur, n)).astype(np.int64) for n in names}
            delta = {n: np.zeros_like(w0[n]) for n in names}
            for i in range(g1 - g0):
                code, _ = learning_signal_codes(cur, err[i])
                xs = np.zeros((T + 2, compiled.n_in), np.uint8)
                xs[:T] = x[g0 + i]
                rr = run_eprop3f(cur, xs, code, exp=LEARN_EXP, x1_impulse=LEARN_X1_IMPULSE, x1_tau=LEARN_X1_TAU,
                                 rng_seed=int(seed) + 1 + ep * B + g0 + i, learn_rec=True)
                for n in names:
                    delta[n] += np.asarray(rr[n], np.int64) - w0[n]
            # apply the group's summed change, held in lava's weight range (9-bit signed mantissas)
            cur = replace(cur, **{n: np.clip(w0[n] + delta[n], LAVA_W_MIN, LAVA_W_MAX) for n in names})
        history.append({"epoch": ep, "loss": float(np.mean(losses))})
    weights = {n: dense(getattr(cur, n)).astype(np.int64) for n in ("w_in", "w_rec", "w_out")}
    updates = {n: weights[n] - dense(getattr(compiled, n)).astype(np.int64) for n in names}
    return RunResult(spikes=spikes, outputs=outputs, counts=counts, backend=NAME, weights=weights,
                     weight_updates=updates,
                     meta={"wall_s": time.perf_counter() - t0, "epochs": history, "learned": list(names),
                           "learning_note": CAPABILITIES.learning_note, "batch_size": int(bs)})
