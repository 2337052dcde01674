"""Generalization gap: held-out minus training loss and error, for a float network or a compiled one.

Liu et al. (NeurIPS 2022) define the gap as the difference between test and training error. Our tasks are
generated, so a "training set" is a set of seeded draws of the task's 'train' split and the held-out set
the same number of draws of its 'test' split (`neurochip.tasks.base.batch_rng`: the splits never share a
random stream). With fresh draws at every iteration (as `neurochip.train.train` does) a network sees each
training trial once, so the expected gap is small; it measures over-fitting to the draws actually trained
on only when ``train_indices`` name those draws (training seed s used 'train' index s * 10**6 + i at
iteration i). Each figure carries its standard error over trials so a gap can be read against noise.

Losses are the task loss only (no rate regulariser): 'ce' = mean cross-entropy over the loss window,
'mse' = 1/2 sum over the window (per trial). Error = 1 - accuracy ('ce') or nmse ('mse').

Outputs come from a callable ``outputs(x [B, T, n_in]) -> o [B, T, n_out]`` (float): `float_outputs`
(the float reference, `neurochip.simulate`) or `chip_outputs` (a `CompiledNetwork` on the native backend
in fixed point; its outputs are dequantised by the backend: y_int / scale_out + b_out).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError
from ..tasks.base import Batch

Outputs = Callable[[np.ndarray], np.ndarray]


def float_outputs(net) -> Outputs:
    """outputs(x) of the float `Network` ``net`` (neurochip.simulate)."""
    from ..simulate import simulate
    return lambda x: simulate(net, x).out


def chip_outputs(compiled, backend: str = "native") -> Outputs:
    """outputs(x) of ``compiled`` run on ``backend`` (fixed point, inference), dequantised to float."""
    from ..backends import get_backend
    mod = get_backend(backend)
    return lambda x: np.asarray(mod.run(compiled, x, record=("outputs",)).outputs, np.float64)


def per_trial(out: np.ndarray, batch: Batch) -> dict[str, np.ndarray]:
    """Per-trial task loss and error [B] of outputs ``out`` [B, T, n_out] on ``batch``."""
    from ..learning import task_loss, task_metrics
    B = batch.x.shape[0]
    if out.shape[:2] != batch.x.shape[:2]:
        raise ConfigError(f"outputs have shape {out.shape}, the batch is [B, T] = {batch.x.shape[:2]}")
    loss, err = np.empty(B), np.empty(B)
    for b in range(B):
        s = slice(b, b + 1)
        loss[b] = task_loss(out[s], batch.target[s], batch.mask[s], batch.loss)[0]
        m = task_metrics(out[s], batch.target[s], batch.mask[s], batch.loss)
        err[b] = m["error"] if "error" in m else m["nmse"]
    return {"loss": loss, "error": err}


def _summary(per: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in per]) for k in ("loss", "error")}


def _mean_se(a: np.ndarray) -> tuple[float, float]:
    n = a.size
    return float(a.mean()), float(a.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def gap(outputs: Outputs, train: Sequence[Batch], test: Sequence[Batch]) -> dict:
    """Generalization gap of ``outputs`` between the ``train`` and ``test`` batches (pure over the batches).

    Returns a JSON-able dict: train / test {loss, loss_se, error, error_se, trials}; loss_gap = test
    loss - train loss and error_gap = test error - train error, each with its standard error
    sqrt(se_train^2 + se_test^2) (independent draws).
    """
    if not train or not test:
        raise ConfigError("generalization gap needs at least one train and one test batch")
    res = {}
    for name, batches in (("train", train), ("test", test)):
        s = _summary([per_trial(outputs(b.x), b) for b in batches])
        lm, ls = _mean_se(s["loss"])
        em, es = _mean_se(s["error"])
        res[name] = {"loss": lm, "loss_se": ls, "error": em, "error_se": es, "trials": int(s["loss"].size)}
    tr, te = res["train"], res["test"]
    res["loss_gap"] = te["loss"] - tr["loss"]
    res["loss_gap_se"] = float(np.hypot(tr["loss_se"], te["loss_se"]))
    res["error_gap"] = te["error"] - tr["error"]
    res["error_gap_se"] = float(np.hypot(tr["error_se"], te["error_se"]))
    res["error_kind"] = "1 - accuracy" if train[0].loss == "ce" else "nmse"
    return res


def task_batches(task, trials: int, split: str, indices: Sequence[int] = (0,)) -> list[Batch]:
    """Draws ``task.batch(trials, split, i)`` for i in ``indices`` (the same trial count per split)."""
    if trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    return [task.batch(int(trials), split, int(i)) for i in indices]


def task_gap(outputs: Outputs, task, trials: int, *, train_indices: Sequence[int] = (0,),
             test_indices: Sequence[int] = (0,)) -> dict:
    """`gap` on the task's 'train' draws ``train_indices`` and 'test' draws ``test_indices``, each of
    ``trials`` trials (so both sides have the same number of trials when the index lists have the same length)."""
    res = gap(outputs, task_batches(task, trials, "train", train_indices), task_batches(task, trials, "test", test_indices))
    res.update(task=task.name, train_indices=[int(i) for i in train_indices], test_indices=[int(i) for i in test_indices])
    return res
