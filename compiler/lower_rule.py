"""Pass: lower a float `LearningRule` (e-prop family, RFLO) to its on-chip fixed-point form.

``lower_rule(net, rule, profile, quant, options=None) -> (CompiledRule, report)``. The integer
semantics of every field are in docs/fixed_point.md, section "Learning (on-chip e-prop)", implemented
by ``neurochip.kernels.eprop_fixed`` (driver) and ``kernels.learn_trial`` (one trial). In short (all
integers; D = decay_bits; per step t of a trial):

    xbar_i  = decay(xbar_i, dv) + pre_inc_in  * x_i^t          (input pre trace, trace_bits unsigned)
    zbar_i  = decay(zbar_i, dv) + pre_inc_rec * z_i^{t-1}      (recurrent pre trace)
    psi_j   = max(0, vth_eff - |v_j - A_j|) >> psi_shift        (0 while refractory; trace_bits)
    f_j     = f_j + rnd((z_j^t << rate_bits) - f_j, rate_shift) (rate trace, starts at f0_code each trial)
    r_j     = f_j - f0_code                                      (firing-rate regulariser signal)
    per_synapse:  h_ji  = decay(h_ji, da) + rnd((q_j^{t-1} (pre_i^{t-1} - h_ji)) >> q_frac)   (ALIF eps^a)
                  e_ji  = rnd(psi_j (pre_i - h_ji) >> e_shift);  ebar_ji = decay(ebar_ji, dk) + e_ji
                  P_ji += rnd((L_j Gt[p] ebar_ji + r_j Gr[p] e_ji) >> prod_shift[p])
    factorised:   prek_i = decay(prek_i, dk) + pre_i                  (kappa-filtered pre trace, per neuron)
                  Mt_j = rnd(L_j psi_j Gt[p] >> m_shift);  Mr_j = rnd(r_j psi_j Gr[p] >> m_shift)
                  P_ji += rnd((Mt_j prek_i + Mr_j pre_i) >> prod_shift[p])
                  (ebar_ji ~ psi_j^t sum_s kappa^(t-s) pre_i^s: causal, docs/onchip_learning.md "Factorised")
    L_j     = rnd(sum_k B_jk err_k >> l_shift)                   (err_k = rnd(err_scale * dE/do_k))
    readout: zkap_j = decay(zkap_j, dk) + kap_inc z_j^t;  P_kj += rnd(err_k zkap_j Gt[2] >> prod_shift[2])
    batch end: A = sat(A + sum over the batch's trials of P)   (acc_bits, persistent residual)
               d = rnd|srnd(A >> frac_bits);  A -= d << frac_bits;  w = clip(w - d)

Per batch of n_b trials the gains are Gt[p] = rdiv(ct[p], N_task) and Gr[p] = rdiv(cr[p], n_b T),
N_task = n_b ('mse') or the batch's masked steps ('ce'): the float trainer's mean over the batch.
``ct``/``cr`` fold the float SGD rate, every integer unit and the weight LSB of each projection, so
that ``A >> frac_bits`` is the float SGD step ``-lr grad`` of the batch in weight mantissa units (the
accumulator is the master weight's fraction: master = W 2^frac_bits + A, reference section 6).

On chip the optimiser is plain SGD (no Adam moments); the firing-rate regulariser uses a per-trial
running rate instead of the batch's mean rate (both average to the same (f - f0) factor).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..chips.profile import ChipProfile
from ..errors import ChipConstraintError, ConfigError, Violation
from .. import rulebook
from ..rules import LearningRule
from .compiled_rule import CompiledRule
# the integer formats (and the truncation warning) live in rule_formats; names imported from here stay importable
from .rule_formats import (  # noqa: F401
    ACC_BITS_DEFAULT, MIN_FRAC_BITS, PRE_BITS, PROD_MAX_BITS, Q_FRAC, QA_SHIFT, RATE_BITS, EligibilityTruncationWarning,
    ProductBounds, UnitValues, adaptation_gains, check_update_resolution, eligibility_shift, feedback_mantissas,
    pre_shifts, product_bounds, product_shifts, register_widths, signal_shift, trace_constants, truncation_note,
    unit_values)


@dataclass(frozen=True)
class LowerRuleOptions:
    """Options of the lower-rule pass (part of `CompileOptions.learn`).

    lr: on-chip SGD rate (None: the rule's lr); batch: trials per weight application (the float
    trainer's batch; the gains are renormalised per batch at run time, so this only sets the default of
    ``run(..., batch_size=None)`` and the resolution check); err_range: |dE/do| mapped to the largest
    error code (1 for 'ce'); eligibility / rounding / seed: override the rule's / profile's choice;
    elig_headroom_bits: bits of the worst-case eligibility bound given up for resolution (saturation
    is counted); acc_bits: batch accumulator width (None: max(profile accumulator_bits, 32));
    rate_tau_shift: log2 of the rate trace's time constant in steps (9: ~512 steps, ml_genn's 500 ms);
    trace_rounding: rounding of the trace decays and of e: 'stochastic' | 'trunc' (None: stochastic when
    the profile lists it, as Loihi's learning engine rounds its traces, else truncation); lr_mode:
    'sgd' (the chip steps -lr * grad, float SGD exactly) or 'adam_equivalent' (on the first batch with an
    update each matrix gets the power-of-two gain that makes its rms step equal to lr, Adam's first step,
    then plain SGD; ReckOn-style per-matrix shifts); None: 'sgd'. 'adam_equivalent' is opt-in: as a default
    it destroyed a float-trained network on chip (0.848 -> 0.504 held-out) and did not learn from scratch
    (0.500 after 9,600 trials; docs/onchip_learning.md), while plain SGD at the float rule's rate never
    harms more than float SGD at that rate."""

    err_range: float = 1.0
    lr: float | None = None
    batch: int = 32
    eligibility: str | None = None
    rounding: str | None = None
    seed: int | None = None
    elig_headroom_bits: int | None = None
    acc_bits: int | None = None
    rate_tau_shift: int = 9
    trace_rounding: str | None = None
    lr_mode: str | None = None

    def __post_init__(self) -> None:
        if not (self.err_range > 0 and math.isfinite(self.err_range)):
            raise ConfigError(f"err_range must be a finite number > 0 (units of dE/do), got {self.err_range!r}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not isinstance(self.batch, (int, np.integer)) or self.batch < 1:
            raise ConfigError(f"batch must be an integer >= 1 (trials per weight application), got {self.batch!r}")
        if self.acc_bits is not None and not (8 <= int(self.acc_bits) <= 62):
            raise ConfigError(f"acc_bits must be in 8..62 (batch accumulator width), got {self.acc_bits!r}")
        if not (1 <= int(self.rate_tau_shift) <= 16):
            raise ConfigError(f"rate_tau_shift must be in 1..16 (log2 steps), got {self.rate_tau_shift!r}")
        if self.lr_mode not in (None, "sgd", "adam_equivalent"):
            raise ConfigError(f"lr_mode must be 'sgd' or 'adam_equivalent', got {self.lr_mode!r}")
        if self.trace_rounding not in (None, "stochastic", "trunc"):
            raise ConfigError(f"trace_rounding must be 'stochastic' or 'trunc', got {self.trace_rounding!r}")
        if self.elig_headroom_bits is not None and not (0 <= int(self.elig_headroom_bits) <= 16):
            raise ConfigError(f"elig_headroom_bits must be in 0..16, got {self.elig_headroom_bits!r}")


def _refuse_rule(rule: LearningRule) -> None:
    """ConfigError for a rule this pass cannot lower: one without a local online form (bptt), or one of the STDP
    family, which has its own lowering (Loihi's sum-of-products engine): lowered here it would become e-prop
    with zero feedback, i.e. not the rule, so it is refused rather than mislabelled."""
    if not rule.is_local:
        raise ConfigError(f"rule {rule.name!r} has no local online form a chip can run; on-chip rules: "
                          f"{', '.join(rulebook.local_names())}")
    if rulebook.get(rule.name).lower is not None:
        raise ConfigError(f"rule {rule.name!r} runs on chip through its own lowering (compile() lowers it into the "
                          f"artifact's plasticity, docs/rules.md), not lower_rule; e-prop-family rules: "
                          f"{', '.join(n for n in rulebook.local_names() if rulebook.get(n).lower is None)}")


def _form(rule: LearningRule, profile: ChipProfile, o: LowerRuleOptions) -> tuple[str, str]:
    """(eligibility form, weight-update rounding): the options' choice, else the rule's form and the profile's
    first rounding mode ('nearest' if it lists none). Refused in this order, so an input keeps its error: the
    rule (`_refuse_rule`), an unknown form, one ChipConstraintError naming both a chip without on-chip learning
    and a form it lacks, an unknown rounding, a rounding the chip lacks."""
    lc = profile.learning
    viol = []
    if not lc.supported:
        viol.append(Violation("learning_supported", f"chip {profile.name}", "on-chip learning", "none"))
    _refuse_rule(rule)
    elig = o.eligibility or rule.eligibility
    if elig not in ("per_synapse", "factorised"):
        raise ConfigError(f"eligibility must be 'per_synapse' or 'factorised', got {elig!r}")
    if lc.supported and elig not in lc.eligibility:
        viol.append(Violation("eligibility_form", f"chip {profile.name}", elig, ", ".join(lc.eligibility) or "none"))
    if viol:
        raise ChipConstraintError(viol, profile.name)
    rounding = o.rounding or (lc.rounding[0] if lc.rounding else "nearest")   # default: the profile's first mode
    if rounding not in ("nearest", "stochastic"):
        raise ConfigError(f"rounding must be 'nearest' or 'stochastic', got {rounding!r}")
    if lc.supported and rounding not in lc.rounding:
        raise ChipConstraintError(Violation("learning_rounding", f"chip {profile.name}", rounding,
                                            ", ".join(lc.rounding)), profile.name)
    return elig, rounding


def _adaptation(rule: LearningRule, quant, elig: str, p, s_psi: float):
    """(adapt, qa_mant int64 [n_rec]): eps^a (the ALIF adaptation eligibility) is kept when the rule keeps it on
    chip, the network is ALIF with some beta != 0 and the form is per_synapse; qa_mant: its gains
    (`rule_formats.adaptation_gains`), zeros without it. RFLO (Murray 2019) keeps the pseudo-derivative and
    drops eps^a, exactly as the float rule (neurochip.learning), so psi_const stays 0 for every rule."""
    adapt = (rulebook.get(rule.name).onchip_adapt and quant.neuron_kind == "alif" and elig == "per_synapse"
             and bool(np.asarray(quant.beta_mant).any()))
    n_rec = int(quant.beta_mant.shape[0])
    return adapt, (adaptation_gains(quant, p, s_psi) if adapt else np.zeros(n_rec, np.int64))


def _gains_at_n1(lr: float, u: UnitValues, lsb: tuple, p, reg_rate: float, reg: bool, frac: int):
    """(gt1, gr1) float64 [3] for (in, rec, out): float weight change per integer product in accumulator units
    (2^-frac weight LSB) at normaliser N = 1, for SGD rate lr and weight LSBs ``lsb`` (float weight per mantissa):
      task:  lr u_L u_ebar / lsb          (float SGD: -lr/N sum_t L ebar)
      reg:   lr 2 c_reg u_e / (lsb 2^RATE_BITS dt^2)   (float: dE_reg/dz = 2 c (f - f0) / (B T dt), f in kHz)
      out:   lr c_kappa u_err u_zkap / lsb_out
    gr1 is 0 for the readout and without the regulariser (``reg``)."""
    lsb_in, lsb_rec, lsb_out = lsb
    dt, two_f = float(p.dt), 2.0 ** frac
    gt1 = np.array([lr * u.L * u.ebar_in / lsb_in, lr * u.L * u.ebar_rec / lsb_rec,
                    lr * p.c_kappa * u.err * u.zkap / lsb_out]) * two_f
    gr1 = np.array([lr * 2.0 * reg_rate * u.e_in / (lsb_in * 2 ** RATE_BITS * dt * dt),
                    lr * 2.0 * reg_rate * u.e_rec / (lsb_rec * 2 ** RATE_BITS * dt * dt), 0.0]) * two_f
    if not reg:
        gr1[:] = 0.0
    return gt1, gr1


def _gain_numerators(gt1: np.ndarray, gr1: np.ndarray, pre_shift: np.ndarray, b: ProductBounds, elig: str,
                     chip: str):
    """(ct, cr int64 [3], prod_shift int64 [3], m_shift): gain numerators, Gt = ct / 2^(total shift) (Gr alike),
    for products pre-rounded by ``pre_shift`` (so each gain grows by 2^pre_shift), with the shifts of
    `rule_formats.product_shifts` (ChipConstraintError when lr is too large)."""
    gt1p = gt1 * np.array([2.0 ** pre_shift[0], 2.0 ** pre_shift[0], 2.0 ** pre_shift[2]])
    gr1p = gr1 * 2.0 ** pre_shift[1]
    prod_shift, m_shift, tot_shift = product_shifts(gt1p, gr1p, b, pre_shift, elig, chip)
    ct = np.array([int(round(g * 2.0 ** s)) for g, s in zip(gt1p, tot_shift)], np.int64)
    cr = np.array([int(round(g * 2.0 ** s)) for g, s in zip(gr1p, tot_shift)], np.int64)
    return ct, cr, prod_shift, m_shift


def _trace_rounding(o: LowerRuleOptions, lc, chip: str) -> str:
    """Rounding of the trace decays and of e: the options', else stochastic wherever the chip can (Loihi's engine
    does, Davies 2018): a truncating decay of a 7-bit trace whose impulse is ~6 units loses most of it within a
    few steps (measured: w_in update norm 0.03 of float at loihi2 widths), a nearest decay sticks below
    1/(2(1-alpha)). ChipConstraintError when stochastic is asked of a learning chip without it."""
    trace_round = o.trace_rounding or ("stochastic" if "stochastic" in lc.rounding else "trunc")
    if lc.supported and trace_round == "stochastic" and "stochastic" not in lc.rounding:
        raise ChipConstraintError(Violation("learning_rounding", f"chip {chip}", "stochastic trace rounding",
                                            ", ".join(lc.rounding)), chip)
    return trace_round


def _calib_target(lr_mode: str, trained: np.ndarray, lr: float, lsb: tuple, frac: int) -> np.ndarray:
    """float64 [3]: per (in, rec, out), the rms first-batch step (accumulator units: lr in weight LSBs times
    2^frac, Adam's first step) each trained matrix's gain is calibrated to in 'adam_equivalent' mode; else 0."""
    if lr_mode != "adam_equivalent":
        return np.zeros(3)
    return np.where(trained, lr / np.array(list(lsb)) * 2.0 ** frac, 0.0)


def lower_rule(net, rule: LearningRule, profile: ChipProfile, quant, options: LowerRuleOptions | None = None):
    """Lower ``rule`` for ``net`` (the float `Network` / `SparseNetwork`) on ``profile`` with the
    quantiser's result ``quant`` (`compiler.quantize.Quantized`, or its `QuantDecisions`). Returns (CompiledRule, report dict).

    Raises `ChipConstraintError` when the profile has no on-chip learning, lacks the eligibility form or
    rounding, or cannot represent the update (accumulator too narrow, learning rate out of range), and
    `ConfigError` for a rule without a local form (bptt) or bad options."""
    o = options or LowerRuleOptions()
    lc, f = profile.learning, profile.format
    elig, rounding = _form(rule, profile, o)
    from .quantize import QuantDecisions
    quant = quant if isinstance(quant, QuantDecisions) else QuantDecisions.of(quant)
    seed = int(o.seed if o.seed is not None else quant.seed)
    p = net.params
    w = register_widths(f, lc, o.acc_bits, profile.name)
    tr = trace_constants(f, quant, p)
    adapt, qa_mant = _adaptation(rule, quant, elig, p, tr.s_psi)
    head = 2 if o.elig_headroom_bits is None else int(o.elig_headroom_bits)
    e_shift = eligibility_shift(tr.tmax, tr.kappa_q, w.elig, head)
    B_mant, b_exp = feedback_mantissas(rulebook.get(rule.name).feedback(net), w.weight)   # W_out^T or B
    emax_err = (1 << (w.err - 1)) - 1
    err_scale = emax_err / float(o.err_range)                     # error codes per unit of dE/do
    l_shift = signal_shift(B_mant, emax_err, w.ls, head if o.elig_headroom_bits is not None else 0)
    u = unit_values(tr, elig, e_shift, l_shift, b_exp, err_scale, p.c_kappa)
    lsb = (quant.lsb_in, quant.lsb_rec, quant.lsb_out)            # the quantiser's weight LSBs, saved with the rule
    lr = float(o.lr if o.lr is not None else rule.lr)
    reg = bool(rule.reg_rate > 0 and (rule.train_in or rule.train_rec))
    gt1, gr1 = _gains_at_n1(lr, u, lsb, p, rule.reg_rate, reg, w.frac)
    b = product_bounds(w, tr, e_shift, elig)
    pre_shift = pre_shifts(b)
    ct, cr, prod_shift, m_shift = _gain_numerators(gt1, gr1, pre_shift, b, elig, profile.name)
    check_update_resolution(gt1, b, elig, (rule.train_in, rule.train_rec, rule.train_out), o.batch, w, profile.name)
    train_out = bool(rule.train_out and lc.readout_learning)
    trace_round = _trace_rounding(o, lc, profile.name)
    trunc_note = truncation_note(elig, trace_round, int(quant.dk), f.decay_bits, (tr.tmax * tr.tmax) >> e_shift, w.elig)
    if trunc_note:
        warnings.warn(trunc_note, EligibilityTruncationWarning, stacklevel=4)   # 4: compile()'s caller
    lr_mode = o.lr_mode or "sgd"               # adam_equivalent only when asked (LowerRuleOptions docstring)
    calib_target = _calib_target(lr_mode, np.array([rule.train_in, rule.train_rec, train_out], bool), lr, lsb, w.frac)
    f0_code = int(round(rule.target_rate_hz * float(p.dt) * 1e-3 * 2 ** RATE_BITS))   # target spikes/step, Q15
    cr_ = CompiledRule(
        name=rule.name, eligibility=elig, rounding=rounding, seed=seed, trace_round=trace_round, adapt=adapt,
        psi_const=0, trace_bits=w.trace, elig_bits=w.elig, ls_bits=w.ls, err_bits=w.err, acc_bits=w.acc,
        weight_bits=w.weight, frac_bits=w.frac, pre_inc_in=tr.pre_inc_in, pre_inc_rec=tr.pre_inc_rec,
        kap_inc=tr.kap_inc, psi_shift=tr.psi_shift, e_shift=e_shift, m_shift=int(m_shift), pre_shift=pre_shift,
        q_frac=Q_FRAC, qa_shift=QA_SHIFT, qa_mant=qa_mant, B_mant=B_mant, b_exp=b_exp, l_shift=l_shift,
        err_scale=float(err_scale), ct=ct, cr=cr, prod_shift=prod_shift,
        calib_target=np.asarray(calib_target, np.float64), reg=reg, rate_bits=RATE_BITS,
        rate_shift=int(o.rate_tau_shift), f0_code=f0_code, bias_gain=float(lr * u.err), train_in=bool(rule.train_in),
        train_rec=bool(rule.train_rec), train_out=train_out, train_bias=bool(train_out and rule.train_bias),
        w_min=int(f.w_min), w_max=int(f.w_max), lr=lr, reg_rate=float(rule.reg_rate),
        target_rate_hz=float(rule.target_rate_hz), batch=int(o.batch), w_lsb=np.array(list(lsb), np.float64),
        scales=u.scales())
    return cr_, _report(cr_, rule, o, lc, lr_mode, gt1, gr1, list(lsb), trunc_note)


def _report(r: CompiledRule, rule: LearningRule, o: LowerRuleOptions, lc, lr_mode: str, gt1: np.ndarray,
            gr1: np.ndarray, w_lsb: list, trunc_note: str | None) -> dict:
    """The pass's report (``compiled.report['rule']``): the lowered rule ``r`` restated for people (widths, shifts,
    gains, where lr came from and why the chip's step is the float one), the gains at N = 1 (gt1, gr1:
    accumulator units per product), the weight LSBs and the truncation warning, if any."""
    report = {
        "status": "lowered", "rule": rule.name, "eligibility": r.eligibility, "rounding": r.rounding,
        "trace_rounding": r.trace_round, "seed": r.seed,
        "optimizer": "sgd (on chip)" + (f"; float rule used {rule.optimizer}" if rule.optimizer != "sgd" else ""),
        "lr": {"float": r.lr, "source": "LowerRuleOptions.lr" if o.lr is not None else "rule.lr", "mode": lr_mode,
               "normalisation": "mean over the batch (n_b trials for 'mse', masked steps for 'ce'), per batch",
               "why": ("the float rule uses Adam, whose first step moves every weight by ~lr; on chip each matrix "
                       "gets, on its first batch with an update, the power-of-two gain making its rms step lr "
                       "(calib_target, in accumulator units), then plain SGD"
                       if lr_mode == "adam_equivalent" else "plain SGD at lr, exactly the float SGD step"),
               "calib_target_acc_units": r.calib_target.tolist()},
        "batch": r.batch,
        "regulariser": ({"reg_rate": r.reg_rate, "target_rate_hz": r.target_rate_hz, "rate_bits": RATE_BITS,
                         "rate_tau_steps": 2 ** r.rate_shift, "f0_code": r.f0_code,
                         "pairs_with": "unfiltered e (per_synapse) / psi (factorised)"}
                        if r.reg else "off (reg_rate = 0)"),
        "adaptation_eligibility": r.adapt, "readout_learning": r.train_out, "bias_learning": r.train_bias,
        "widths": {"trace": r.trace_bits, "elig": r.elig_bits, "learning_signal": r.ls_bits, "error": r.err_bits,
                   "accumulator": r.acc_bits, "frac": r.frac_bits, "profile_accumulator": int(lc.accumulator_bits)},
        "shifts": {"psi": r.psi_shift, "e": r.e_shift, "m": r.m_shift, "pre": r.pre_shift.tolist(), "l": r.l_shift,
                   "b_exp": r.b_exp, "prod": r.prod_shift.tolist(), "rate_tau": r.rate_shift},
        "increments": {"pre_in": r.pre_inc_in, "pre_rec": r.pre_inc_rec, "zkap": r.kap_inc},
        "gains": {"ct": r.ct.tolist(), "cr": r.cr.tolist(),
                  "task_acc_units_per_product_at_N1": gt1.tolist(), "reg_acc_units_per_product_at_N1": gr1.tolist()},
        "w_lsb": w_lsb,
    }
    if trunc_note:
        report["trace_rounding_warning"] = trunc_note
    return report
