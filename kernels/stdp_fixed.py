"""Fixed-point sum-of-products learning engine: lava-nc 0.10's `LearningDense` arithmetic, bit for bit.

What ``PyLearningDenseModelBitApproximate`` (``LearningConnectionModelBitApproximate`` +
``LearningRuleApplierBitApprox``, read in the installed lava-nc 0.10 sources) does to one dense
[n_post, n_pre] synapse matrix, for the rules STDP and reward-modulated STDP need:

    dZ = sum_p  dep_p * m_p * 2^e_p * prod_k f_pk        Z in {weights 'w', tag_2 'd', tag_1 't'}

Per chip step s = 1, 2, ... (lava's order; the random draws are replayed from numpy's default_rng
exactly as lava calls it, see `draws`):
  1. (s == 1) weights truncated once: MIXED sign mode drops the LSB ((w >> 1) << 1).
  2. pre spikes: a second spike in the same epoch adds the x impulses at once, rounded up when the
     impulse has a fraction (lava passes random 0); tx[spiked] = within-epoch index (1..t_epoch).
  3. X and Y trace generators advance; post BAP: y0 set, a second BAP in the epoch adds the y
     impulses (rounded with the Y impulse draw); ty[bap] = index. 3-factor: y1, y2, y3 are then
     overwritten by the values the neuron sent. X and Y generators advance again.
  4. if s % t_epoch == 0 (learning phase): the weight-rounding generator advances; the epoch is
     replayed k = 1..t_epoch for every trace: decay v <- floor(v e^{-1/tau}) + (r_d < frac) (tau = 0:
     v <- 0), then at spike time k: v <- clip(v + imp_int + (r_i < imp_frac), 0, 127); x traces (and
     y traces for 2-factor rules) keep the epoch's last value. Each product is formed at full width:
     P = dep * prod_k clip(f_k + c_k, -2^w_k, 2^w_k - 1) * m, shifted right (floor) by
     max(0, sum_k w_k + 4 - 15) and left by e + 7, clipped to [-2^15 - 1, 2^15 - 1] and added to the
     accumulator Z << 7 (clipped after every product). Every target reads the synaptic variables of
     BEFORE this phase. Weights: EXCITATORY -> max(0, .), INHIBITORY -> min(0, .); tag_2 -> max(0, .).
     Then stochastic rounding with ONE draw r_c for the whole matrix: q = acc / 2^7,
     Z = floor(q) + (r_c < frac(q)), and saturation: weights 8 bits per sign mode (MIXED -256..255),
     tag_2 0..255, tag_1 -257..255. Dependencies and spike times are reset.

Widths (lava constants.py): traces 7 bits (0..127), impulses integer + 8-bit fraction, x0/y0 1 bit,
w/d/t 9 bits (8 + sign), constants 8 bits, scaling mantissa 4 bits, accumulator 15 bits + sign.

Trace factors are sampled at the pre spike time (x0 products), the post spike time (y0 products) or
the end of the epoch (u products). ``u`` is 1 on epochs whose index is a multiple of 2^k.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

W_TRACE_MAX = 127                     # traces: 7-bit unsigned
ACC_MAX = (1 << 15) - 1               # 16-bit signed accumulator (15 + sign)
ACC_MIN = -(1 << 15) - 1              # lava's clip bound (one below the symmetric -2^15 + 1)
SYN_SHIFT = 7                         # accumulator = synaptic variable << (16 - 9): 7 fraction bits
W_S_MANT = 4                          # scaling mantissa width, counted in the product's width
W_ACC_U = 15
# factor codes: traces, synaptic variables, constant, dependencies used as factors
X1, X2, Y1, Y2, Y3, FW, FD, FT, FC, FX0, FY0 = range(11)
FACTOR_WIDTH = np.array([7, 7, 7, 7, 7, 9, 9, 9, 8, 1, 1], np.int64)
TARGETS = ("weights", "tag_2", "tag_1")
DEP_X0, DEP_Y0, DEP_U = 0, 1, 2
SIGN_MIXED, SIGN_EXC, SIGN_INH = 0, 1, 2
MAX_FACTORS = 4


class EngineRule(NamedTuple):
    """A lowered sum-of-products rule (all arrays int64 / float64; see module docstring).

    three_factor: 1 = y1..y3 come from the neuron every step (Loihi3FLearningRule), 0 = 2-factor
    t_epoch:      epoch length in steps (1..63)
    x_imp_int/x_imp_frac [2], y_imp_int/y_imp_frac [3]: impulse integer part and 8-bit fraction
    x_decay [2], y_decay [3]: e^{-1/tau} computed by numpy exactly as lava does (0 where tau = 0)
    x_tau0 [2], y_tau0 [3]: 1 where tau = 0 (the trace keeps nothing across steps)
    decim:        k of u_k (u = 1 every 2^k epochs), -1 if the rule has no u product
    p_target [P] (0 w, 1 tag_2, 2 tag_1), p_dep [P] (0 x0, 1 y0, 2 u), p_mant [P] (4-bit signed),
    p_lshift [P] = e + 7, p_rshift [P] = max(0, sum widths + 4 - 15)
    f_var / f_const / f_sgn [P, MAX_FACTORS]: factor code (-1 = none), constant added, sgn() flag
    sign_mode:    0 MIXED, 1 EXCITATORY, 2 INHIBITORY
    rng_seed:     lava's rule.rng_seed (X draws seed, seed + 1; Y draws seed + 2, seed + 3)
    """

    three_factor: int
    t_epoch: int
    x_imp_int: np.ndarray
    x_imp_frac: np.ndarray
    y_imp_int: np.ndarray
    y_imp_frac: np.ndarray
    x_decay: np.ndarray
    y_decay: np.ndarray
    x_tau0: np.ndarray
    y_tau0: np.ndarray
    decim: int
    p_target: np.ndarray
    p_dep: np.ndarray
    p_mant: np.ndarray
    p_lshift: np.ndarray
    p_rshift: np.ndarray
    f_var: np.ndarray
    f_const: np.ndarray
    f_sgn: np.ndarray
    sign_mode: int
    rng_seed: int


def split_impulse(imp) -> tuple[np.ndarray, np.ndarray]:
    """lava's _decompose_impulses: integer part and round(fraction * 2^8) (8 fraction bits)."""
    imp = np.asarray(imp, dtype=np.float64)
    i = np.floor(imp)
    return i.astype(np.int64), np.round((imp - i) * 2 ** 8).astype(np.int64)


def decay_factors(taus) -> np.ndarray:
    """e^{-1/tau} with numpy's exp (the same float64 lava multiplies by); 0 where tau = 0."""
    t = np.asarray(taus, dtype=np.int64)
    out = np.zeros(t.shape)
    nz = t != 0
    out[nz] = np.exp(-1 / t[nz][:, None])[:, 0]      # lava: np.exp(-t / taus) with taus [[tau]]
    return out


def draws(rng_seed: int, n_steps: int) -> dict[str, np.ndarray]:
    """Replay lava's random streams for ``n_steps`` chip steps (one learning phase per step at most).

    Each TraceRandom holds one scalar decay draw (``.random(1)``) and one impulse draw
    (``.integers(0, 128, size=1)``), redrawn at every advance (twice per step); the weight-rounding
    generator (seed 2, fixed in lava) draws once at init and once per learning phase. The calls are
    made one by one, as lava makes them (batched calls would not give the same integers).
    Index 2s is the value after step s; index 2s - 1 is the value between the two advances of step s.
    """
    out = {}
    for name, seed in (("x", rng_seed), ("y", rng_seed + 2)):
        rd = np.random.default_rng(seed=seed)
        ri = np.random.default_rng(seed=seed + 1)
        d = np.empty(2 * n_steps + 1)
        i = np.empty(2 * n_steps + 1, np.int64)
        for k in range(2 * n_steps + 1):
            d[k] = rd.random(1)[0]
            i[k] = ri.integers(0, 2 ** 7, size=1, dtype=int)[0]
        out[name + "_decay"], out[name + "_imp"] = d, i
    rc = np.random.default_rng(seed=2)
    out["c"] = np.array([rc.random(1)[0] for _ in range(n_steps + 1)])
    return out


@njit(cache=True)
def _clip(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


@njit(cache=True)
def _add_impulse(v, r, imp_int, imp_frac):
    # lava _add_impulse: v + int part, stochastic round-up with the integer draw r in [0, 128) against
    # the 8-bit fraction (as lava compares them), then clip to the 7-bit trace range
    v = v + imp_int + (1 if r < imp_frac else 0)
    return _clip(v, 0, W_TRACE_MAX)


@njit(cache=True)
def _decay(v, f, r):
    # lava _decay_trace: ip = e^{-1/tau} * v (float64), frac = ip % 1, floor + (r < frac)
    ip = f * v
    fl = np.floor(ip)
    frac = ip - fl                     # == ip % 1 (numpy's remainder) for every double: exact
    return int(fl) + (1 if r < frac else 0)


@njit(cache=True)
def _history(tr, tau0, decay, imp_int, imp_frac, tspk, t_epoch, r_d, r_i, hist):
    """hist[k, m, n]: trace m of neuron n after within-epoch step k (k = 0: start of the epoch)."""
    M, N = tr.shape
    for m in range(M):
        for n in range(N):
            hist[0, m, n] = tr[m, n]
    for k in range(1, t_epoch + 1):
        for m in range(M):
            for n in range(N):
                v = 0 if tau0[m] else _decay(hist[k - 1, m, n], decay[m], r_d)
                if tspk[n] == k:
                    v = _add_impulse(v, r_i, imp_int[m], imp_frac[m])
                hist[k, m, n] = v


@njit(cache=True)
def _factor(code, const, sgn, dep, i, j, xh, yh, tx, ty, t_ep, x0, y0, W, D, T):
    if code <= X2:
        k = tx[j] if dep == DEP_X0 else (ty[i] if dep == DEP_Y0 else t_ep)
        v = xh[k, code, j] + const
    elif code <= Y3:
        k = tx[j] if dep == DEP_X0 else (ty[i] if dep == DEP_Y0 else t_ep)
        v = yh[k, code - Y1, i] + const
    elif code == FW:
        v = W[i, j] + const
    elif code == FD:
        v = D[i, j] + const
    elif code == FT:
        v = T[i, j] + const
    elif code == FC:
        v = const
    elif code == FX0:
        v = x0[j] + const
    else:
        v = y0[i] + const
    if sgn:
        v = 1 if v > 0 else (-1 if v < 0 else 0)
    w = FACTOR_WIDTH[code]
    return _clip(v, -(1 << w), (1 << w) - 1)


@njit(cache=True)
def _learn(W, D, T, xh, yh, tx, ty, t_epoch, u, rc, p_target, p_dep, p_mant, p_lshift, p_rshift,
           f_var, f_const, f_sgn, sign_mode):
    n_post, n_pre = W.shape
    P = p_target.shape[0]
    x0 = np.zeros(n_pre, np.int64)
    y0 = np.zeros(n_post, np.int64)
    for j in range(n_pre):
        x0[j] = 1 if tx[j] > 0 else 0
    for i in range(n_post):
        y0[i] = 1 if ty[i] > 0 else 0
    Wn = W.copy()
    Dn = D.copy()
    Tn = T.copy()
    active = np.zeros(3, np.bool_)
    for p in range(P):
        active[p_target[p]] = True
    for i in range(n_post):
        for j in range(n_pre):
            for tgt in range(3):
                if not active[tgt]:
                    continue
                old = W[i, j] if tgt == 0 else (D[i, j] if tgt == 1 else T[i, j])
                acc = old << SYN_SHIFT            # 7 fraction bits in the 16-bit accumulator
                for p in range(P):
                    if p_target[p] != tgt:
                        continue
                    d = p_dep[p]
                    dv = x0[j] if d == DEP_X0 else (y0[i] if d == DEP_Y0 else u)
                    prod = dv
                    for k in range(f_var.shape[1]):
                        c = f_var[p, k]
                        if c < 0:
                            continue
                        prod *= _factor(c, f_const[p, k], f_sgn[p, k], d, i, j, xh, yh, tx, ty, t_epoch,
                                        x0, y0, W, D, T)
                    prod *= p_mant[p]
                    prod = (prod >> p_rshift[p]) << p_lshift[p]   # floor back to 15 bits, then 2^(e+7)
                    prod = _clip(prod, ACC_MIN, ACC_MAX)
                    acc = _clip(acc + prod, ACC_MIN, ACC_MAX)
                if tgt == 0:
                    if sign_mode == SIGN_EXC:
                        acc = max(0, acc)
                    elif sign_mode == SIGN_INH:
                        acc = min(0, acc)
                elif tgt == 1:
                    acc = max(0, acc)
                # stochastic rounding of acc / 2^7 with the one draw rc (acc is an integer: exact)
                q = acc / 128.0
                fl = np.floor(q)
                v = int(fl) + (1 if rc < q - fl else 0)
                if tgt == 0:
                    lo = -256 if sign_mode == SIGN_MIXED else 0
                    v = _clip(v, lo, 255)
                    if sign_mode == SIGN_INH:
                        v = _clip(v, -255, 0)
                    Wn[i, j] = v
                elif tgt == 1:
                    Dn[i, j] = _clip(v, 0, 255)
                else:
                    Tn[i, j] = _clip(v, -257, 255)
    return Wn, Dn, Tn


@njit(cache=True)
def run_engine_kernel(W, D, T, x_tr, y_tr, tx, ty, step0, pre, bap, yin, three_factor, t_epoch,
                      x_imp_int, x_imp_frac, y_imp_int, y_imp_frac, x_decay, y_decay, x_tau0, y_tau0,
                      decim, p_target, p_dep, p_mant, p_lshift, p_rshift, f_var, f_const, f_sgn, sign_mode,
                      xd, xi, yd, yi, rc, W_hist, reward_steps):
    """Run steps step0 + 1 .. step0 + S of the engine (pre [S, n_pre], bap [S, n_post] 0/1, yin
    [S, 3, n_post] int for 3-factor rules). W, D, T, x_tr [2, n_pre], y_tr [3, n_post], tx, ty are
    updated in place (W, D, T are replaced: returned). Draw arrays are indexed by absolute step.
    W_hist [S_rec, n_post, n_pre]: weights after each step listed in reward_steps (-1 = none)."""
    S = pre.shape[0]
    n_post, n_pre = W.shape
    xh = np.zeros((t_epoch + 1, 2, n_pre), np.int64)
    yh = np.zeros((t_epoch + 1, 3, n_post), np.int64)
    rec = 0
    for ss in range(S):
        s = step0 + ss + 1                         # lava's 1-based time_step
        if s == 1 and sign_mode == SIGN_MIXED:
            for i in range(n_post):
                for j in range(n_pre):
                    W[i, j] = (W[i, j] >> 1) << 1   # MIXED 8-bit weights: the LSB carries no value
        idx = (s - 1) % t_epoch + 1                # within-epoch index 1..t_epoch
        for j in range(n_pre):
            if pre[ss, j]:
                if tx[j] > 0:                      # second spike in the epoch: impulse now, random 0
                    for m in range(2):
                        x_tr[m, j] = _add_impulse(x_tr[m, j], 0, x_imp_int[m], x_imp_frac[m])
                tx[j] = idx
        r_yi = yi[2 * s - 1]                       # Y impulse draw after the first advance of step s
        for i in range(n_post):
            if bap[ss, i]:
                if ty[i] > 0:
                    for m in range(3):
                        y_tr[m, i] = _add_impulse(y_tr[m, i], r_yi, y_imp_int[m], y_imp_frac[m])
                ty[i] = idx
        if three_factor:
            for m in range(3):
                for i in range(n_post):
                    y_tr[m, i] = yin[ss, m, i]      # the neuron's values overwrite the y traces
        if s % t_epoch == 0:
            epoch = s // t_epoch
            _history(x_tr, x_tau0, x_decay, x_imp_int, x_imp_frac, tx, t_epoch, xd[2 * s], xi[2 * s], xh)
            _history(y_tr, y_tau0, y_decay, y_imp_int, y_imp_frac, ty, t_epoch, yd[2 * s], yi[2 * s], yh)
            for m in range(2):
                for j in range(n_pre):
                    x_tr[m, j] = xh[t_epoch, m, j]
            if not three_factor:
                for m in range(3):
                    for i in range(n_post):
                        y_tr[m, i] = yh[t_epoch, m, i]
            u = 0
            if decim >= 0:
                u = 1 if epoch % (1 << decim) == 0 else 0
            W, D, T = _learn(W, D, T, xh, yh, tx, ty, t_epoch, u, rc[epoch], p_target, p_dep, p_mant, p_lshift,
                             p_rshift, f_var, f_const, f_sgn, sign_mode)
            for j in range(n_pre):
                tx[j] = 0
            for i in range(n_post):
                ty[i] = 0
        if rec < reward_steps.shape[0] and reward_steps[rec] == s:
            W_hist[rec] = W
            rec += 1
    return W, D, T


class EngineState(NamedTuple):
    """Engine state between calls (int64 arrays; W/D/T [n_post, n_pre], x [2, n_pre], y [3, n_post])."""

    W: np.ndarray
    D: np.ndarray
    T: np.ndarray
    x: np.ndarray
    y: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    step: int


def init_state(W, D=None, T=None) -> EngineState:
    """Engine state at step 0 with weights W [n_post, n_pre] (ints), tags D (tag_2), T (tag_1) or 0."""
    W = np.asarray(W, np.int64).copy()
    z = np.zeros_like(W)
    n_post, n_pre = W.shape
    return EngineState(W, z.copy() if D is None else np.asarray(D, np.int64).copy(),
                       z.copy() if T is None else np.asarray(T, np.int64).copy(),
                       np.zeros((2, n_pre), np.int64), np.zeros((3, n_post), np.int64),
                       np.zeros(n_pre, np.int64), np.zeros(n_post, np.int64), 0)


def run_engine(rule: EngineRule, state: EngineState, pre, bap, yin=None, rnd: dict | None = None,
               record_steps=None) -> tuple[EngineState, np.ndarray]:
    """Advance the engine by len(pre) steps: pre [S, n_pre] 0/1, bap [S, n_post] 0/1, yin [S, 3, n_post]
    (3-factor rules: the y1, y2, y3 values the neuron sends each step). ``rnd`` = `draws(rule.rng_seed, N)`
    with N >= the last step (computed here if None). Returns (new state, weights after each 1-based
    absolute step in ``record_steps`` [R, n_post, n_pre])."""
    pre = np.ascontiguousarray(pre, np.int64)
    bap = np.ascontiguousarray(bap, np.int64)
    S = pre.shape[0]
    n_post, n_pre = state.W.shape
    if pre.shape != (S, n_pre) or bap.shape != (S, n_post):
        raise ValueError(f"pre {pre.shape} / bap {bap.shape} do not match weights {state.W.shape} over {S} steps")
    yin = np.zeros((S, 3, n_post), np.int64) if yin is None else np.ascontiguousarray(yin, np.int64)
    last = state.step + S
    if rnd is None or rnd["c"].shape[0] < last + 1:
        rnd = draws(rule.rng_seed, last)
    rec = np.asarray([] if record_steps is None else record_steps, np.int64)
    hist = np.zeros((rec.shape[0], n_post, n_pre), np.int64)
    W, D, T = state.W.copy(), state.D.copy(), state.T.copy()
    x, y, tx, ty = state.x.copy(), state.y.copy(), state.tx.copy(), state.ty.copy()
    W, D, T = run_engine_kernel(W, D, T, x, y, tx, ty, state.step, pre, bap, yin, rule.three_factor, rule.t_epoch,
                                rule.x_imp_int, rule.x_imp_frac, rule.y_imp_int, rule.y_imp_frac, rule.x_decay,
                                rule.y_decay, rule.x_tau0, rule.y_tau0, rule.decim, rule.p_target, rule.p_dep,
                                rule.p_mant, rule.p_lshift, rule.p_rshift, rule.f_var, rule.f_const, rule.f_sgn,
                                rule.sign_mode, rnd["x_decay"], rnd["x_imp"], rnd["y_decay"], rnd["y_imp"],
                                rnd["c"], hist, rec)
    return EngineState(W, D, T, x, y, tx, ty, last), hist
