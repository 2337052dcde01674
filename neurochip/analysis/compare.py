"""Float vs on-chip: the same curvature and generalization measurements on both sides.

The on-chip side is a `CompiledNetwork`, possibly after on-chip learning (pass the learned mantissas,
``RunResult.weights`` of ``backend.run(..., learn=True)``). Its curvature is that of the float model with
the chip's weights dequantised (`neurochip.validate.dequantize`) into the source `Network`
(`neurochip.validate.float_network`): the surrogate Hessian is a float-model quantity, so the chip's
fixed-point dynamics (quantised decays, threshold, rounding) are *not* part of it; only its weights are.
Its generalization gap, by contrast, is measured on the chip itself: native backend, fixed point,
dequantised outputs.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..network import Network
from .curvature import WEIGHTS, dominant_eigenvalue
from .generalization import chip_outputs, float_outputs, task_gap


def chip_weights(compiled, weights: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Integer mantissas per projection and the readout bias ``b_out`` [n_out] (float: it is added off
    chip, after dequantisation, and learns there): ``weights`` (e.g. a learning run's
    ``RunResult.weights``) where given, else the artifact's."""
    weights = dict(weights or {})
    bad = set(weights) - set(WEIGHTS) - {"b_out"}
    if bad:
        raise ConfigError(f"unknown weight name(s) {sorted(bad)}; known: {WEIGHTS + ('b_out',)}")
    out = {n: weights.get(n, getattr(compiled, n)) for n in WEIGHTS}
    out["b_out"] = np.asarray(weights.get("b_out", compiled.b_out), np.float64)
    return out


def chip_network(compiled, weights: Mapping[str, np.ndarray] | None = None) -> Network:
    """The float `Network` whose w_in / w_rec / w_out are the chip's dequantised mantissas (learned ones
    if ``weights`` is given); every other field is the artifact's source network."""
    from ..validate import dequantize, float_network
    src = float_network(compiled)
    m = chip_weights(compiled, weights)
    kw = {n: dequantize(compiled, n, m[n]) for n in WEIGHTS}
    kw["w_rec"] = kw["w_rec"] * src.rec_mask  # absent synapses hold mantissa 0; keep the exact zero pattern
    kw["b_out"] = m["b_out"]
    return src.with_weights(**kw)


def chip_with_weights(compiled, weights: Mapping[str, np.ndarray] | None = None):
    """``compiled`` with its mantissas replaced by ``weights`` (for running learned weights on the chip)."""
    if not weights:
        return compiled
    m = chip_weights(compiled, weights)
    return replace(compiled, **{n: m[n] for n in WEIGHTS + ("b_out",)})


def analyse_network(net: Network, task, trials: int, *, outputs=None, iters: int = 30, tol: float = 1e-3,
                    seed: int = 0, train_indices: Sequence[int] = (0,), test_indices: Sequence[int] = (0,),
                    readout_block: bool = True, arnoldi_fallback: bool = False) -> dict:
    """Curvature (surrogate Hessian of all weights, and the exact readout block) on the fixed batch
    task 'train'/train_indices[0] of ``trials`` trials, and the generalization gap of ``outputs``
    (default: the float network itself) on the train/test draws. ``arnoldi_fallback``: see
    `dominant_eigenvalue` (all-weights curvature only; the readout block is symmetric PSD)."""
    batch = task.batch(int(trials), "train", int(train_indices[0]))
    res = {"curvature": dominant_eigenvalue(net, batch, WEIGHTS, seed=seed, tol=tol, max_iter=iters,
                                            arnoldi_fallback=arnoldi_fallback)}
    if readout_block:
        res["curvature_readout"] = dominant_eigenvalue(net, batch, ("w_out",), seed=seed, tol=tol, max_iter=iters)
    res["gap"] = task_gap(outputs or float_outputs(net), task, trials, train_indices=train_indices,
                          test_indices=test_indices)
    res["curvature_batch"] = {"split": "train", "index": int(train_indices[0]), "trials": int(trials)}
    return res


def compare_float_chip(net: Network, compiled, task, trials: int, *, weights: Mapping[str, np.ndarray] | None = None,
                       backend: str = "native", **kw) -> dict:
    """Both sides' curvatures and gaps: {'float': analyse_network(net), 'chip': analyse_network(chip_network)
    with the gap measured on ``backend``}, plus the differences chip - float. ``kw`` goes to `analyse_network`."""
    if (net.n_in, net.n_rec, net.n_out) != (compiled.n_in, compiled.n_rec, compiled.n_out):
        raise ConfigError(f"float network is {net.n_in}-{net.n_rec}-{net.n_out} but the artifact is "
                          f"{compiled.n_in}-{compiled.n_rec}-{compiled.n_out} (n_in-n_rec-n_out)")
    f = analyse_network(net, task, trials, **kw)
    cn = chip_with_weights(compiled, weights)
    c = analyse_network(chip_network(compiled, weights), task, trials, outputs=chip_outputs(cn, backend), **kw)
    c["backend"] = backend
    delta = {"curvature": c["curvature"]["value"] - f["curvature"]["value"],
             "loss_gap": c["gap"]["loss_gap"] - f["gap"]["loss_gap"],
             "error_gap": c["gap"]["error_gap"] - f["gap"]["error_gap"]}
    if "curvature_readout" in f:
        delta["curvature_readout"] = c["curvature_readout"]["value"] - f["curvature_readout"]["value"]
    return {"float": f, "chip": c, "chip_minus_float": delta}
