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


class StdpCarry(NamedTuple):
    """What an on-chip STDP run hands to the next one (``RunResult.meta['learn_state']``): the engine state
    (weights, tags, traces, step count: lava's random streams continue from it), the neurons' last y1, the
    host's reward baseline and the state of the neurons' trace-rounding generator (numpy's PCG64 state
    dict), so that a run split into chunks equals the run in one piece."""

    engine: sf.EngineState
    y1: np.ndarray
    baseline: float
    rng_state: dict


class StdpRun(NamedTuple):
    w_in: np.ndarray          # final W_in mantissas [n_rec, n_in]
    rewards: np.ndarray       # [n_trials] 1 right / 0 wrong (R-STDP), empty for STDP
    accuracy: float           # mean reward over the run (R-STDP)
    events: dict              # trace updates, reward broadcasts, weight writes
    counts: object = None     # EventCounts of the whole run: the trials' inference events (with the weights
                              # of each trial) + the engine's trace updates, weight writes and reward messages
                              # (one per recurrent neuron per reward broadcast), priced by neurochip.cost
    carry: StdpCarry | None = None      # state to continue from (`run_onchip(..., state=carry)`)
    spikes: np.ndarray | None = None    # [N, T, n_rec] uint8, each trial with the weights it ran with
    outputs: np.ndarray | None = None   # [N, T, n_out] float64 readout (dequantised)


def run_onchip(compiled, low, x: np.ndarray, labels: np.ndarray | None = None, mask: np.ndarray | None = None, *,
               seed: int = 0, baseline0: float = 0.5, state: StdpCarry | None = None) -> StdpRun:
    """Learn W_in on chip over trials ``x`` [N, T, n_in] (see the module docstring). ``low`` is a
    `compiler.lower_stdp.StdpLowering`; R-STDP (3-factor) needs ``labels`` [N] and the decision ``mask``
    [N, T]. ``state``: a previous run's ``carry`` to continue from (its weights replace the compiled W_in and
    its generator state ``seed``): a run split into chunks equals the run in one piece.
    Returns the final W_in mantissas, the per-trial rewards, the carry and each trial's spikes and outputs."""
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
    rng = np.random.default_rng(seed)
    if state is None:
        state = StdpCarry(sf.init_state(np.asarray(compiled.w_in, np.int64)), np.zeros(compiled.n_rec, np.int64),
                          float(baseline0), rng.bit_generator.state)
    rng.bit_generator.state = state.rng_state
    st = state.engine
    rnd = sf.draws(eng.rng_seed, st.step + N * steps_per_trial)   # lava's streams from step 0, continued
    imp_i, imp_f = sf.split_impulse(low.impulse)
    lam = float(np.exp(-1.0 / low.tau_minus))
    y1 = np.asarray(state.y1, np.int64).copy()
    b = float(state.baseline)
    rewards = []
    ev = {"trace_updates": 0, "reward_broadcasts": 0, "weight_writes": 0, "learning_epochs": 0}
    cur = dataclasses.replace(compiled, w_in=st.W.astype(np.asarray(compiled.w_in).dtype))
    total = None
    spikes = np.zeros((N, T, compiled.n_rec), np.uint8)
    outputs = np.zeros((N, T, compiled.n_out), np.float64)
    for k in range(N):
        z, y, _, ck = run_fixed(cur, x[k:k + 1], ("spikes", "outputs"))
        total = ck if total is None else total + ck
        spikes[k] = z[0]
        outputs[k] = np.asarray(y[0], np.float64) / float(compiled.scale_out) + np.asarray(compiled.b_out)[None, :]
        z = np.asarray(z[0], np.int64)
        pre = np.asarray(x[k], np.int64)
        yin = None
        if three:
            yv = _post_trace(z, y1, lam, int(imp_i), int(imp_f), rng.random(T), rng.integers(0, 256, T))
            y1 = yv[-1].copy()
            m = np.asarray(mask[k], bool)
            pred = int(np.argmax(outputs[k][m].mean(0)))     # the host's decision on the dequantised readout
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
        w_before = st.W
        st, _ = sf.run_engine(eng, st, pre, z, yin, rnd)
        ev["trace_updates"] += int(pre.sum() + z.sum())
        ev["learning_epochs"] += pre.shape[0] // eng.t_epoch
        ev["weight_writes"] += int((st.W != w_before).sum())
        cur = dataclasses.replace(cur, w_in=st.W.astype(np.asarray(compiled.w_in).dtype))
    r = np.asarray(rewards)
    if total is not None:
        total = dataclasses.replace(total, trace_updates=int(total.trace_updates) + ev["trace_updates"],
                                    weight_updates=int(total.weight_updates) + ev["weight_writes"],
                                    learning_signal_msgs=int(total.learning_signal_msgs)
                                    + ev["reward_broadcasts"] * int(compiled.n_rec))
    return StdpRun(w_in=st.W, rewards=r, accuracy=float(r.mean()) if r.size else float("nan"), events=ev,
                   counts=total, carry=StdpCarry(st, y1, b, rng.bit_generator.state), spikes=spikes, outputs=outputs)


def trial_labels(targets, N: int, T: int):
    """(labels [N], mask [N, T]) of a learning run's targets (a `Batch`-like object or dict with class labels
    ``target`` [N, T] and ``mask``): each trial's label is its target at the first masked step. None for
    both without targets (2-factor STDP needs none)."""
    if targets is None:
        return None, None
    get = targets.get if isinstance(targets, dict) else (lambda k, d=None: getattr(targets, k, d))
    tg, mask = get("target"), get("mask")
    if tg is None or mask is None:
        raise ConfigError("R-STDP on chip needs targets with class labels 'target' [N, T] and a decision 'mask' [N, T]")
    tg, mask = np.asarray(tg), np.asarray(mask, bool)
    if tg.shape[:2] != (N, T) or mask.shape != (N, T) or tg.dtype.kind not in "iu":
        raise ConfigError(f"R-STDP targets must be integer class labels [N, T] = [{N}, {T}] with a mask of that shape, "
                          f"got target {list(tg.shape)} ({tg.dtype}) and mask {list(mask.shape)}")
    if not mask.any(axis=1).all():
        raise ConfigError("every R-STDP trial needs at least one decision step in its mask (the reward is given there)")
    first = mask.argmax(axis=1)
    return tg[np.arange(N), first].astype(np.int64), mask


def run_learning(compiled, x, targets=None, *, record=("spikes", "outputs"), seed: int = 0, epochs: int = 1,
                 state: StdpCarry | None = None):
    """``backends.native.run(compiled, x, learn=True, ...)`` for an artifact with a plasticity rule
    (``compiled.plasticity``): the saved lowering, then `run_onchip` over ``epochs`` passes of the trials
    (one weight write-back per trial, as on the chip; ``batch_size`` does not apply). Returns a `RunResult`
    with the learnt W_in (``weights``), each trial's spikes / outputs, and in meta the carry
    (``learn_state``), the rewards and the engine events."""
    from ..backend_contract import RunResult
    from ..compiler.lower_stdp import lowering_from_settings
    low = lowering_from_settings(compiled.plasticity)
    x = np.asarray(x)
    N, T = x.shape[0], x.shape[1]
    labels, mask = trial_labels(targets, N, T)
    if low.engine.three_factor and labels is None:
        raise ConfigError("R-STDP on chip needs targets (class labels and a decision mask): the reward is computed "
                          "from them")
    if int(epochs) < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}")
    runs = []
    carry = state
    for ep in range(int(epochs)):
        r = run_onchip(compiled, low, x, labels, mask, seed=int(seed), state=carry)
        carry = r.carry
        runs.append(r)
    counts = runs[0].counts
    for r in runs[1:]:
        counts = counts + r.counts
    last = runs[-1]
    w_in = last.w_in.astype(np.asarray(compiled.w_in).dtype)
    rewards = np.concatenate([r.rewards for r in runs])
    events = {k: sum(r.events[k] for r in runs) for k in runs[0].events}
    meta = {"learn_state": carry, "rewards": rewards, "events": events, "plasticity": compiled.plasticity["rule"],
            "epochs": [{"reward": float(r.accuracy)} if r.rewards.size else {} for r in runs]}
    return RunResult(spikes=last.spikes, outputs=last.outputs, counts=counts, backend="native",
                     weights={"w_in": w_in, "w_rec": compiled.w_rec, "w_out": compiled.w_out},
                     weight_updates={"w_in": (w_in.astype(np.int64) - np.asarray(compiled.w_in, np.int64))},
                     meta=meta)


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
