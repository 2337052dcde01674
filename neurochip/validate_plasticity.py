"""`neurochip validate --learn` for an STDP-family artifact (``compiled.plasticity``): the chip's W_in
change against the float rule's, given the same spikes and rewards.

The chip (Loihi's plasticity engine, `backends.native_stdp`) learns trial by trial over the batch; each
trial runs with the weights the previous trials left. The float side applies the float rule
(`neurochip.plasticity`: pair terms P / D of the trial's input and recurrent spikes, `stdp_dw`) to the
chip's own spikes of each trial, with the chip's reward and reward prediction for R-STDP (the host's
running mean b <- b + (R - b) / 8, from 0.5), so the comparison isolates the engine's arithmetic (7-bit
traces with stochastic decay, amplitudes m 2^e, the 8-bit tag, stochastic weight rounding) from the
difference between chip and float dynamics, which `validate` measures separately (spike agreement).

As e-prop's validation compares with float SGD at the rates the chip was lowered with, the float rule here
runs at the amplitudes the engine realises (3-bit mantissas: a balanced A+ = A- can become A+ != A-, and the
net change A+ P - A- D is a small difference of large terms); the cosine with the rule's own amplitudes is
reported beside it (``cosine_rule_amplitudes``). Reported like the e-prop comparison (the gate of
`neurochip.tolerances` applies unchanged): ``learning_per_projection['w_in']`` = cosine and norm ratio of
the chip's change (dequantised mantissas) with the float rule's change, fraction of synapses moved; ``cosine_eprop`` / ``update_norm_ratio`` hold the
same numbers under the names the summary tables read.
"""
from __future__ import annotations

import numpy as np

from .errors import ConfigError
from .validate import _cos


def realised_amplitudes(st: dict) -> tuple[float, float]:
    """(lr A+, lr A-) as the lowering of settings ``st`` realises them on the engine (float weight units):
    each amplitude is a 3-bit mantissa times a power of two, so A+ - A- of a balanced rule can differ much
    more from the float rule's than either amplitude does (docs/rules.md)."""
    from .compiler.lower_stdp import lowering_from_settings, stdp_unit
    low = lowering_from_settings(st)
    c = low.report
    unit = 1.0 / stdp_unit(st)                       # float amplitude of one engine amplitude unit
    if st["rule"] in ("stdp", "stdp_triplet"):
        (mp, ep), (mm, em) = c["a_plus"], c["a_minus"]
        return mp * 2.0 ** ep * unit, mm * 2.0 ** em * unit
    (mr, er), (mt, et) = c["reward"], c["a_minus_tag"]
    a_t = 2.0 ** c["tag_exp"]
    ap = mr * 2.0 ** er * low.w_lsb * a_t * low.impulse * low.reward_scale / 32.0
    return ap, ap * (mt * 2.0 ** et) / a_t


def weight_range(compiled) -> tuple[float, float]:
    """The float range of W_in the engine can hold: the sign mode's mantissa range (excitatory 0..255,
    mixed -256..255, inhibitory -256..0: lava's 8-bit weights plus sign) times the W_in LSB."""
    from .kernels import stdp_fixed as sf
    mode = int(compiled.plasticity["sign_mode"])
    lo, hi = {sf.SIGN_EXC: (0, 255), sf.SIGN_INH: (-256, 0)}.get(mode, (-256, 255))
    u = compiled.weight_lsb("w_in")
    return lo * u, hi * u


def realised_triplet(st: dict) -> tuple[float, float]:
    """(lr A3+, lr A3-) as the engine realises them for stdp_triplet (0 where the rule has none)."""
    from .compiler.lower_stdp import lowering_from_settings, triplet_unit
    c = lowering_from_settings(st).report
    return tuple(0.0 if c.get(k) is None else c[k][0] * 2.0 ** c[k][1] / triplet_unit(st) for k in ("a3_plus", "a3_minus"))


def float_change(compiled, x: np.ndarray, z: np.ndarray, rewards: np.ndarray | None, w0: np.ndarray,
                 amplitudes: tuple[float, float] | None = None, clip: tuple[float, float] | None = None,
                 a3: tuple[float, float] | None = None) -> np.ndarray:
    """The float rule's W_in change over trials x / z [N, T, .] (the chip's inputs and spikes), trial by
    trial from float weights w0 [n_rec, n_in]: stdp_dw with amplitudes (lr A+, lr A-) per trial (default:
    the rule's own; `realised_amplitudes`: the engine's), weighted for R-STDP by (R_k - b_k)
    exp(-(T - t) dt / tau_e) (the reward arrives one step after the trial's last, as on chip); ``clip``: a
    weight range applied after each trial (`weight_range`: the engine's); ``a3``: stdp_triplet's (lr A3+, lr
    A3-) (default the rule's; `realised_triplet`: the engine's)."""
    from .plasticity import pair_terms, stdp_dw
    st = compiled.plasticity
    ap, am = amplitudes or (float(st["lr"]) * st["a_plus"], float(st["lr"]) * st["a_minus"])
    N, T = x.shape[0], x.shape[1]
    dt = float(st["dt_ms"])
    w = np.asarray(w0, np.float64).copy()
    b = 0.5
    for k in range(N):
        wt = None
        if st["rule"] == "rstdp":
            R = float(rewards[k])
            wt = ((R - b) * np.exp(-(T - np.arange(T)) * dt / float(st["reward_tau_e_ms"])))[None, :]
            b += (R - b) / 8.0
        xs, zs = x[k:k + 1].astype(np.float64), z[k:k + 1].astype(np.float64)
        if st["rule"] == "stdp_triplet":
            from .plasticity import triplet_terms
            P2, P3, D2, D3 = triplet_terms(xs, zs, st["tau_plus_ms"], st["tau_minus_ms"], st["tau_x_ms"],
                                           st["tau_y_ms"], dt)
            a3p, a3m = a3 if a3 is not None else (float(st["lr"]) * st["a3_plus"], float(st["lr"]) * st["a3_minus"])
            w = w + ap * P2 + a3p * P3 - am * D2 - a3m * D3
        else:
            P, D = pair_terms(xs, zs, st["tau_plus_ms"], st["tau_minus_ms"], dt, weight=wt,
                              pairing=st.get("pairing", "all"))
            w = w + stdp_dw(w, P, D, ap, am, form=st["form"], w_min=st["w_min"], w_max=st["w_max"])
        if clip is not None:
            w = np.clip(w, clip[0], clip[1])
    return w - np.asarray(w0, np.float64)


def plasticity_learning_metrics(compiled, batch, backend_mod, seed: int, *, epochs: int = 1) -> tuple[dict, dict]:
    """(metrics, plot data) of one on-chip learning pass over ``batch`` (see the module docstring)."""
    from .validate import dequantize
    if int(epochs) != 1:
        raise ConfigError(f"validate --learn of a plasticity rule compares one pass over the trials; got {epochs} epochs")
    st = compiled.plasticity
    r = backend_mod.run(compiled, batch.x, learn=True, targets=batch, seed=seed)
    start = dequantize(compiled, "w_in", compiled.w_in)
    d_chip = dequantize(compiled, "w_in", r.weights["w_in"]) - start
    rewards = np.asarray(r.meta.get("rewards", []), np.float64)
    x, z = np.asarray(batch.x), np.asarray(r.spikes)
    amp = realised_amplitudes(st)
    a3 = realised_triplet(st) if st["rule"] == "stdp_triplet" else None
    d_ref = float_change(compiled, x, z, rewards, start, amp, weight_range(compiled), a3)
    d_spec = float_change(compiled, x, z, rewards, start, None, weight_range(compiled))   # the rule's own amplitudes
    nc, nf = float(np.linalg.norm(d_chip)), float(np.linalg.norm(d_ref))
    label = (f"{st['rule']} (float, the engine's amplitudes, the chip's spikes"
             + (" and rewards)" if st["rule"] == "rstdp" else ")"))
    per = {"w_in": {"cosine": _cos(d_chip.ravel(), d_ref.ravel()), "norm_ratio": nc / nf if nf > 0 else float("nan"),
                    "chip_norm": nc, "float_norm": nf,
                    "cosine_rule_amplitudes": _cos(d_chip.ravel(), d_spec.ravel()),
                    "amplitudes_rule": [float(st["lr"]) * st["a_plus"], float(st["lr"]) * st["a_minus"]],
                    "amplitudes_engine": list(amp),
                    "moved_fraction": float(np.mean(np.asarray(r.weights["w_in"]) != np.asarray(compiled.w_in))),
                    "float_rule": label, "lr": float(st["lr"])}}
    N = int(batch.x.shape[0])
    m = {"cosine_eprop": per["w_in"]["cosine"], "cosine_eprop_min": per["w_in"]["cosine"],
         "update_norm_ratio": per["w_in"]["norm_ratio"], "learning_per_projection": per,
         "learning_batch_size": 1, "learning_epochs": 1, "learning_applications": N, "learning_trials": N,
         "learning_rewards": float(rewards.mean()) if rewards.size else None,
         "learning_note": (f"chip: plasticity engine ({st['rule']} on W_in), weights written back after each of {N} "
                           f"trials; float: the {st['rule']} rule at the amplitudes the engine realises (lr A+, lr A- = "
                           f"{amp[0]:.3g}, {amp[1]:.3g}; the rule's own: {float(st['lr']) * st['a_plus']:.3g}, "
                           f"{float(st['lr']) * st['a_minus']:.3g}) on the chip's spikes of each trial"
                           + (" with its rewards and reward prediction" if st["rule"] == "rstdp" else "")
                           + ", float weights updated after each")}
    return m, {"d_chip": d_chip.ravel(), "d_ep": d_ref.ravel()}
