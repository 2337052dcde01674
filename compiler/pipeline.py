"""`compile()`: a driver over named passes (`PASSES`): graph -> check -> quantize -> lower rule -> partition ->
place -> route -> emit, each a pure function of the results before it.

Every pass's options are a field of `CompileOptions` (``check``, ``quantize``, ``learn`` = the lower-rule
pass's `LowerRuleOptions`: on-chip learning rate, batch, eligibility, rounding, widths, ``partition``,
``place``, ``overflow`` for emit's register bounds). The rule is lowered once, from the quantiser's own
result, and ``provenance['rule']`` records the learning rate the chip runs at.

One loop times every pass (``report['timing_s'][name]``) and calls ``callback(pass_name, result)`` after it
(for reports and debugging); the result is that pass's object (`SynGraph`, dict, `Quantized`,
`CompiledRule`, `Partition`, `Placement`, `Routes`, `CompiledNetwork`).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..chips.profile import ChipProfile, load_profile
from ..errors import ConfigError
from ..network import Network
from ..rules import LearningRule
from .artifact import CompiledNetwork
from .check import CheckOptions, check
from .emit import emit
from .graph import SparseNetwork, as_graph
from .lower_rule import LowerRuleOptions, lower_rule
from .partition import PartitionOptions, partition
from .place import PlaceOptions, place
from .quantize import QuantizeOptions, quantize
from .route import route


@dataclass(frozen=True)
class CompileOptions:
    """Options of every pass (each a small dataclass)."""

    check: CheckOptions = field(default_factory=CheckOptions)
    quantize: QuantizeOptions = field(default_factory=QuantizeOptions)
    partition: PartitionOptions = field(default_factory=PartitionOptions)
    place: PlaceOptions = field(default_factory=PlaceOptions)
    learn: LowerRuleOptions = field(default_factory=LowerRuleOptions)
    overflow: str = "warn"     # a register that can wrap or saturate: 'error' | 'warn' | 'allow' (bounds.register_bounds)

    def __post_init__(self) -> None:
        if self.overflow not in ("error", "warn", "allow"):
            raise ConfigError(f"overflow must be 'error', 'warn' or 'allow', got {self.overflow!r}")

    @classmethod
    def make(cls, *, rounding: str = "nearest", seed: int = 0, reset: str = "auto", approximate=(),
             learn_rounding: str | None = None, learn: LowerRuleOptions | None = None, overflow: str = "warn",
             **kw) -> "CompileOptions":
        """Convenience: common options by keyword. rounding: weights to mantissas; learn_rounding: the on-chip
        rule's rounding (None = the profile's first supported mode); learn: the lower-rule pass's options
        (on-chip lr, batch, eligibility, ...); kw: more QuantizeOptions."""
        lo = learn or LowerRuleOptions()
        if learn_rounding is not None and lo.rounding is None:
            from dataclasses import replace as _r
            lo = _r(lo, rounding=learn_rounding)
        return cls(check=CheckOptions(reset=reset, approximate=tuple(approximate), rounding=lo.rounding),
                   quantize=QuantizeOptions(rounding=rounding, seed=seed, **kw), learn=lo, overflow=overflow)


# --- the passes ------------------------------------------------------------------------------------------
# Each pass reads what earlier passes left in the `_State` and returns its own result, which the driver
# stores under the pass's name, times and hands to the callback. A pass whose ``when`` is false (lower_rule
# without a rule) is skipped: no result, no timing, no callback.

@dataclass
class _State:
    """The inputs of one compile and every pass's result so far (``results[name]``)."""

    net: Network | SparseNetwork
    rule: LearningRule | None
    profile: ChipProfile
    options: CompileOptions
    results: dict[str, Any] = field(default_factory=dict)
    rule_report: dict | None = None
    timing: dict[str, float] = field(default_factory=dict)
    plastic: LearningRule | None = None      # an STDP-family rule (its own lowering, after emit)
    calib_x: Any = None                      # its calibration inputs [B, T, n_in] (R-STDP's tag scale)
    calib_emax: float | None = None          # or the calibration's result


def _pass_graph(s: _State):
    return as_graph(s.net)


def _pass_check(s: _State):
    return check(s.results["graph"], s.rule, s.profile, s.options.check)


def _pass_quantize(s: _State):
    from dataclasses import replace
    g, prof, o = s.results["graph"], s.profile, s.options
    drop_ad = "adaptation" in o.check.approximate and not prof.format.adaptation
    qo = o.quantize
    if qo.weight_headroom_bits is None:       # learning needs room above the largest weight (see QuantizeOptions)
        qo = replace(qo, weight_headroom_bits=1 if s.rule is not None else 0)
    q = quantize(g, prof, qo, reset=s.results["check"]["reset"], drop_adaptation=drop_ad)
    if g.params.n_ref > 1 and not prof.format.refractory:
        q = replace(q, n_ref=1)  # approximation accepted in check
    return q


def _pass_lower_rule(s: _State):
    """``options.learn`` with the check pass's rounding decision and the quantiser's seed filled in where
    the options leave them open; the rule's report goes to ``s.rule_report``."""
    import scipy.sparse as sp
    from dataclasses import replace
    net, q, learn = s.net, s.results["quantize"], s.options.learn
    if isinstance(net, SparseNetwork) and sp.issparse(net.w_out):
        # lower_rule reads w_out as an array (symmetric e-prop feeds back W_out^T); [n_out, n_rec] is small.
        net = replace(net, w_out=net.w_out.toarray())
    lo = replace(learn, rounding=learn.rounding or s.results["check"].get("learn_rounding"),
                 seed=learn.seed if learn.seed is not None else q.seed)
    compiled_rule, s.rule_report = lower_rule(net, s.rule, s.profile, q, lo)
    return compiled_rule


def _pass_partition(s: _State):
    return partition(s.results["graph"], s.rule, s.profile, s.options.partition,
                     adaptive=s.results["quantize"].neuron_kind == "alif")


def _pass_place(s: _State):
    g, part = s.results["graph"], s.results["partition"]
    return place(part.traffic, s.profile, readout_core=part.readout_core, n_out=g.n_out, learning=s.rule is not None,
                 options=s.options.place)


def _pass_route(s: _State):
    import numpy as np
    g, part = s.results["graph"], s.results["partition"]
    rec_cores = np.unique(part.core_of[:g.n_rec])
    return route(s.results["place"].core_xy, part.traffic, readout_core=part.readout_core, rec_cores=rec_cores,
                 n_out=g.n_out, learning=s.rule is not None)


def _pass_emit(s: _State):
    """Assemble the artifact (report, options, provenance), then bound every register against its width
    (``report['overflow']``) and apply ``options.overflow``."""
    from dataclasses import replace
    from .bounds import overflow_policy, register_bounds
    r, o, prof, rule = s.results, s.options, s.profile, s.rule
    g, q, part, pl, rt = r["graph"], r["quantize"], r["partition"], r["place"], r["route"]
    compiled_rule = r.get("lower_rule")
    report = {
        "network": {"n_in": g.n_in, "n_rec": g.n_rec, "n_out": g.n_out, "synapses": {"in": g.w_in.nnz, "rec": g.w_rec.nnz, "out": g.w_out.nnz},
                    "kind": g.params.kind, "sparse": g.sparse},
        "profile": prof.name, "check": r["check"], "quantize": q.report, "rule": s.rule_report,
        "partition": part.report, "place": pl.report, "route": rt.report,
        "learning_state_bits": part.report["learning_state_bits_total"], "timing_s": s.timing,
    }
    opts_dict = {"check": asdict(o.check), "quantize": asdict(o.quantize),
                 "partition": {k: v for k, v in asdict(o.partition).items() if k != "rates_hz"}, "place": asdict(o.place),
                 "learn": asdict(o.learn)}
    # provenance tells the truth: the rule as lowered, with the on-chip learning rate it runs at
    prov_rule = rule
    if rule is not None and compiled_rule is not None and float(compiled_rule.lr) != float(rule.lr):
        prov_rule = replace(rule, lr=float(compiled_rule.lr))
    cn = emit(g, q, part, pl, rt, prof, compiled_rule=compiled_rule, rule=prov_rule, report=report, options=opts_dict)
    cn.report["overflow"] = register_bounds(cn)      # worst case of every register vs its width
    # the warning points at compile()'s caller: overflow_policy <- this pass <- the driver <- caller
    overflow_policy(cn.report["overflow"], o.overflow, f"compiled network for '{prof.name}' ", stacklevel=4)
    return cn


def _pass_lower_plasticity(s: _State):
    """An STDP-family rule on W_in, lowered for the emitted artifact's weights and chip (Loihi's plasticity
    engine, `compiler.lower_stdp`): the artifact with ``plasticity`` = the lowering's settings and lava
    strings, ``report['plasticity']`` = the chosen constants, and the rule in its provenance."""
    from dataclasses import replace
    from .artifact_checks import check_artifact
    from .lower_stdp import saved_plasticity, stdp_settings
    from .serial import jsonable
    cn, rule = s.results["emit"], s.plastic
    st, rep = saved_plasticity(stdp_settings(s.net, rule, cn, calib_x=s.calib_x, calib_emax=s.calib_emax,
                                             rng_seed=int(s.options.quantize.seed)))
    out = replace(cn, plasticity=st, report={**cn.report, "plasticity": rep},
                  provenance={**cn.provenance, "rule": jsonable(rule.to_dict())})
    check_artifact(out, where="compiled network")
    return out


@dataclass(frozen=True)
class Pass:
    """A named compiler pass: ``run(state) -> result``; skipped when ``when(state)`` is false."""

    name: str
    run: Callable[[_State], Any]
    when: Callable[[_State], bool] = lambda s: True


PASSES: tuple[Pass, ...] = (
    Pass("graph", _pass_graph),
    Pass("check", _pass_check),
    Pass("quantize", _pass_quantize),
    Pass("lower_rule", _pass_lower_rule, when=lambda s: s.rule is not None),
    Pass("partition", _pass_partition),
    Pass("place", _pass_place),
    Pass("route", _pass_route),
    Pass("emit", _pass_emit),
    Pass("lower_plasticity", _pass_lower_plasticity, when=lambda s: s.plastic is not None),
)


def compile(net: Network | SparseNetwork, profile: ChipProfile | str, rule: LearningRule | None = None, *,
            options: CompileOptions | None = None, callback: Callable[[str, Any], None] | None = None,
            calib_x=None, calib_emax: float | None = None) -> CompiledNetwork:
    """Compile a float network (and optionally its on-chip learning rule) for ``profile`` (object, name or path):
    run `PASSES` in order, timing each (``report['timing_s']``) and calling ``callback(name, result)`` after it.
    An e-prop-family rule is lowered by ``lower_rule``; an STDP-family rule (one with its own lowering in
    the rule registry: stdp, rstdp) by ``lower_plasticity`` after emit, on W_in, into the artifact's
    ``plasticity``; ``calib_x`` [B, T, n_in]: inputs on which R-STDP's tag scale is calibrated (optional), or
    ``calib_emax``: that calibration's result (a saved artifact's ``plasticity['calib_emax']``).

    Raises `ChipConstraintError` (every violated constraint named, with place, needed and available),
    `InvalidNetworkError` or `ConfigError`.
    """
    o = options or CompileOptions()
    if not isinstance(o, CompileOptions):
        raise ConfigError(f"options must be CompileOptions, got {type(o).__name__}")
    prof = profile if isinstance(profile, ChipProfile) else load_profile(profile)
    if rule is not None and not isinstance(rule, LearningRule):
        raise ConfigError(f"rule must be a LearningRule or None, got {type(rule).__name__}")
    from ..rulebook import get as rule_spec
    plastic = rule is not None and rule_spec(rule.name).lower is not None
    s = _State(net, None if plastic else rule, prof, o, plastic=rule if plastic else None, calib_x=calib_x,
               calib_emax=calib_emax)
    for p in PASSES:
        if not p.when(s):
            continue
        t0 = time.perf_counter()
        s.results[p.name] = p.run(s)
        s.timing[p.name] = time.perf_counter() - t0
        if p.name == "emit":       # the artifact's report was written during emit: give it the pass's own time
            s.results["emit"].report["timing_s"]["emit"] = s.timing["emit"]
        if callback is not None:
            callback(p.name, s.results[p.name])
    return s.results.get("lower_plasticity") or s.results["emit"]


def compile_sparse(net: SparseNetwork, profile: ChipProfile | str, rule: LearningRule | None = None, **kw) -> CompiledNetwork:
    """`compile` for a `SparseNetwork` (scipy.sparse projections): the artifact keeps w_rec / rec_mask as CSR."""
    if not isinstance(net, SparseNetwork):
        raise ConfigError(f"compile_sparse needs a SparseNetwork, got {type(net).__name__}")
    return compile(net, profile, rule, **kw)
