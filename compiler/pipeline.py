"""`compile()`: check -> quantize -> lower rule -> partition -> place -> route -> emit, each a pure function.

The on-chip learning options (learning rate, batch, eligibility, rounding, widths) are the lower-rule
pass's `LowerRuleOptions` in ``CompileOptions.learn``: the rule is lowered once, from the quantiser's
own result, and ``provenance['rule']`` records the learning rate the chip runs at.

``callback(pass_name, intermediate)`` is called after every pass (for reports and debugging); the
intermediate is that pass's result object (`SynGraph`, dict, `Quantized`, `Partition`, `Placement`,
`Routes`, `CompiledNetwork`).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..chips.profile import ChipProfile, load_profile
from ..errors import ChipConstraintError, ConfigError
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
    overflow: str = "warn"     # a register that can wrap or saturate: 'error' | 'warn' | 'allow' (check.register_bounds)

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


def _lower_rule(net, rule, profile, quant, learn: LowerRuleOptions, learn_rounding):
    """The lower-rule pass: ``learn`` with the check pass's rounding decision and the quantiser's seed
    filled in where the options leave them open."""
    import scipy.sparse as sp
    from dataclasses import replace
    if isinstance(net, SparseNetwork) and sp.issparse(net.w_out):
        # lower_rule reads w_out as an array (symmetric e-prop feeds back W_out^T); [n_out, n_rec] is small.
        net = replace(net, w_out=net.w_out.toarray())
    lo = replace(learn, rounding=learn.rounding or learn_rounding,
                 seed=learn.seed if learn.seed is not None else quant.seed)
    return lower_rule(net, rule, profile, quant, lo)


def compile(net: Network | SparseNetwork, profile: ChipProfile | str, rule: LearningRule | None = None, *,
            options: CompileOptions | None = None, callback: Callable[[str, Any], None] | None = None) -> CompiledNetwork:
    """Compile a float network (and optionally its on-chip learning rule) for ``profile`` (object, name or path).

    Raises `ChipConstraintError` (every violated constraint named, with place, needed and available),
    `InvalidNetworkError` or `ConfigError`.
    """
    o = options or CompileOptions()
    if not isinstance(o, CompileOptions):
        raise ConfigError(f"options must be CompileOptions, got {type(o).__name__}")
    prof = profile if isinstance(profile, ChipProfile) else load_profile(profile)
    if rule is not None and not isinstance(rule, LearningRule):
        raise ConfigError(f"rule must be a LearningRule or None, got {type(rule).__name__}")
    cb = callback or (lambda name, x: None)
    t = {}
    t0 = time.perf_counter()
    g = as_graph(net)
    t["graph"] = time.perf_counter() - t0
    cb("graph", g)

    t0 = time.perf_counter()
    rep_check = check(g, rule, prof, o.check)
    t["check"] = time.perf_counter() - t0
    cb("check", rep_check)

    t0 = time.perf_counter()
    approx = o.check.approximate
    drop_ad = "adaptation" in approx and not prof.format.adaptation
    qo = o.quantize
    if qo.weight_headroom_bits is None:       # learning needs room above the largest weight (see QuantizeOptions)
        from dataclasses import replace as _replace
        qo = _replace(qo, weight_headroom_bits=1 if rule is not None else 0)
    q = quantize(g, prof, qo, reset=rep_check["reset"], drop_adaptation=drop_ad)
    if g.params.n_ref > 1 and not prof.format.refractory:
        from dataclasses import replace
        q = replace(q, n_ref=1)  # approximation accepted in check
    t["quantize"] = time.perf_counter() - t0
    cb("quantize", q)

    compiled_rule, rule_rep = None, None
    if rule is not None:
        t0 = time.perf_counter()
        compiled_rule, rule_rep = _lower_rule(net, rule, prof, q, o.learn, rep_check.get("learn_rounding"))
        t["lower_rule"] = time.perf_counter() - t0
        cb("lower_rule", compiled_rule)

    t0 = time.perf_counter()
    adaptive = q.neuron_kind == "alif"
    part = partition(g, rule, prof, o.partition, adaptive=adaptive)
    t["partition"] = time.perf_counter() - t0
    cb("partition", part)

    t0 = time.perf_counter()
    pl = place(part.traffic, prof, readout_core=part.readout_core, n_out=g.n_out, learning=rule is not None, options=o.place)
    t["place"] = time.perf_counter() - t0
    cb("place", pl)

    t0 = time.perf_counter()
    import numpy as np
    rec_cores = np.unique(part.core_of[:g.n_rec])
    rt = route(pl.core_xy, part.traffic, readout_core=part.readout_core, rec_cores=rec_cores, n_out=g.n_out,
               learning=rule is not None)
    t["route"] = time.perf_counter() - t0
    cb("route", rt)

    report = {
        "network": {"n_in": g.n_in, "n_rec": g.n_rec, "n_out": g.n_out, "synapses": {"in": g.w_in.nnz, "rec": g.w_rec.nnz, "out": g.w_out.nnz},
                    "kind": g.params.kind, "sparse": g.sparse},
        "profile": prof.name, "check": rep_check, "quantize": q.report, "rule": rule_rep,
        "partition": part.report, "place": pl.report, "route": rt.report,
        "learning_state_bits": part.report["learning_state_bits_total"], "timing_s": t,
    }
    t0 = time.perf_counter()
    opts_dict = {"check": asdict(o.check), "quantize": asdict(o.quantize),
                 "partition": {k: v for k, v in asdict(o.partition).items() if k != "rates_hz"}, "place": asdict(o.place),
                 "learn": asdict(o.learn)}
    # provenance tells the truth: the rule as lowered, with the on-chip learning rate it runs at
    prov_rule = rule
    if rule is not None and compiled_rule is not None and float(compiled_rule.lr) != float(rule.lr):
        from dataclasses import replace as _r
        prov_rule = _r(rule, lr=float(compiled_rule.lr))
    cn = emit(g, q, part, pl, rt, prof, compiled_rule=compiled_rule, rule=prov_rule, report=report, options=opts_dict)
    t["emit"] = time.perf_counter() - t0
    cn.report["timing_s"]["emit"] = t["emit"]
    from .check import overflow_policy, register_bounds
    cn.report["overflow"] = register_bounds(cn)      # worst case of every register vs its width
    overflow_policy(cn.report["overflow"], o.overflow, f"compiled network for '{prof.name}' ")
    cb("emit", cn)
    return cn


def compile_sparse(net: SparseNetwork, profile: ChipProfile | str, rule: LearningRule | None = None, **kw) -> CompiledNetwork:
    """`compile` for a `SparseNetwork` (scipy.sparse projections): the artifact keeps w_rec / rec_mask as CSR."""
    if not isinstance(net, SparseNetwork):
        raise ConfigError(f"compile_sparse needs a SparseNetwork, got {type(net).__name__}")
    return compile(net, profile, rule, **kw)
