"""The on-chip rule of a learning run: is the artifact learnable, at which rate, and the rule lowered again
at another rate / rounding / eligibility / batch / trained matrices (`prepare_rule`; STDP-family artifacts:
`prepare_plasticity`), each refused before any work when the chip cannot represent it. Used by
`neurochip.onchip.train_onchip`, ``neurochip run --learn`` and the main job."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .errors import ChipConstraintError, ConfigError, Violation


def check_learnable(compiled) -> None:
    """Refuse an artifact that cannot learn on chip (no rule lowered, or a profile without learning)."""
    prof = getattr(compiled, "profile", None)
    if prof is not None and not prof.learning.supported:
        raise ChipConstraintError(Violation("learning_supported", f"chip {prof.name}", "on-chip learning", "none"),
                                  prof.name)
    if compiled.rule is None and getattr(compiled, "plasticity", None) is None:
        raise ConfigError("on-chip learning needs an artifact compiled with a learning rule "
                          "(neurochip compile --rule eprop_random | rstdp | stdp ...)")


def default_lr(compiled) -> float:
    """The on-chip rate a learning run uses when none is given: the compiled rule's chip setting (with
    its mode, `compiled_lr_mode`: plain SGD at the rule's rate unless the artifact was compiled with
    ``lr_mode='adam_equivalent'``, which is opt-in, docs/onchip_learning.md). The compiler's ``report['rule']['lr']['chip_default']`` wins when it
    provides one; otherwise the rate the rule was lowered with (``compiled.rule.lr``)."""
    check_learnable(compiled)
    if getattr(compiled, "plasticity", None) is not None:
        return float(compiled.plasticity["lr"])
    rep = (getattr(compiled, "report", None) or {}).get("rule") or {}
    lr = rep.get("lr") if isinstance(rep, dict) else None
    if isinstance(lr, dict) and lr.get("chip_default"):
        return float(lr["chip_default"])
    return float(compiled.rule.lr)


def prepare_rule(compiled, *, lr: float | None = None, rounding: str | None = None, eligibility: str | None = None,
                 batch_size: int | None = None, train: tuple[str, ...] | None = None, lr_mode: str | None = None):
    """``compiled`` with its on-chip rule lowered again at ``lr`` / ``rounding`` / ``eligibility`` /
    ``batch_size`` / ``train`` (the matrices that learn, a subset of ('w_in', 'w_rec', 'w_out')) / ``lr_mode``
    ('sgd': the chip steps -lr * grad of the batch, float SGD; 'adam_equivalent': each matrix's first update
    is scaled to an rms step of lr, Adam's first step, then SGD); None: keep the compiled choice, so without
    ``lr`` the compiled rule's chip setting (its rate and mode) is kept. An explicit ``lr`` without
    ``lr_mode`` is an SGD rate. Raises `ConfigError` for a rate that is not a finite
    number > 0, and `ConfigError` / `ChipConstraintError` (from the compiler) for a rate or batch the
    chip cannot represent for a trained matrix (its update rounds to zero, or overflows), with the numbers."""
    from dataclasses import fields as _fields

    check_learnable(compiled)
    if getattr(compiled, "plasticity", None) is not None:
        return prepare_plasticity(compiled, lr=lr, rounding=rounding, eligibility=eligibility, train=train,
                                  lr_mode=lr_mode)
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating))
                           or not math.isfinite(float(lr)) or float(lr) <= 0):
        raise ConfigError(f"on-chip lr must be a finite number > 0, got {lr!r}")
    if rounding is not None and rounding not in ("nearest", "stochastic"):
        raise ConfigError(f"on-chip rounding must be 'nearest' or 'stochastic', got {rounding!r}")
    if eligibility is not None and eligibility not in ("per_synapse", "factorised"):
        raise ConfigError(f"on-chip eligibility must be 'per_synapse' or 'factorised', got {eligibility!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ConfigError(f"on-chip batch_size must be an integer >= 1 (trials per weight application), "
                          f"got {batch_size!r}")
    names = ("w_in", "w_rec", "w_out")
    if train is not None:
        train = tuple(train)
        if not train or any(t not in names for t in train):
            raise ConfigError(f"on-chip train must name one or more of {', '.join(names)}, got {train!r}")
    from .compiler.lower_rule import LowerRuleOptions
    cr = compiled.rule
    cur = tuple(n for n, f in zip(names, ("train_in", "train_rec", "train_out")) if getattr(cr, f, True))
    opt_names = {f.name for f in _fields(LowerRuleOptions)}
    has_batch = "batch" in opt_names
    cur_mode = compiled_lr_mode(compiled)
    if lr_mode is not None and lr_mode not in ("sgd", "adam_equivalent"):
        raise ConfigError(f"on-chip lr_mode must be 'sgd' or 'adam_equivalent', got {lr_mode!r}")
    if lr_mode is not None and "lr_mode" not in opt_names:
        raise ConfigError("on-chip lr_mode needs a compiler with learning-rate modes; this one steps plain SGD")
    want_mode = lr_mode or (cur_mode if lr is None else "sgd")
    same = ((lr is None or float(lr) == float(cr.lr)) and (rounding in (None, cr.rounding))
            and (want_mode == cur_mode or "lr_mode" not in opt_names)
            and (eligibility in (None, cr.eligibility))
            and (batch_size is None or not has_batch or int(batch_size) == int(getattr(cr, "batch", batch_size)))
            and (train is None or set(train) == set(cur)))
    if not same:
        from .rules import LearningRule
        prov = dict((getattr(compiled, "provenance", None) or {}).get("rule") or {})
        known = {f.name for f in _fields(LearningRule)}
        base = {k: v for k, v in prov.items() if k in known}
        base.update(name=cr.name, eligibility=eligibility or cr.eligibility, lr=float(lr or cr.lr))
        for k in ("reg_rate", "target_rate_hz", "train_in", "train_rec", "train_out", "train_bias"):
            if hasattr(cr, k) and k not in prov:
                base[k] = getattr(cr, k)
        if train is not None:
            base.update(train_in="w_in" in train, train_rec="w_rec" in train, train_out="w_out" in train)
        rule = LearningRule.from_dict(base)
        kw = dict(lr=float(lr or cr.lr), rounding=rounding or cr.rounding, eligibility=eligibility or cr.eligibility,
                  seed=cr.seed)
        if "lr_mode" in opt_names:
            kw["lr_mode"] = want_mode
        if has_batch:
            kw["batch"] = int(batch_size if batch_size is not None else getattr(cr, "batch", 32))
        compiled = lower_again(compiled, rule, LowerRuleOptions(**kw))
    _check_lr_codes(compiled)
    return compiled


def prepare_plasticity(compiled, *, lr=None, rounding=None, eligibility=None, train=None, lr_mode=None):
    """`prepare_rule` for an STDP-family artifact: only the rate can change (the amplitudes lr A+-, lowered
    again from the saved settings and checked representable on the engine); the e-prop choices do not
    apply and are refused by name. The engine writes weights back trial by trial, so a batch size only
    groups the training draws."""
    name = compiled.plasticity["rule"]
    given = [k for k, v in (("rounding", rounding), ("eligibility", eligibility), ("train", train),
                            ("lr_mode", lr_mode)) if v is not None]
    if given:
        raise ConfigError(f"on-chip {', '.join(given)} do(es) not apply to the plasticity rule {name!r} (Loihi's "
                          f"engine on W_in, amplitudes lr A+-); only the lr can change")
    if lr is None or float(lr) == float(compiled.plasticity["lr"]):
        return compiled
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not math.isfinite(float(lr)) \
            or float(lr) <= 0:
        raise ConfigError(f"on-chip lr must be a finite number > 0, got {lr!r}")
    from .compiler.lower_stdp import saved_plasticity
    # ConfigError when lr A+- is not representable on the engine
    st, prep = saved_plasticity({**compiled.plasticity, "lr": float(lr)})
    rep = {**(compiled.report or {}), "plasticity": {**(compiled.report or {}).get("plasticity", {}), **prep}}
    prov = dict(compiled.provenance or {})
    if isinstance(prov.get("rule"), dict):
        prov["rule"] = {**prov["rule"], "lr": float(lr)}
    return replace(compiled, plasticity=st, report=rep, provenance=prov)


def rule_info(compiled) -> dict:
    """The learning curve's description of the artifact's rule: name, lr, lr_mode, rounding, eligibility."""
    if getattr(compiled, "plasticity", None) is not None:
        return {"rule": compiled.plasticity["rule"], "lr": float(compiled.plasticity["lr"]), "lr_mode": "engine",
                "rounding": "engine", "eligibility": "engine"}
    r = compiled.rule
    return {"rule": r.name, "lr": float(r.lr), "lr_mode": compiled_lr_mode(compiled), "rounding": r.rounding,
            "eligibility": r.eligibility}


def lower_again(compiled, rule, options):
    """A copy of ``compiled`` with ``rule`` lowered again (another rate, eligibility form, rounding, batch or
    trained matrices) from the artifact alone: the quantiser's decisions as it saved them
    (`compiler.quantize.QuantDecisions.from_artifact`, never re-derived) and its source float network;
    ``provenance['rule']`` and ``report['rule']`` describe the new rule with its on-chip rate, so they never
    disagree with ``compiled.rule``."""
    from .backend_contract import float_network
    from .compiler.lower_rule import lower_rule
    from .compiler.quantize import QuantDecisions
    if compiled.profile is None or not compiled.float_params:
        raise ConfigError("lowering the rule again needs a compiled network with its profile and float_params")
    quant = QuantDecisions.from_artifact(compiled)
    if compiled.w_out_float is None or compiled.B_float is None:
        raise ConfigError("lowering the rule again needs the artifact's w_out_float and B_float (the source float "
                          "network)")
    cr, rep = lower_rule(float_network(compiled), rule, compiled.profile, quant, options)
    prov = dict(compiled.provenance or {})
    prov["rule"] = replace(rule, lr=cr.lr).to_dict()
    return replace(compiled, rule=cr, report={**compiled.report, "rule": rep}, provenance=prov)


def compiled_lr_mode(compiled) -> str:
    """How the compiled rule turns its lr into steps: 'sgd' or 'adam_equivalent' (older compilers: 'sgd')."""
    rep = ((getattr(compiled, "report", None) or {}).get("rule") or {}).get("lr") or {}
    return str(rep.get("mode", "sgd")) if isinstance(rep, dict) else "sgd"


def _check_lr_codes(compiled) -> None:
    """Every trained matrix needs a nonzero gain mantissa and a right shift (>= 0)."""
    cr = compiled.rule
    if not hasattr(cr, "lr_mant"):       # the compiler checks the representable range itself
        return
    mant = np.asarray(cr.lr_mant).ravel()
    shift = np.asarray(cr.lr_shift).ravel()
    trained = (bool(cr.train_in), bool(cr.train_rec), bool(cr.train_out))
    names = ("w_in", "w_rec", "w_out")
    lr = float(cr.lr)
    rep = ((getattr(compiled, "report", None) or {}).get("rule") or {}).get("lr") or {}
    wanted = rep.get("wanted") if isinstance(rep, dict) else None
    bad_small, bad_big = [], []
    for p in range(min(3, mant.size)):
        if not trained[p]:
            continue
        if int(mant[p]) == 0 or int(shift[p]) > 62:     # a right shift past 62 bits of int64 is zero
            bad_small.append(names[p])
        elif int(shift[p]) < 0:
            bad_big.append(names[p])
    if not (bad_small or bad_big):
        return
    rng = ""
    if wanted and len(wanted) >= 3:
        # gain g_p = lr * k_p must lie in [2^-62, 1] (a right shift of at most 62 bits, no left shift)
        ks = [float(wanted[p]) / lr for p in range(3) if trained[p] and float(wanted[p]) > 0]
        if ks:
            lo, hi = max(2.0 ** -62 / k for k in ks), min(1.0 / k for k in ks)
            rng = f"; representable on {compiled.profile_name}: {lo:.3g} <= lr <= {hi:.3g}"
    which = "too small (the update gain rounds to zero for " + ", ".join(bad_small) + ")" if bad_small else \
        "too large (the update gain needs a left shift for " + ", ".join(bad_big) + ")"
    raise ConfigError(f"on-chip lr = {lr:g} is {which}{rng}")
