"""numpy emulation of lava-nc 0.10's fixed-point learning engine for the 3-factor e-prop form.

What lava's `LearningDense` + `Loihi3FLearningRule("2^e * u0 * x1 * y2 * y3", t_epoch=1)` computes
(``PyLearningDenseModelBitApproximate`` / ``LearningConnectionModelBitApproximate``, read in the
installed sources), together with the neuron side (our `EpropNeuron` lava model: the fixed-point
neuron of docs/fixed_point.md that sends y2 = learning-signal code and y3 = pseudo-derivative code),
so the lava run and this emulation can be compared bit for bit. Only the input projection learns.

Per chip step s = 1, 2, ... (lava's order):
  Dense part: a_buff <- floor-shift(sum of W[:, spiking pre], e_in) with the weights BEFORE this
      step's update (sent to the neuron at s + 1).
  Random draws: four scalar generators (x decay, x impulse, y decay, y impulse; numpy default_rng
      seeded rng_seed .. rng_seed + 3), each advanced twice per step; one more (seed 2, fixed in lava)
      for the weight rounding, advanced once per step. One draw serves the whole matrix.
  Post values: y1 = 0, y2, y3 overwritten with the received codes (no back-propagated spike is sent,
      so they are never clipped to [0, 127]).
  Traces: x1 <- floor(e^{-1/tau} x1) + (r_xd < frac), then + impulse on pre spikes:
      x1 + floor(imp) + (r_xi < round(frac(imp) * 256)), clipped to [0, 127] (r_xi is an integer in
      [0, 128), as lava draws it). y2, y3 pass the 3F decay with tau = 65535 (stochastic, r_yd).
  Weights: acc = W << 7; P = (x1 * y2 * y3 * m) >> 10 (floor: 7+7+7+4 bits - 15) << (e + 7);
      P and acc + P clipped to [-2^15 - 1, 2^15 - 1]; acc rounded stochastically to a multiple of 2^7
      with r_c; W = clip(acc >> 7, -256, 255).
"""
from __future__ import annotations

import math

import numpy as np

W_TRACE_MAX = 127
ACC_MAX = (1 << 15) - 1
ACC_MIN = -(1 << 15) - 1          # lava's clip bound (one below the symmetric -2^15 + 1)
Y_TAU_3F = 65535


def trunc0_shift(x: np.ndarray, k: int) -> np.ndarray:
    """sign(x) * (|x| >> k): Loihi's decays round toward zero."""
    return np.sign(x) * (np.abs(x) >> k)


def wrap32(x: np.ndarray) -> np.ndarray:
    """The value an int32 register keeps of int64 ``x`` (two's complement): lava's LIF holds u, v and
    their sums in int32 numpy arrays."""
    return np.asarray(x, np.int64).astype(np.int32).astype(np.int64)


def neuron_step(u, v, a, r, zp, a_in, bias, beta_mant, p: dict):
    """One step of docs/fixed_point.md's recurrent neuron (int64 arrays, returned new), with lava's
    register semantics (docs/fixed_point.md "Registers", overflow = 'lava'): the u and v sums wrap to
    int32, u then takes lava's single wrap at 24 bits, v saturates at 24 bits.

    p: du, dv, da, vth, beta_shift, a_inc, n_ref, reset_subtract. Returns (u, v, a, r, z, v_pre, A, refr):
    v_pre is v before a reset to zero, A the adaptive threshold, refr the refractory mask of this step.
    """
    H = 1 << 23                                                   # 24-bit u, v registers
    vth_eff = p["vth"] << 6                                       # threshold MSB-aligned by 6 bits
    u = trunc0_shift(u * (4096 - (p["du"] + 1)), 12) + (a_in << 6)
    u = wrap32(u)                                                 # lava sums u in int32
    u = np.where(u > H, u - 2 * H, np.where(u <= -H, u + 2 * H, u))      # lava's single wrap
    reset = vth_eff * zp if p["reset_subtract"] else 0
    v = wrap32(trunc0_shift(v * (4096 - p["dv"]), 12) + u + bias - reset)   # lava sums v in int32
    v = np.clip(v, -(H - 1), H - 1)                               # then saturates v at 24 bits
    a = trunc0_shift(a * (4096 - p["da"]), 12) + p["a_inc"] * zp
    A = vth_eff + ((beta_mant * a) >> p["beta_shift"])
    refr = r > 0
    z = ((v > A) & ~refr).astype(np.int64)
    r = np.clip(r + p["n_ref"] * z - 1, 0, p["n_ref"])
    v_pre = v
    if not p["reset_subtract"]:
        v = np.where(z == 1, 0, v)
    return u, v, a, r, z, v_pre, A, refr


def psi_code(v_pre, A, refr, vth: int) -> np.ndarray:
    """Pseudo-derivative as a 7-bit code: 127 * max(0, vth_eff - |v - A|) // vth_eff, 0 while refractory
    (the float psi = gamma/v_th max(0, 1 - |v - A|/v_th) up to the constant gamma/v_th)."""
    vth_eff = max(1, vth << 6)
    return np.where(refr, 0, (np.maximum(0, vth_eff - np.abs(v_pre - A)) * W_TRACE_MAX) // vth_eff)


def _floor_shift(x, e: int):
    return x << e if e >= 0 else x >> (-e)


def _stoch(values, rand, prob):
    # lava.magma.core.learning.utils.stochastic_round
    return (values + (rand < prob).astype(int)).astype(int)


def _decay(x, tau, rand):
    # LearningConnectionModelBitApproximate._decay_trace with t = 1 (same numpy expressions)
    ip = np.exp(-1 / np.asarray([[tau]])) * x
    frac = ip % 1
    return _stoch(np.floor(ip), rand, frac)


class _Rand:
    """lava's TraceRandom: one scalar draw per generator, redrawn at every advance()."""

    def __init__(self, seed: int):
        self.rd = np.random.default_rng(seed=seed)
        self.ri = np.random.default_rng(seed=seed + 1)
        self.decay = self.rd.random(1)[0]
        self.imp = self.ri.integers(0, 2 ** 7, size=1, dtype=int)[0]

    def advance(self):
        self.decay = self.rd.random(1)[0]
        self.imp = self.ri.integers(0, 2 ** 7, size=1, dtype=int)[0]


def _learn(W, pre_trace, y, exp, rc):
    """One learning-phase weight update of lava's engine (product, shifts, clips, stochastic rounding)."""
    f = [np.clip(t, -(1 << 7), (1 << 7) - 1) for t in (pre_trace[None, :], y[1][:, None], y[2][:, None])]
    P = np.ones(W.shape, np.int32) * f[0].astype(np.int32) * f[1].astype(np.int32) * f[2].astype(np.int32)
    P = np.left_shift(np.right_shift(P, 7 + 7 + 7 + 4 - 15), exp + 7)    # 25-bit product back to 15 bits
    P = np.clip(P, ACC_MIN, ACC_MAX)
    acc = np.clip((W.astype(np.int32) << 7) + P, ACC_MIN, ACC_MAX)      # weight in the 16-bit accumulator
    q = acc / 128
    acc = _stoch(np.floor(q), rc, q % 1) * 128
    return np.clip(acc.astype(np.int64) >> 7, -256, 255)               # MIXED sign mode, 8 bits + sign


def _trace(x1, spiked, tau, rnd: "_Rand", imp_int, imp_frac):
    x1 = _decay(x1[None, :], tau, rnd.decay)[0]
    x1[spiked] = np.clip(_stoch(x1[spiked] + imp_int, rnd.imp, imp_frac), 0, W_TRACE_MAX)
    return x1


def emulate_eprop3f(arr: dict, prm: dict, x: np.ndarray, l_code: np.ndarray, *, exp: int, x1_impulse: float,
                    x1_tau: int, rng_seed: int, learn_rec: bool = False) -> dict:
    """Emulate the lava 3-factor learning run (see the module docstring).

    arr: w_in [n_rec, n_in], w_rec (masked) [n_rec, n_rec], bias_mant, beta_mant (int arrays);
    prm: e_in, e_rec, bias_exp, du, dv, da, vth, beta_shift, a_inc, n_ref, reset_subtract;
    x [steps, n_in] 0/1 chip-step input columns (column s-1 is sent at chip step s);
    l_code [steps, n_rec] int: y2 code delivered at chip step s (clipped to [-127, 127]).
    exp: the rule's 2^exp (mantissa 1); x1_impulse / x1_tau: lava's x1 trace parameters.
    learn_rec: also learn w_rec (lava: LearningSparse with the same rule, so only synapses that exist
        and are non-zero at the start learn: lava's weight preparation drops stored zeros). Its random
        streams use the same seeds as the input projection's, hence the same draws.
    Returns {'w_in', 'w_rec': final int64 weights, 'spikes': [steps, n_rec] uint8, 'psi': [steps, n_rec] int}.
    """
    W = np.asarray(arr["w_in"], np.int64).copy()
    w_rec = np.asarray(arr["w_rec"], np.int64)
    n_rec, n_in = W.shape
    steps = x.shape[0]
    bias_full = _floor_shift(np.asarray(arr["bias_mant"], np.int64), int(prm["bias_exp"]))
    beta = np.asarray(arr["beta_mant"], np.int64)
    u = np.zeros(n_rec, np.int64); v = u.copy(); a = u.copy(); r = u.copy(); zp = u.copy()
    buf_in = np.zeros(n_rec, np.int64); buf_rec = np.zeros(n_rec, np.int64)
    x1 = np.zeros(n_in, int)
    x1r = np.zeros(n_rec, int)
    w_rec = w_rec.copy()
    active = w_rec != 0
    imp_int = int(math.floor(x1_impulse))
    imp_frac = int(np.round((x1_impulse - imp_int) * 2 ** 8))
    xr, yr = _Rand(rng_seed), _Rand(rng_seed + 2)
    cr = np.random.default_rng(seed=2)
    rc = cr.random(1)[0]
    spikes = np.zeros((steps, n_rec), np.uint8)
    psis = np.zeros((steps, n_rec), np.int64)
    for s in range(1, steps + 1):
        bias = bias_full if s > 1 else np.zeros_like(bias_full)       # bias set after chip step 1
        u, v, a, r, z, v_pre, A, refr = neuron_step(u, v, a, r, zp, buf_in + buf_rec, bias, beta, prm)
        psi = psi_code(v_pre, A, refr, int(prm["vth"]))
        y2 = np.clip(np.asarray(l_code[s - 1], np.int64), -W_TRACE_MAX, W_TRACE_MAX)
        spikes[s - 1], psis[s - 1] = z, psi
        sx = np.asarray(x[s - 1]).astype(bool)
        # Dense part with the weights before this step's learning
        buf_in = _floor_shift(W[:, sx].sum(axis=1), int(prm["e_in"]))
        buf_rec = _floor_shift(w_rec[:, z.astype(bool)].sum(axis=1), int(prm["e_rec"]))
        zp = z
        # recv_traces: randoms advanced twice; y values overwritten (y1 = 0)
        xr.advance(); yr.advance(); xr.advance(); yr.advance()
        # run_lrn
        rc = cr.random(1)[0]
        x1 = _trace(x1, sx, x1_tau, xr, imp_int, imp_frac)
        y = np.stack([np.zeros(n_rec, np.int64), y2, psi])
        y = _decay(y, Y_TAU_3F, yr.decay)
        W = _learn(W, x1, y, exp, rc)
        if learn_rec:
            x1r = _trace(x1r, z.astype(bool), x1_tau, xr, imp_int, imp_frac)
            w_rec = np.where(active, _learn(w_rec, x1r, y, exp, rc), w_rec)
    return {"w_in": W, "w_rec": w_rec, "spikes": spikes, "psi": psis}
