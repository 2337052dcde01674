"""Pass 1, check: is the network (and rule) expressible on this profile at all?

Each constraint is a small named function ``(g, rule, profile, opts) -> list[Violation]``; `check` runs them
all and raises one `ChipConstraintError` with every violation. Limits come from the profile, never from
literals here. Per-core limits that depend on the partition (fan-in / fan-out / synaptic memory per core,
number of cores) are checked here for what no partition can fix (one neuron alone over a core limit, totals
over the whole chip) and again by the partition pass for the actual cores.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..chips.profile import ChipProfile
from ..errors import ChipConstraintError, ConfigError, Violation
from ..rules import LearningRule
from .graph import SynGraph

APPROXIMATIONS = ("reset", "adaptation", "refractory")


@dataclass(frozen=True)
class CheckOptions:
    """reset: 'auto' (the float model's 'subtract' if the chip has it, else an approximation that must be
    allowed) | 'subtract' | 'zero'; approximate: approximations the user accepts, from APPROXIMATIONS
    ('reset': reset to zero instead of subtraction; 'adaptation': drop ALIF adaptation; 'refractory': drop the
    refractory period); rounding: on-chip learning rounding the rule will use (None: the profile's first
    supported mode)."""

    reset: str = "auto"
    approximate: tuple[str, ...] = ()
    rounding: str | None = None

    def __post_init__(self) -> None:
        if self.reset not in ("auto", "subtract", "zero"):
            raise ConfigError(f"reset must be 'auto', 'subtract' or 'zero', got {self.reset!r}")
        if self.rounding not in (None, "nearest", "stochastic"):
            raise ConfigError(f"learning rounding must be 'nearest' or 'stochastic', got {self.rounding!r}")
        bad = [a for a in self.approximate if a not in APPROXIMATIONS]
        if bad:
            raise ConfigError(f"unknown approximation(s) {bad}; known: {', '.join(APPROXIMATIONS)}")


def resolve_reset(profile: ChipProfile, opts: CheckOptions) -> str:
    """The reset the compiled network uses."""
    if opts.reset != "auto":
        return opts.reset
    return "subtract" if "subtract" in profile.format.resets else profile.format.resets[0]


def _adaptive(g: SynGraph) -> bool:
    return g.params.kind == "alif" and bool((g.beta > 0).any())


def bits_per_synapse(profile: ChipProfile, rule: LearningRule | None, adaptive: bool = False) -> int:
    """Synaptic memory per synapse: weight + overhead (+ per-synapse eligibility state when learning)."""
    b = profile.format.weight_bits + profile.core.syn_overhead_bits
    if rule is not None and rule.eligibility == "per_synapse":
        b += profile.format.trace_bits * (2 if adaptive else 1)  # e-bar (+ adaptation eligibility eps)
    return b


def learn_bits_per_neuron(profile: ChipProfile, rule: LearningRule | None, adaptive: bool = False) -> int:
    """Per-neuron learning state: presynaptic trace z-bar and postsynaptic term (+ adaptation trace)."""
    if rule is None:
        return 0
    return profile.format.trace_bits * (3 if adaptive else 2)


# --- constraints: (g, rule, profile, opts) -> list[Violation] ----------------------------------------------

def neuron_model(g, rule, profile, opts):
    if _adaptive(g) and not profile.format.adaptation and "adaptation" not in opts.approximate:
        n = int((g.beta > 0).sum())
        return [Violation("neuron_model", "recurrent layer", f"ALIF adaptation ({n} neurons with beta > 0)",
                          "LIF only (format.adaptation = false)",
                          "use a profile with adaptation (loihi1, loihi2, generic) or accept --approximate adaptation")]
    return []


def reset_mode(g, rule, profile, opts):
    r = resolve_reset(profile, opts)
    out = []
    if r not in profile.format.resets:
        out.append(Violation("reset_mode", "recurrent layer", f"reset '{r}'", f"resets {list(profile.format.resets)}",
                             f"choose --reset {profile.format.resets[0]}"))
    elif r != "subtract" and "reset" not in opts.approximate:
        out.append(Violation("reset_mode", "recurrent layer", "reset by subtraction (the float model's)",
                             f"resets {list(profile.format.resets)}",
                             "accept --approximate reset (reset to zero) or use loihi2 / generic"))
    return out


def refractory(g, rule, profile, opts):
    if g.params.n_ref > 1 and not profile.format.refractory and "refractory" not in opts.approximate:
        return [Violation("refractory", "recurrent layer", f"refractory period n_ref = {g.params.n_ref} steps",
                          "no refractory period (format.refractory = false)",
                          "train with n_ref = 1 or accept --approximate refractory")]
    return []


def chip_inputs(g, rule, profile, opts):
    m = profile.core.max_inputs
    if m is not None and g.n_in > m:
        return [Violation("max_inputs", "input layer", f"{g.n_in} input channels", f"{m} inputs",
                          "reduce the input channels or use a profile with more inputs")]
    return []


def chip_readout(g, rule, profile, opts):
    m = profile.core.max_readout
    if m is not None and g.n_out > m:
        return [Violation("max_readout", "readout layer", f"{g.n_out} readout neurons", f"{m} readout units",
                          "reduce the outputs or use a profile with more readout units")]
    if m is None and g.n_out > profile.core.max_neurons:
        return [Violation("max_readout", "readout layer", f"{g.n_out} readout neurons on one core",
                          f"max_neurons {profile.core.max_neurons} per core", "reduce the outputs")]
    return []


def chip_neurons(g, rule, profile, opts):
    c = profile.core
    cpa = c.compartments_per_adaptive if _adaptive(g) and "adaptation" not in opts.approximate else 1
    slots = g.n_rec + int((g.beta > 0).sum()) * (cpa - 1) + (g.n_out if c.max_readout is None else 0)
    avail = c.max_neurons * profile.mesh.cores
    if slots > avail:
        return [Violation("max_neurons", "chip", f"{slots} neuron slots", f"{avail} ({profile.mesh.cores} cores x {c.max_neurons})",
                          "use a profile with more cores or fewer neurons")]
    return []


def fan_in(g, rule, profile, opts):
    """One neuron's distinct sources must fit one core's input axons."""
    deg = g.w_in.degree() + g.w_rec.degree()
    j = int(np.argmax(deg)) if deg.size else 0
    out = []
    if deg.size and deg[j] > profile.core.max_fan_in:
        out.append(Violation("max_fan_in", f"neuron {j}", f"{int(deg[j])} presynaptic sources",
                             f"{profile.core.max_fan_in} input axons per core", "use sparser connectivity"))
    dout = g.w_out.degree()
    if dout.size and dout.max() > profile.core.max_fan_in:
        k = int(np.argmax(dout))
        out.append(Violation("max_fan_in", f"readout neuron {k}", f"{int(dout[k])} presynaptic sources",
                             f"{profile.core.max_fan_in} input axons per core",
                             "read out from fewer neurons (sparse w_out) or use a profile with a larger fan-in"))
    return out


def syn_memory(g, rule, profile, opts):
    """One neuron's synapses must fit a core; all synapses must fit the chip."""
    ad = _adaptive(g) and "adaptation" not in opts.approximate
    b = bits_per_synapse(profile, rule, ad)
    c = profile.core
    deg = g.w_in.degree() + g.w_rec.degree()
    out = []
    if deg.size and deg.max() * b > c.syn_mem_bits:
        j = int(np.argmax(deg))
        out.append(Violation("syn_mem_bits", f"neuron {j}", f"{int(deg[j]) * b} bits ({int(deg[j])} synapses x {b} bits)",
                             f"{c.syn_mem_bits} bits per core", "use sparser connectivity or fewer weight bits"))
    total = g.n_synapses * b
    if c.learn_state_bits is None:
        total += learn_bits_per_neuron(profile, rule, ad) * g.n_rec
    avail = c.syn_mem_bits * profile.mesh.cores
    if total > avail:
        out.append(Violation("syn_mem_bits", "chip", f"{total} bits ({g.n_synapses} synapses x {b} bits)",
                             f"{avail} bits ({profile.mesh.cores} cores x {c.syn_mem_bits})",
                             "use a profile with more cores or sparser connectivity"))
    return out


def learn_memory(g, rule, profile, opts):
    c = profile.core
    if rule is None or c.learn_state_bits is None:
        return []
    ad = _adaptive(g) and "adaptation" not in opts.approximate
    need = learn_bits_per_neuron(profile, rule, ad) * g.n_rec
    avail = c.learn_state_bits * profile.mesh.cores
    if need > avail:
        return [Violation("learn_state_bits", "chip", f"{need} bits of per-neuron learning state", f"{avail} bits",
                          "use fewer neurons or a profile with more learning memory")]
    return []


def learning_supported(g, rule, profile, opts):
    if rule is not None and not profile.learning.supported:
        return [Violation("learning_supported", "chip", f"on-chip rule '{rule.name}'", "no on-chip learning",
                          "compile without --rule (inference only) or use loihi2 / reckon / generic")]
    return []


def rule_local(g, rule, profile, opts):
    if rule is not None and not rule.is_local:
        return [Violation("rule_local", "learning rule", f"'{rule.name}' (needs the backward pass through time)",
                          "online local rules only (eprop_*, rflo)", "train offline and compile without --rule, or use eprop_random")]
    return []


def eligibility_form(g, rule, profile, opts):
    if rule is not None and profile.learning.supported and rule.eligibility not in profile.learning.eligibility:
        return [Violation("eligibility", "learning rule", f"{rule.eligibility} eligibility traces",
                          f"{list(profile.learning.eligibility)}",
                          f"set the rule's eligibility to '{profile.learning.eligibility[0]}'" if profile.learning.eligibility else "")]
    return []


def third_factor(g, rule, profile, opts):
    if rule is not None and profile.learning.supported and not profile.learning.third_factor:
        return [Violation("third_factor", "learning rule", "a per-neuron learning signal (third factor)",
                          "no third-factor input", "use a profile with third-factor learning")]
    return []


def readout_learning(g, rule, profile, opts):
    if rule is not None and rule.train_out and profile.learning.supported and not profile.learning.readout_learning:
        return [Violation("readout_learning", "readout layer", "plastic readout weights", "fixed readout weights",
                          "set train_out = False in the rule")]
    return []


def learn_rounding_mode(profile: ChipProfile, opts: CheckOptions) -> str:
    if opts.rounding is not None:
        return opts.rounding
    return profile.learning.rounding[0] if profile.learning.rounding else "nearest"


def learning_rounding(g, rule, profile, opts):
    if rule is not None and profile.learning.supported and opts.rounding is not None and opts.rounding not in profile.learning.rounding:
        return [Violation("learning_rounding", "learning rule", f"'{opts.rounding}' rounding",
                          f"{list(profile.learning.rounding)}", f"use --rounding {profile.learning.rounding[0]}")]
    return []


CONSTRAINTS: dict[str, Callable] = {
    "neuron_model": neuron_model, "reset_mode": reset_mode, "refractory": refractory, "max_inputs": chip_inputs,
    "max_readout": chip_readout, "max_neurons": chip_neurons, "max_fan_in": fan_in, "syn_mem_bits": syn_memory,
    "learn_state_bits": learn_memory, "learning_supported": learning_supported, "rule_local": rule_local,
    "eligibility": eligibility_form, "third_factor": third_factor, "readout_learning": readout_learning,
    "learning_rounding": learning_rounding,
}


def violations(g: SynGraph, rule: LearningRule | None, profile: ChipProfile, opts: CheckOptions | None = None) -> list[Violation]:
    o = opts or CheckOptions()
    out: list[Violation] = []
    for fn in CONSTRAINTS.values():
        out.extend(fn(g, rule, profile, o))
    return out


def check(g: SynGraph, rule: LearningRule | None, profile: ChipProfile, opts: CheckOptions | None = None) -> dict:
    """Raise `ChipConstraintError` with every violation, else return the check report."""
    o = opts or CheckOptions()
    v = violations(g, rule, profile, o)
    if v:
        raise ChipConstraintError(v, profile.name)
    return {"constraints": list(CONSTRAINTS), "reset": resolve_reset(profile, o), "approximations": list(o.approximate),
            "learn_rounding": learn_rounding_mode(profile, o) if rule is not None else None}


# --- register bounds (after quantize): can a register reach its limit? -------------------------------------
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

    from ..errors import FixedPointOverflowError

    if policy not in OVERFLOW_POLICIES:
        raise ConfigError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}, got {policy!r}")
    if not bounds["can_overflow"] or policy == "allow":
        return
    msg = f"{where}{bounds['verdict']}"
    if policy == "error":
        raise FixedPointOverflowError(msg + " (compile with overflow 'warn' or 'allow' to accept it)")
    warnings.warn(msg, FixedPointOverflowWarning, stacklevel=stacklevel)
