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

Q_FRAC = 16          # fraction bits of the per-neuron adaptation-eligibility gain q_j
QA_SHIFT = 16        # q_j = (qa_mant_j * psi_j) >> QA_SHIFT
RATE_BITS = 15       # rate trace f_j: 1 spike per step = 2^15 (0 <= f <= 2^15: a 16-bit unsigned per-neuron register)
PROD_MAX_BITS = 61   # |L Gt ebar + r Gr e| < 2^61 at N = 1: the sum of both terms stays inside int64
ACC_BITS_DEFAULT = 32  # batch accumulator (master-weight fraction, persistent), reference section 6.2
PRE_BITS = 24        # raw products wider than this are rounded down before the gain multiplies them
MIN_FRAC_BITS = 4    # fewer residual bits below the weight LSB: sub-LSB updates cannot accumulate


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


def _bitlen(x: float) -> int:
    """Bits needed for a non-negative magnitude x (0 -> 0)."""
    return 0 if x < 1 else int(math.floor(math.log2(x))) + 1


def _gain(g1: float, bound1: float, name: str, profile: str) -> int:
    """Product shift for a projection whose largest product at shift 0 is g1 * bound1 accumulator units:
    the largest shift keeping it below 2^PROD_MAX_BITS (so the product never leaves int64), at most 62."""
    if g1 <= 0:
        return 62
    s = int(math.floor(PROD_MAX_BITS - math.log2(g1 * max(bound1, 1.0))))
    if s < 1:
        raise ChipConstraintError(Violation("learning_rate_range", f"projection {name}",
                                            f"product gain {g1:.3g} accumulator units (<= 2^{PROD_MAX_BITS - 1})",
                                            "learning rate too large for the accumulator: lower lr"), profile)
    return s


def lower_rule(net, rule: LearningRule, profile: ChipProfile, quant, options: LowerRuleOptions | None = None):
    """Lower ``rule`` for ``net`` (the float `Network` / `SparseNetwork`) on ``profile`` with the
    quantiser's result ``quant`` (`compiler.quantize.Quantized`, or its `QuantDecisions`). Returns (CompiledRule, report dict).

    Raises `ChipConstraintError` when the profile has no on-chip learning, lacks the eligibility form or
    rounding, or cannot represent the update (accumulator too narrow, learning rate out of range), and
    `ConfigError` for a rule without a local form (bptt) or bad options."""
    o = options or LowerRuleOptions()
    lc, f = profile.learning, profile.format
    viol = []
    if not lc.supported:
        viol.append(Violation("learning_supported", f"chip {profile.name}", "on-chip learning", "none"))
    if not rule.is_local:
        raise ConfigError(f"rule {rule.name!r} has no local online form a chip can run; on-chip rules: "
                          f"{', '.join(rulebook.local_names())}")
    if rulebook.get(rule.name).lower is not None:
        # the STDP family has its own lowering and learning run (Loihi's sum-of-products engine); lowered here
        # it would become e-prop with zero feedback, i.e. not the rule: refuse rather than mislabel
        raise ConfigError(f"rule {rule.name!r} runs on chip through its own lowering (compile() lowers it into the "
                          f"artifact's plasticity, docs/rules.md), not lower_rule; e-prop-family rules: "
                          f"{', '.join(n for n in rulebook.local_names() if rulebook.get(n).lower is None)}")
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
    from .quantize import QuantDecisions
    quant = quant if isinstance(quant, QuantDecisions) else QuantDecisions.of(quant)
    seed = int(o.seed if o.seed is not None else quant.seed)

    p = net.params
    S, D = f.threshold_shift, f.decay_bits
    one = float(1 << D)
    tb = int(f.trace_bits)
    wb = int(f.weight_bits)
    # a per-synapse eligibility (Loihi: a tag / synaptic variable) is as wide as a weight, and at least a
    # trace plus a sign bit (ALIF makes e negative)
    elig_bits = min(max(tb + 1, wb), 32)
    ls_bits = min(tb + 1, 32)
    err_bits = min(tb + 1, 16)
    acc_bits = int(o.acc_bits) if o.acc_bits is not None else max(int(lc.accumulator_bits), ACC_BITS_DEFAULT)
    frac = acc_bits - wb                         # accumulator holds the master weight's fraction, 2^-frac LSB
    if frac < MIN_FRAC_BITS:
        raise ChipConstraintError(Violation(
            "learning_accumulator_bits", f"chip {profile.name}",
            f">= {wb + MIN_FRAC_BITS} bits ({wb}-bit weights + {MIN_FRAC_BITS} residual bits below the LSB)",
            f"{acc_bits} bits"), profile.name)
    alpha_q = (one - quant.dv) / one
    kappa_q = (one - quant.dk) / one
    tmax = (1 << tb) - 1
    n_ref = max(1, int(quant.n_ref))
    # Pre traces: an input may spike every step (bound 1/(1 - alpha)), a recurrent neuron every n_ref steps.
    pre_inc_in = max(1, int(math.floor(tmax * (1.0 - alpha_q))))
    pre_inc_rec = max(1, int(math.floor(tmax * (1.0 - alpha_q ** n_ref))))
    kap_inc = max(1, int(math.floor(tmax * (1.0 - kappa_q ** n_ref))))
    s_pre_in = pre_inc_in / p.c_in               # integer units per float unit of xbar (c_in folded)
    s_pre_rec = pre_inc_rec / p.c_in
    vth_eff = int(quant.vth) << S
    psi_shift = max(0, _bitlen(vth_eff) - tb)
    s_psi = vth_eff * p.v_th / (p.gamma_pd * 2.0 ** psi_shift)   # psi code per float psi (1/v units)
    # RFLO (Murray 2019) keeps the post-synaptic derivative (phi', here the pseudo-derivative) and drops
    # the adaptation eligibility, exactly as the float rule (neurochip.learning): psi_const stays 0.
    psi_const = 0
    adapt = (rulebook.get(rule.name).onchip_adapt and quant.neuron_kind == "alif" and elig == "per_synapse"
             and bool(np.asarray(quant.beta_mant).any()))
    # e = psi * pre >> e_shift; ebar = kappa-leaky sum of e (unnormalised): worst case psi_max pre_max / (1 - kappa).
    # The worst case needs every input to spike every step while psi sits at its peak; headroom bits trade
    # that range for resolution (saturation is counted; default: 2 bits, ebar still within 1/4 of the bound)
    head = 2 if o.elig_headroom_bits is None else int(o.elig_headroom_bits)
    e_bound = tmax * tmax / max(1e-12, 1.0 - kappa_q)
    e_shift = max(0, _bitlen(e_bound) - (elig_bits - 1) - head)
    # ALIF eps^a gain q_j = c_a beta_j psi_j (dimensionless) in Q16: (qa_mant_j psi_code) >> QA_SHIFT
    n_rec = int(quant.beta_mant.shape[0])
    if adapt:
        beta_q = np.asarray(quant.beta_mant, np.float64) * quant.scale_a / (quant.scale_v * 2.0 ** quant.beta_shift)
        qa_mant = np.round(p.c_a * beta_q / s_psi * 2.0 ** (Q_FRAC + QA_SHIFT)).astype(np.int64)
    else:
        qa_mant = np.zeros(n_rec, np.int64)
    # Feedback: symmetric e-prop uses W_out^T, random/adaptive B (fixed on chip), rflo B.
    F = np.asarray(rulebook.get(rule.name).feedback(net), np.float64)   # the rule's feedback, fixed on chip
    if hasattr(F, "toarray"):
        F = F.toarray()
    fmax = float(np.abs(F).max()) if F.size else 0.0
    wmax = (1 << (wb - 1)) - 1
    b_exp = int(math.floor(math.log2(wmax / fmax))) if fmax > 0 else 0
    B_mant = np.clip(np.round(F * 2.0 ** b_exp), -wmax, wmax).astype(np.int32)
    emax_err = (1 << (err_bits - 1)) - 1
    err_scale = emax_err / float(o.err_range)
    l_bound = float(np.abs(B_mant).sum(axis=1).max()) * emax_err if B_mant.size else 1.0
    l_shift = max(0, _bitlen(l_bound) - (ls_bits - 1) - (head if o.elig_headroom_bits is not None else 0))
    # Float value of one unit of each integer quantity.
    u_err = 1.0 / err_scale
    u_L = 2.0 ** l_shift / (2.0 ** b_exp * err_scale)
    u_psi = 1.0 / s_psi
    if elig == "factorised":                    # product (L psi) prek: ebar_f ~ c_kappa psi x kappa-filtered pre
        u_e_in, u_e_rec = u_psi / s_pre_in, u_psi / s_pre_rec
    else:                                       # e = psi (pre - h) >> e_shift
        u_e_in = 2.0 ** e_shift / (s_psi * s_pre_in)
        u_e_rec = 2.0 ** e_shift / (s_psi * s_pre_rec)
    u_ebar_in, u_ebar_rec = p.c_kappa * u_e_in, p.c_kappa * u_e_rec
    u_zkap = 1.0 / kap_inc                      # zkap_f = kappa-filtered z (unnormalised, incl. current)
    # weight LSBs (float weight per mantissa unit): the quantiser's decision, saved with the rule
    lsb_in, lsb_rec, lsb_out = quant.lsb_in, quant.lsb_rec, quant.lsb_out
    lr = float(o.lr if o.lr is not None else rule.lr)
    dt = float(p.dt)
    reg = bool(rule.reg_rate > 0 and (rule.train_in or rule.train_rec))
    f0_step = rule.target_rate_hz * dt * 1e-3                    # target spikes per step
    f0_code = int(round(f0_step * 2 ** RATE_BITS))
    # float weight change per integer product, in accumulator units (2^-frac LSB), at normaliser N = 1:
    #   task:  lr u_L u_ebar / lsb          (float SGD: -lr/N sum_t L ebar)
    #   reg:   lr 2 c_reg u_e / (lsb 2^RATE_BITS dt^2)   (float: dE_reg/dz = 2 c (f - f0) / (B T dt), f in kHz)
    #   out:   lr c_kappa u_err u_zkap / lsb_out
    two_f = 2.0 ** frac
    gt1 = np.array([lr * u_L * u_ebar_in / lsb_in, lr * u_L * u_ebar_rec / lsb_rec,
                    lr * p.c_kappa * u_err * u_zkap / lsb_out]) * two_f
    gr1 = np.array([lr * 2.0 * rule.reg_rate * u_e_in / (lsb_in * 2 ** RATE_BITS * dt * dt),
                    lr * 2.0 * rule.reg_rate * u_e_rec / (lsb_rec * 2 ** RATE_BITS * dt * dt), 0.0]) * two_f
    if not reg:
        gr1[:] = 0.0
    lmax = (1 << (ls_bits - 1)) - 1
    ebmax = (1 << (elig_bits - 1)) - 1
    rmax = float(1 << RATE_BITS)
    pkmax = tmax / max(1e-12, 1.0 - kappa_q) + tmax              # kappa-filtered pre trace (factorised)
    emax_p = float(2 * tmax * tmax >> e_shift) + 1.0             # |e| <= psi_max |pre - h| >> e_shift
    kapmax = kap_inc / max(1e-12, 1.0 - kappa_q ** n_ref) + kap_inc
    # Raw integer products (L ebar or L psi, r e or r psi, err zkap) wider than PRE_BITS are first rounded down
    # by pre_shift so the gain multiplying them keeps >= 61 - PRE_BITS - 1 bits (0 at Loihi 2 widths).
    b_task = (lmax * tmax) if elig == "factorised" else (lmax * ebmax)
    b_reg = rmax * (tmax if elig == "factorised" else emax_p)
    b_out = emax_err * kapmax
    pre_shift = np.array([max(0, _bitlen(b) - PRE_BITS) for b in (b_task, b_reg, b_out)], np.int64)
    gt1p = gt1 * np.array([2.0 ** pre_shift[0], 2.0 ** pre_shift[0], 2.0 ** pre_shift[2]])
    gr1p = gr1 * 2.0 ** pre_shift[1]
    shifts, m_shift = [], 0
    for pi, name in enumerate(("in", "rec", "out")):
        if pi == 2:
            b1 = b_out / 2.0 ** pre_shift[2] * gt1p[2]
        else:
            # factorised: two roundings, per neuron M_j = rnd((... Gt + ... Gr) >> m_shift) (a wide register), then
            # per synapse rnd((M_j pre) >> prod_shift); the total shift may exceed 62 (wide traces need it)
            b1 = b_task / 2.0 ** pre_shift[0] * gt1p[pi] + b_reg / 2.0 ** pre_shift[1] * gr1p[pi]
        shifts.append(_gain(b1, 1.0, name, profile.name))
    if elig == "factorised":
        # |Mt_j| + |Mr_j| < 2^(61 - m_shift) and prek < 2^bitlen(pkmax): m_shift >= bitlen(pkmax) keeps the row
        # product inside int64; more when the total shift exceeds what one int64 shift can do (wide traces: tiny
        # units), so ct keeps its resolution
        m_shift = max(min(min(shifts[:2]) - 1, _bitlen(pkmax)), max(shifts[:2]) - 62, 0)
        shifts = [shifts[0] - m_shift, shifts[1] - m_shift, shifts[2]]
    shifts = [min(sh, 62) for sh in shifts]                          # a shift of an int64 by at most 62
    tot_shift = [sh + (m_shift if pi < 2 else 0) for pi, sh in enumerate(shifts)]
    prod_shift = np.array(shifts, np.int64)
    ct = np.array([int(round(g * 2.0 ** s)) for g, s in zip(gt1p, tot_shift)], np.int64)
    cr = np.array([int(round(g * 2.0 ** s)) for g, s in zip(gr1p, tot_shift)], np.int64)
    # Resolution: the largest single task product of a batch of ``o.batch`` trials (N = batch, 'mse'
    # normaliser; 'ce' divides further by the masked steps) must reach half an accumulator unit, or every
    # product rounds to zero and the projection never learns.
    small = []
    for pi, name in enumerate(("in", "rec", "out")):
        big = (emax_err * kapmax if pi == 2 else lmax * (tmax * pkmax if elig == "factorised" else ebmax)) * gt1[pi]
        per = big / o.batch
        trained = (rule.train_in, rule.train_rec, rule.train_out)[pi]
        if trained and per < 0.5:
            small.append(Violation("learning_update_resolution", f"projection {name}",
                                   f"largest product {per:.3g} accumulator units >= 0.5 (2^-{frac} weight LSB each)",
                                   f"{acc_bits}-bit accumulator; raise lr or acc_bits"))
    if small:
        raise ChipConstraintError(small, profile.name)
    train_out = bool(rule.train_out and lc.readout_learning)
    # Trace decays (and e) round stochastically wherever the chip can (Loihi's engine does, Davies 2018): a
    # truncating decay of a 7-bit trace whose impulse is ~6 units loses most of it within a few steps
    # (measured: w_in update norm 0.03 of float at loihi2 widths), a nearest decay sticks below 1/(2(1-alpha)).
    trace_round = o.trace_rounding or ("stochastic" if "stochastic" in lc.rounding else "trunc")
    if lc.supported and trace_round == "stochastic" and "stochastic" not in lc.rounding:
        raise ChipConstraintError(Violation("learning_rounding", f"chip {profile.name}", "stochastic trace rounding",
                                            ", ".join(lc.rounding)), profile.name)
    trunc_note = truncation_note(elig, trace_round, int(quant.dk), D, (tmax * tmax) >> e_shift, elig_bits)
    if trunc_note:
        warnings.warn(trunc_note, EligibilityTruncationWarning, stacklevel=4)
    bias_gain = lr * u_err
    lr_mode = o.lr_mode or "sgd"               # adam_equivalent only when asked (LowerRuleOptions docstring)
    trained = np.array([rule.train_in, rule.train_rec, train_out], bool)
    calib_target = np.where(trained, lr / np.array([lsb_in, lsb_rec, lsb_out]) * two_f, 0.0) \
        if lr_mode == "adam_equivalent" else np.zeros(3)
    cr_ = CompiledRule(
        name=rule.name, eligibility=elig, rounding=rounding, seed=seed, trace_round=trace_round, adapt=adapt,
        psi_const=int(psi_const), trace_bits=tb, elig_bits=elig_bits,
        ls_bits=ls_bits, err_bits=err_bits, acc_bits=acc_bits, weight_bits=wb, frac_bits=frac,
        pre_inc_in=pre_inc_in, pre_inc_rec=pre_inc_rec, kap_inc=kap_inc, psi_shift=psi_shift, e_shift=e_shift,
        m_shift=int(m_shift), pre_shift=pre_shift, q_frac=Q_FRAC, qa_shift=QA_SHIFT, qa_mant=qa_mant, B_mant=B_mant, b_exp=b_exp,
        l_shift=l_shift, err_scale=float(err_scale), ct=ct, cr=cr, prod_shift=prod_shift,
        calib_target=np.asarray(calib_target, np.float64), reg=reg,
        rate_bits=RATE_BITS, rate_shift=int(o.rate_tau_shift), f0_code=f0_code, bias_gain=float(bias_gain),
        train_in=bool(rule.train_in), train_rec=bool(rule.train_rec), train_out=train_out,
        train_bias=bool(train_out and rule.train_bias), w_min=int(f.w_min), w_max=int(f.w_max), lr=lr,
        reg_rate=float(rule.reg_rate), target_rate_hz=float(rule.target_rate_hz), batch=int(o.batch),
        w_lsb=np.array([lsb_in, lsb_rec, lsb_out], np.float64),
        scales=np.array([1.0 / s_pre_in, 1.0 / s_pre_rec, u_psi, u_ebar_in, u_ebar_rec, u_L, u_err, u_zkap]))
    report = {
        "status": "lowered", "rule": rule.name, "eligibility": elig, "rounding": rounding, "trace_rounding": trace_round, "seed": seed,
        "optimizer": "sgd (on chip)" + (f"; float rule used {rule.optimizer}" if rule.optimizer != "sgd" else ""),
        "lr": {"float": lr, "source": "LowerRuleOptions.lr" if o.lr is not None else "rule.lr", "mode": lr_mode,
               "normalisation": "mean over the batch (n_b trials for 'mse', masked steps for 'ce'), per batch",
               "why": ("the float rule uses Adam, whose first step moves every weight by ~lr; on chip each matrix "
                       "gets, on its first batch with an update, the power-of-two gain making its rms step lr "
                       "(calib_target, in accumulator units), then plain SGD"
                       if lr_mode == "adam_equivalent" else "plain SGD at lr, exactly the float SGD step"),
               "calib_target_acc_units": np.asarray(calib_target).tolist()},
        "batch": int(o.batch),
        "regulariser": ({"reg_rate": float(rule.reg_rate), "target_rate_hz": float(rule.target_rate_hz),
                         "rate_bits": RATE_BITS, "rate_tau_steps": 2 ** int(o.rate_tau_shift), "f0_code": f0_code,
                         "pairs_with": "unfiltered e (per_synapse) / psi (factorised)"} if reg else "off (reg_rate = 0)"),
        "adaptation_eligibility": adapt, "readout_learning": train_out, "bias_learning": bool(train_out and rule.train_bias),
        "widths": {"trace": tb, "elig": elig_bits, "learning_signal": ls_bits, "error": err_bits,
                   "accumulator": acc_bits, "frac": frac, "profile_accumulator": int(lc.accumulator_bits)},
        "shifts": {"psi": psi_shift, "e": e_shift, "m": int(m_shift), "pre": pre_shift.tolist(), "l": l_shift, "b_exp": b_exp, "prod": prod_shift.tolist(),
                   "rate_tau": int(o.rate_tau_shift)},
        "increments": {"pre_in": pre_inc_in, "pre_rec": pre_inc_rec, "zkap": kap_inc},
        "gains": {"ct": ct.tolist(), "cr": cr.tolist(),
                  "task_acc_units_per_product_at_N1": gt1.tolist(), "reg_acc_units_per_product_at_N1": gr1.tolist()},
        "w_lsb": [lsb_in, lsb_rec, lsb_out],
    }
    if trunc_note:
        report["trace_rounding_warning"] = trunc_note
    return cr_, report


class EligibilityTruncationWarning(UserWarning):
    """Per-synapse eligibility with truncating trace decays: small values vanish (`truncation_note`)."""


def truncation_note(elig: str, trace_round: str, dk: int, D: int, e_top: int, elig_bits: int) -> str | None:
    """The warning for per-synapse eligibility under truncating decays, with its numbers, else None.

    ebar <- trunc(ebar (2^D - dk) / 2^D) + e: below x_min = ceil(2^D / dk) units the exact decay removes less than
    one unit per step, and truncation removes a whole one (a value x < x_min then lasts at most x steps instead
    of ~2^D / dk). With e at most ``e_top`` units per step (usually a few), most eligibility lives below x_min.
    Measured on the demo network at loihi2 widths: w_in receives 1-3 % of the float update's norm
    (docs/onchip_learning.md, "One accumulated update by batch size")."""
    if elig != "per_synapse" or trace_round != "trunc" or dk <= 0:
        return None
    x_min = -(-(1 << D) // dk)
    return (f"per-synapse eligibility with truncating trace decays: an eligibility value below {x_min} units "
            f"(of {(1 << (elig_bits - 1)) - 1}; one step's e is at most {e_top}) loses a whole unit per step instead of "
            f"1/{x_min} of itself, so small eligibility vanishes within a few steps and weights with sparse inputs "
            f"barely learn (measured: w_in gets 1-3 % of the float update at loihi2 widths); use stochastic trace "
            f"rounding where the chip has it")
