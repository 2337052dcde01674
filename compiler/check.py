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
        from ..rulebook import get as rule_spec
        if rule_spec(rule.name).carried is not None:
            # e-prop 3 / synthetic gradients: online, but its learnt module (neurochip.learning.synthetic: a dense
            # map of 2N state features to 2N predicted adjoints, plus a bias) is trained by least squares at every
            # truncation boundary, a dense matrix-vector datapath that no learning engine modelled here has
            n = int(g.n_rec)
            w = 2 * n * (2 * n + 1)
            return [Violation("rule_local", "learning rule",
                              f"'{rule.name}': a synthetic-gradient module of {2 * n} x {2 * n + 1} = {w} weights "
                              f"({w * int(profile.format.weight_bits)} bits at {profile.format.weight_bits}-bit "
                              f"weights) updated by a dense matrix-vector product at every truncation boundary",
                              "a learning engine that updates synapse-local state only",
                              "train it offline, or use its truncated form without the module (eprop_symmetric)")]
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


# The register bounds (after quantize) live in compiler/bounds.py; these names stay importable from here.
from .bounds import OVERFLOW_POLICIES, FixedPointOverflowWarning, overflow_policy, register_bounds  # noqa: E402,F401
