"""On-chip STDP / reward-modulated STDP on the native backend: the compiled network's fixed-point
forward (`backends.native.run_fixed`) plus Loihi's sum-of-products learning engine on W_in
(`kernels.stdp_fixed`, bit-exact with lava's LearningDense; lowering: `compiler.lower_stdp`).

Trials run one after another, as on the chip:
  * the network runs a trial with the current W_in (mantissas, exponent e_in);
  * the engine then replays the trial's spikes step by step (pre = input spikes, BAP = the network's
    spikes, 3-factor: y1 = the post trace the neuron computes, 7 bits, stochastic rounding), and for
    R-STDP one more "reward step" follows with no spike, in which y2 / y3 carry the reward code
    127 * max(0, +-(R - b)) (R = 1 for a right decision, else 0; b = the reward prediction, a running
    mean b <- b + (R - b) / 8 kept by the host that computes the reward);
  * the learnt W_in is written back for the next trial.
For R-STDP this is exactly the chip: dw = t (y2 - y3) is 0 except at the reward step (the accumulator
holds W << 7 exactly, so rounding leaves W unchanged), so W_in does not move during a trial. For plain
STDP the chip changes W_in every epoch inside the trial; here the new weights reach the network's
dynamics at the next trial (the engine's arithmetic itself is the chip's).
The engine's state (traces, tag, random streams) carries over from trial to trial.
"""
from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ..errors import ConfigError
from ..kernels import stdp_fixed as sf


@njit(cache=True)
def _post_trace(z, y0, lam, imp_int, imp_frac, r_decay, r_imp):
    """y1 [T, n] of the neuron: floor(lam y) + (r < frac) per step, then + impulse at a spike (7 bits)."""
    T, N = z.shape
    out = np.zeros((T, N), np.int64)
    y = y0.copy()
    for t in range(T):
        for n in range(N):
            ip = lam * y[n]
            fl = math.floor(ip)
            v = int(fl) + (1 if r_decay[t] < ip - fl else 0)
            if z[t, n]:
                v = v + imp_int + (1 if r_imp[t] < imp_frac else 0)
                v = min(max(v, 0), 127)
            y[n] = v
            out[t, n] = v
    return out


class StdpRun(NamedTuple):
    w_in: np.ndarray          # final W_in mantissas [n_rec, n_in]
    rewards: np.ndarray       # [n_trials] 1 right / 0 wrong (R-STDP), empty for STDP
    accuracy: float           # mean reward over the run (R-STDP)
    events: dict              # trace updates, reward broadcasts, weight writes
    counts: object = None     # EventCounts of the whole run: the trials' inference events (with the weights
                              # of each trial) + the engine's trace updates, weight writes and reward messages
                              # (one per recurrent neuron per reward broadcast), priced by neurochip.cost


def run_onchip(compiled, low, x: np.ndarray, labels: np.ndarray | None = None, mask: np.ndarray | None = None, *,
               seed: int = 0, baseline0: float = 0.5) -> StdpRun:
    """Learn W_in on chip over trials ``x`` [N, T, n_in] (see the module docstring). ``low`` is a
    `compiler.lower_stdp.StdpLowering`; R-STDP (3-factor) needs ``labels`` [N] and the decision ``mask``
    [N, T]. Returns the final W_in mantissas and the per-trial rewards."""
    from .native import run_fixed
    eng = low.engine
    three = bool(eng.three_factor)
    x = np.asarray(x)
    N, T, n_in = x.shape
    if (compiled.n_in, compiled.n_rec) != (n_in, compiled.w_in.shape[0]) or n_in != compiled.w_in.shape[1]:
        raise ConfigError(f"inputs have n_in={n_in}, the compiled network {compiled.n_in}")
    if three and (labels is None or mask is None):
        raise ConfigError("R-STDP on chip needs the trial labels and decision mask (the reward is computed from them)")
    steps_per_trial = T + (1 if three else 0)
    rnd = sf.draws(eng.rng_seed, N * steps_per_trial)
    rng = np.random.default_rng(seed)
    state = sf.init_state(np.asarray(compiled.w_in, np.int64))
    imp_i, imp_f = sf.split_impulse(low.impulse)
    lam = float(np.exp(-1.0 / low.tau_minus))
    y1 = np.zeros(compiled.n_rec, np.int64)
    b = float(baseline0)
    rewards = []
    ev = {"trace_updates": 0, "reward_broadcasts": 0, "weight_writes": 0, "learning_epochs": 0}
    cur = compiled
    total = None
    for k in range(N):
        z, y, _, ck = run_fixed(cur, x[k:k + 1], ("spikes", "outputs"))
        total = ck if total is None else total + ck
        z = np.asarray(z[0], np.int64)
        pre = np.asarray(x[k], np.int64)
        yin = None
        if three:
            yv = _post_trace(z, y1, lam, int(imp_i), int(imp_f), rng.random(T), rng.integers(0, 256, T))
            y1 = yv[-1].copy()
            m = np.asarray(mask[k], bool)
            pred = int(np.argmax(np.asarray(y[0])[m].mean(0)))
            R = float(pred == int(labels[k]))
            rewards.append(R)
            code = int(round(low.reward_scale * min(1.0, abs(R - b))))
            pre = np.vstack([pre, np.zeros((1, n_in), np.int64)])
            z = np.vstack([z, np.zeros((1, compiled.n_rec), np.int64)])
            yin = np.zeros((T + 1, 3, compiled.n_rec), np.int64)
            yin[:T, 0] = yv
            yin[T, 0] = yv[-1]
            yin[T, 1 if R >= b else 2] = code
            b += (R - b) / 8.0
            ev["reward_broadcasts"] += 1
        w_before = state.W
        state, _ = sf.run_engine(eng, state, pre, z, yin, rnd)
        ev["trace_updates"] += int(pre.sum() + z.sum())
        ev["learning_epochs"] += pre.shape[0] // eng.t_epoch
        ev["weight_writes"] += int((state.W != w_before).sum())
        cur = dataclasses.replace(cur, w_in=state.W.astype(np.asarray(compiled.w_in).dtype))
    r = np.asarray(rewards)
    if total is not None:
        total = dataclasses.replace(total, trace_updates=int(total.trace_updates) + ev["trace_updates"],
                                    weight_updates=int(total.weight_updates) + ev["weight_writes"],
                                    learning_signal_msgs=int(total.learning_signal_msgs)
                                    + ev["reward_broadcasts"] * int(compiled.n_rec))
    return StdpRun(w_in=state.W, rewards=r, accuracy=float(r.mean()) if r.size else float("nan"), events=ev,
                   counts=total)


def evaluate_onchip(compiled, w_in: np.ndarray, batch) -> float:
    """Held-out accuracy of the compiled network with W_in mantissas ``w_in`` (fixed-point forward)."""
    from .native import run_fixed
    c = dataclasses.replace(compiled, w_in=np.asarray(w_in).astype(np.asarray(compiled.w_in).dtype))
    _, y, _, _ = run_fixed(c, batch.x, ("spikes", "outputs"))
    right = []
    for k in range(batch.x.shape[0]):
        m = np.asarray(batch.mask[k], bool)
        right.append(int(np.argmax(np.asarray(y[k])[m].mean(0))) == int(batch.target[k][m][0]))
    return float(np.mean(right))
