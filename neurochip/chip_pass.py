"""The float rule on the chip's own forward pass: separates a chip's learning arithmetic from its forward pass.

A chip's one-batch e-prop update differs from the float rule's update of the same batch for two reasons: (1) its
forward pass differs (fixed-point state, 12-bit decays: a few spikes flip, so the learning signal and the
eligibility traces differ), and (2) its learning arithmetic (trace widths, scaling, accumulation, rounding).
Comparing the chip's update with the float rule *driven by the chip's forward pass* removes (1) and measures (2)
alone. Session 11 measured why this matters: on the demo network a float simulation whose membrane decay is
rounded to the chip's 12 bits (alpha 0.951229 -> 0.951172, nothing else changed) already moves the float rule's
own update of one batch to cosine 0.70 / 0.86 / 0.98 (w_in / w_rec / w_out), what the chip scores on that batch
(docs/onchip_learning.md, "Where the one-update cosine gap comes from").

`chip_trace(compiled, net, spikes, outputs, v_int)` builds a `neurochip.simulate.FloatTrace` from a chip run:

- z [B, T, n_rec]: the chip's spikes; out [B, T, n_out]: its dequantised readout (``RunResult.outputs``, bias
  included), y = out - b_out;
- v: the chip's membrane, dequantised (v_int / compiled.scale_v, float units of v_th);
- a: the adaptation rebuilt from the chip's spikes with the float recursion a_t = rho a_{t-1} + c_a z_{t-1} (the
  chip's integer adaptation is not recorded; its rounding is below the float formula's other terms);
- psi: the float pseudo-derivative from (v, a): gamma / v_th * max(0, 1 - |v - A| / v_th) with A = v_th + beta a,
  0 during refractoriness (counted from the chip's spikes, as `kernels.float_forward` counts them).

`one_update(...)` runs one weight application on the first mini-batch and returns the per-matrix cosine / norm
ratio of the chip's accumulated update (applied change + the part held below the weight LSB) against the float
rule on the float pass and on the chip's pass.
"""
from __future__ import annotations

import numpy as np

from .simulate import FloatTrace


def chip_trace(compiled, net, spikes: np.ndarray, outputs: np.ndarray, v_int: np.ndarray) -> FloatTrace:
    """FloatTrace of a chip forward pass (see the module docstring). spikes uint8 [B, T, n_rec], outputs
    float [B, T, n_out] (dequantised, bias included), v_int int [B, T, n_rec] (membrane, chip units)."""
    p = net.params
    z = np.asarray(spikes, np.uint8)
    v = np.asarray(v_int, np.float64) / float(compiled.scale_v)
    B, T, n = z.shape
    a = np.zeros((B, T, n))
    psi = np.zeros((B, T, n))
    at = np.zeros((B, n))
    zp = np.zeros((B, n))
    refr = np.zeros((B, n), np.int64)
    beta = np.asarray(net.beta, np.float64)[None]
    for t in range(T):
        at = p.rho * at + p.c_a * zp
        a[:, t] = at
        d = 1.0 - np.abs(v[:, t] - (p.v_th + beta * at)) / p.v_th
        psi[:, t] = np.where(refr > 0, 0.0, p.gamma_pd / p.v_th * np.maximum(d, 0.0))
        # refractory counter as the float kernel keeps it: n_ref steps from a spike, the spike step included
        refr = np.clip(refr + int(p.n_ref) * z[:, t] - 1, 0, int(p.n_ref))
        zp = z[:, t]
    out = np.asarray(outputs, np.float64)
    return FloatTrace(z=z, psi=psi, y=out - np.asarray(net.b_out)[None, None], out=out, v=v, a=a)


def one_update(compiled, net, rule, batch, backend_mod, seed: int, names, accumulated, step_scale,
               float_trace: FloatTrace, float_step) -> dict:
    """One weight application of ``batch`` (all its trials) on the chip against the float rule's one SGD step
    from the same (dequantised) weights ``net``, on the float pass and on the chip's own pass.

    accumulated(run_result) -> {name: float change} (applied + pending, as the validation measures it);
    step_scale: {name: factor} from a float SGD step to the chip's step (per-matrix gains); float_trace,
    float_step: the float network's pass over ``batch`` and the rule's step on it (`weight_change` at rule.lr),
    which the validation has already computed for the first step of its float reference.
    Returns {name: {cosine_float_pass, norm_ratio_float_pass, cosine_chip_pass, norm_ratio_chip_pass}} and
    'spike_agreement_exact' (fraction of (trial, step, neuron) with the same spike state)."""
    from .learning.gradients import weight_change
    from .validate import _cos
    caps = backend_mod.CAPABILITIES
    # backends that run the compiled rule exactly and record the membrane (native); a partial learner (lava:
    # w_in / w_rec only, ~1,000x slower) would pay another learning run for a comparison of another rule
    if caps.learning != "compiled_rule" or "v" not in caps.records:
        return {}
    r = backend_mod.run(compiled, batch.x, learn=True, targets=batch, seed=seed, epochs=1,
                        batch_size=int(batch.x.shape[0]))
    d_chip = accumulated(r)
    inf = backend_mod.run(compiled, batch.x, record=("spikes", "outputs", "v"))
    tc = chip_trace(compiled, net, inf.spikes, inf.outputs, inf.v)
    tf, gf = float_trace, float_step
    gc = weight_change(net, rule, batch, trace=tc, lr=rule.lr)
    out: dict = {"spike_agreement_exact": float(np.mean(tc.z == tf.z)), "trials": int(batch.x.shape[0])}
    for n in names:
        row = {}
        for k, g in (("float_pass", gf), ("chip_pass", gc)):
            ref = step_scale[n] * np.asarray(getattr(g, n))
            nf = float(np.linalg.norm(ref))
            row["cosine_" + k] = _cos(d_chip[n].ravel(), ref.ravel())
            row["norm_ratio_" + k] = float(np.linalg.norm(d_chip[n])) / nf if nf > 0 else float("nan")
        out[n] = row
    return out
