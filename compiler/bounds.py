"""Register bounds (after quantize): can a register of a compiled network reach its limit?

`register_bounds(compiled)` bounds the worst case of every neuron register (membrane, current, adaptation,
readout, lava's int32 input sums) against its width, exactly; `overflow_policy` turns the result into an
error, a `FixedPointOverflowWarning` or nothing, as ``CompileOptions.overflow`` says. Split from the check
pass (compiler/check.py), which runs before quantisation and knows no integers.
"""
from __future__ import annotations

import numpy as np


# docs/fixed_point.md "Registers". Worst cases are exact integers (Fractions where a decay sums a geometric
# series), so "cannot overflow" is a proof for every input, not an estimate.

OVERFLOW_POLICIES = ("error", "warn", "allow")


class FixedPointOverflowWarning(UserWarning):
    """A compiled network can (compile report) or did (run) wrap or saturate a register."""


def _pos_neg_sums(w, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per target (row): sum of positive mantissas, sum of |negative| mantissas, fan-in; and the largest
    |mantissa|. ``w`` [post, pre] dense or scipy.sparse; ``mask`` the existing synapses (dense bool) or None."""
    import scipy.sparse as sp

    if sp.issparse(w):
        m = sp.csr_matrix(w).astype(np.int64)
        if mask is not None and sp.issparse(mask):
            m = m.multiply(sp.csr_matrix(mask).astype(bool)).tocsr()
        pos = np.asarray(m.maximum(0).sum(axis=1)).ravel()
        neg = np.asarray((-m).maximum(0).sum(axis=1)).ravel()
        fan = np.diff(m.indptr) if m.nnz else np.zeros(m.shape[0], np.int64)
        big = int(abs(m).max()) if m.nnz else 0
        return pos.astype(np.int64), neg.astype(np.int64), np.asarray(fan, np.int64), big
    a = np.asarray(w, np.int64)
    if mask is not None:
        a = a * (mask.toarray() if sp.issparse(mask) else np.asarray(mask)).astype(bool)
    return (np.where(a > 0, a, 0).sum(axis=1), np.where(a < 0, -a, 0).sum(axis=1), (a != 0).sum(axis=1),
            int(np.abs(a).max()) if a.size else 0)


def _fs(x: int, e: int) -> int:
    """floor_shift on a Python int: x << e, or floor(x / 2^-e) (the Dense exponent on a sum)."""
    return x << e if e >= 0 else x >> (-e)


def _geo(alpha, n: int):
    """1 / (1 - alpha^n) as a Fraction (the most a leaky register accumulates of an input bounded per
    window of n steps); None when alpha == 1 (no leak: unbounded)."""
    from fractions import Fraction

    a = Fraction(alpha) ** max(1, n)
    return None if a == 1 else 1 / (1 - a)


def _ceil(x) -> int:
    import math
    return int(math.ceil(x))


def register_bounds(c) -> dict:
    """Worst-case values of every neuron register of the compiled network ``c`` over any input and any
    run length, against its width (docs/fixed_point.md "Registers"). Returns the report section::

        {"semantics": 'lava' | 'saturate' | 'wrap', "projections": {in, rec, out: fan-in, max mantissa,
         exponent, worst sum}, "registers": {kind: {bits, limit, worst (int or None = unbounded),
         can_overflow, behaviour, why}}, "can_overflow": [kinds], "verdict": str}

    Sound, not tight: inputs are all-positive or all-negative at once, every presynaptic neuron spikes
    in the same step, resets are ignored where that only enlarges |v|, and each recurrent neuron spikes
    at most once per n_ref steps (the refractory period).
    """
    from fractions import Fraction

    prof = getattr(c, "profile", None)
    f = getattr(prof, "format", None)
    S = int(getattr(f, "threshold_shift", 6))
    D = int(getattr(f, "decay_bits", 12))
    cb = int(getattr(f, "current_bits", 24))
    mb = int(getattr(f, "membrane_bits", 24))
    sem = str(getattr(f, "overflow", "lava")) if f is not None else "lava"
    one = 1 << D
    half_c, vmax = 1 << (cb - 1), (1 << (mb - 1)) - 1
    ulim = half_c - 1                                   # every semantics keeps [-(2^(cb-1) - 1), 2^(cb-1) - 1]
    e_in, e_rec, e_out = int(c.e_in), int(c.e_rec), int(c.e_out)
    n_ref = max(1, int(c.n_ref))
    proj = {}
    sums = {}
    for name, w, mask, e in (("in", c.w_in, None, e_in), ("rec", c.w_rec, c.rec_mask, e_rec),
                             ("out", c.w_out, None, e_out)):
        pos, neg, fan, big = _pos_neg_sums(w, mask)
        sums[name] = (pos, neg)
        j = int(np.argmax(np.maximum(pos, neg))) if pos.size else 0
        worst = int(max(pos.max(initial=0), neg.max(initial=0)))
        proj[name] = {"fan_in_max": int(fan.max(initial=0)), "max_mantissa": big, "exp": e,
                      "worst_sum": worst, "worst_target": j, "worst_input": (-_fs(-worst, e)) << S,
                      "how": f"fan-in {int(fan.max(initial=0))} x mantissa <= {big} x 2^{e} x 2^{S}: "
                             f"worst sum {worst} (target {j}) -> {(-_fs(-worst, e)) << S} per step"}
    # per-step input to u, per recurrent neuron: both Dense outputs, each floor-shifted, MSB-aligned by S
    i_pos = (np.array([_fs(int(p), e_in) for p in sums["in"][0]], dtype=object)
             + np.array([_fs(int(p), e_rec) for p in sums["rec"][0]], dtype=object))
    i_neg = (np.array([_fs(-int(n), e_in) for n in sums["in"][1]], dtype=object)
             + np.array([_fs(-int(n), e_rec) for n in sums["rec"][1]], dtype=object))
    I_pos = (int(max(i_pos, default=0)) << S) if len(i_pos) else 0
    I_neg = (int(min(i_neg, default=0)) << S) if len(i_neg) else 0
    regs = {}
    behaviour = {"lava": {"current": "int32 sum wraps, then u wraps once (lava)", "membrane": "int32 sum wraps, "
                          "then v saturates (lava)", "readout": "input wraps like u, y saturates (lava)"},
                 "saturate": {"current": "saturates", "membrane": "saturates", "readout": "saturates"},
                 "wrap": {"current": "wraps (two's complement)", "membrane": "wraps (two's complement)",
                          "readout": "wraps (two's complement)"}}.get(sem, {})
    # current u: u_t = trunc0(alpha_u u_{t-1}) + I_t, |trunc0(alpha x)| <= alpha |x| -> |u| <= I / (1 - alpha_u)
    has_u = int(c.du) + 1 != one
    g_u = Fraction(one, int(c.du) + 1) if has_u else Fraction(1)
    U_pos, U_neg = _ceil(I_pos * g_u), -_ceil(-I_neg * g_u)
    regs["current"] = {"bits": cb, "limit": ulim, "worst": max(U_pos, -U_neg), "behaviour": behaviour.get("current"),
                       "why": f"input per step in [{I_neg}, {I_pos}] (projections in + rec) x "
                              f"{'2^D/(du+1) = ' + str(round(float(g_u), 3)) if has_u else '1 (du = 2^D - 1: no memory)'}"}
    # membrane v: v_t = trunc0(alpha_v v_{t-1}) + u_t + bias - vth_eff z_{t-1}, resets ignored where they only help
    be = int(c.bias_exp)
    bias = [_fs(int(b), be) for b in np.asarray(c.bias_mant).ravel()] or [0]
    b_pos, b_neg = max(0, max(bias)), min(0, min(bias))
    vth_eff = int(c.vth) << S
    if U_pos <= ulim and U_neg >= -ulim:
        Ucap_pos, Ucap_neg = U_pos, U_neg
    else:                                   # u as stored after its own overflow (counted as 'current')
        Ucap_pos, Ucap_neg = {"lava": ((1 << 31) - 1, -(1 << 31)), "saturate": (ulim, -ulim)}.get(sem, (half_c - 1, -half_c))
    # A subtractive reset follows a step with v > A >= vth_eff, so alpha v - vth_eff >= -(1 - alpha) vth_eff:
    # over the series it lowers the negative bound by vth_eff at most (and not at all without leak).
    R = vth_eff if c.reset == "subtract" else 0
    g_v = _geo(Fraction(one - int(c.dv), one), 1)
    M_pos, M_neg = Ucap_pos + b_pos, Ucap_neg + b_neg
    V_pos = _ceil(M_pos * g_v) if g_v is not None else None
    V_neg = (-_ceil(-M_neg * g_v) - R) if g_v is not None else (0 if M_neg >= 0 else None)
    a_max = 0
    beta_max = int(np.asarray(c.beta_mant).max(initial=0)) if np.asarray(c.beta_mant).size else 0
    if c.neuron_kind == "alif" and int(c.a_inc) > 0 and beta_max > 0:
        g_a = _geo(Fraction(one - int(c.da), one), n_ref)
        a_max = _ceil(int(c.a_inc) * g_a) if g_a is not None else None
    A_max = None if a_max is None else vth_eff + ((beta_max * a_max) >> int(c.beta_shift))
    if c.reset == "zero" and n_ref == 1 and A_max is not None:   # v_{t-1} <= A (else it spiked: v = 0)
        thr_bound = max(A_max, 0) + M_pos
        V_pos = thr_bound if V_pos is None else min(V_pos, thr_bound)
    worst_v = None if (V_pos is None or V_neg is None) else max(V_pos, -V_neg)
    regs["membrane"] = {"bits": mb, "limit": vmax, "worst": worst_v, "behaviour": behaviour.get("membrane"),
                        "why": (f"v input per step in [{M_neg}, {M_pos}] (u, bias) x "
                                + (f"2^D/dv = {round(float(g_v), 3)}" + (f", - vth_eff {R} (subtractive reset)" if R else "")
                                   if g_v is not None else "no leak (dv = 0)")
                                + (f"; spiking bounds v by A_max {A_max} + input" if c.reset == "zero" and n_ref == 1
                                   and A_max is not None else "")
                                + ("" if worst_v is not None else ": unbounded over time (no leak), can saturate"))}
    # readout: I_out = floor_shift(sum of W_out over the neurons spiking this step, e_out) << S: all at once
    po, no = sums["out"]
    O_pos = (_fs(int(po.max(initial=0)), e_out) << S) if po.size else 0
    O_neg = (_fs(-int(no.max(initial=0)), e_out) << S) if no.size else 0
    # over a window of n_ref steps the floor of each step's negative sum can add -1 per step (e_out < 0)
    W_neg = O_neg - (((n_ref - 1) << S) if e_out < 0 else 0)
    g_k = _geo(Fraction(one - int(c.dk), one), n_ref)
    # per window of n_ref steps each neuron spikes at most once: the window's input is at most one full sum
    Y = None if g_k is None else max(_ceil(O_pos * g_k), _ceil(-W_neg * g_k))
    if g_k is None and O_pos == 0 and O_neg == 0:
        Y = 0
    regs["readout"] = {"bits": mb, "limit": vmax, "worst": Y, "behaviour": behaviour.get("readout"),
                       "why": f"every neuron spiking in one step: input in [{O_neg}, {O_pos}] "
                              f"(fan-in {proj['out']['fan_in_max']} x mantissa <= {proj['out']['max_mantissa']} x "
                              f"2^{e_out} x 2^{S}), at most once per n_ref = {n_ref} steps x "
                              + (f"1/(1 - alpha_k^n_ref) = {round(float(g_k), 3)}" if g_k is not None
                                 else "no leak (dk = 0)")}
    if sem == "lava":      # the readout's own u register (lava LIF, du = 4095) holds one step's input
        regs["readout"]["input_worst"] = max(O_pos, -O_neg)
        regs["readout"]["input_limit"] = ulim
        if max(O_pos, -O_neg) > ulim:
            regs["readout"]["why"] += f"; one step's input {max(O_pos, -O_neg)} > {ulim}: the readout's u wraps"
    for k, r in regs.items():
        over = r["worst"] is None or r["worst"] > r["limit"]
        if k == "readout" and r.get("input_worst", 0) > r.get("input_limit", 1 << 62):
            over = True
        r["can_overflow"] = bool(over)
    bad = [k for k, r in regs.items() if r["can_overflow"]]
    if not bad:
        verdict = "cannot overflow: every neuron register stays inside its width for any input and run length"
    else:
        verdict = "can overflow: " + "; ".join(
            f"{k} ({regs[k]['bits']}-bit, {regs[k]['behaviour']}): worst "
            f"{'unbounded' if regs[k]['worst'] is None else regs[k]['worst']} > {regs[k]['limit']} ({regs[k]['why']})"
            for k in bad)
    return {"semantics": sem, "projections": proj, "registers": regs, "can_overflow": bad, "verdict": verdict,
            "learning": "accumulator, trace and weight registers saturate by design (counted at run time)"}


def overflow_policy(bounds: dict, policy: str, where: str = "", *, stacklevel: int = 3) -> None:
    """Apply ``policy`` ('error' | 'warn' | 'allow') to a `register_bounds` report: raise
    `FixedPointOverflowError` / warn `FixedPointOverflowWarning` naming each register that can overflow
    (``stacklevel``: the frame the warning points at, as in `warnings.warn`)."""
    import warnings

    from ..errors import ConfigError, FixedPointOverflowError

    if policy not in OVERFLOW_POLICIES:
        raise ConfigError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}, got {policy!r}")
    if not bounds["can_overflow"] or policy == "allow":
        return
    msg = f"{where}{bounds['verdict']}"
    if policy == "error":
        raise FixedPointOverflowError(msg + " (compile with overflow 'warn' or 'allow' to accept it)")
    warnings.warn(msg, FixedPointOverflowWarning, stacklevel=stacklevel)
