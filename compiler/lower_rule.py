"""Pass: lower a float `LearningRule` (e-prop family, RFLO) to its on-chip fixed-point form.

``lower_rule(net, rule, profile, quant, options=None) -> (CompiledRule, report)``. The integer
semantics of every field are in docs/fixed_point.md, section "Learning (on-chip e-prop)", implemented
by ``neurochip.kernels.eprop_fixed``. In short (all integers; D = decay_bits; per step t):

    xbar_i  = decay(xbar_i, dv) + pre_inc_in  * x_i^t          (input pre trace, trace_bits unsigned)
    zbar_i  = decay(zbar_i, dv) + pre_inc_rec * z_i^{t-1}      (recurrent pre trace)
    psi_j   = max(0, vth_eff - |v_j - A_j|) >> psi_shift        (0 while refractory; trace_bits)
    per_synapse:  h_ji  = decay(h_ji, da) + rnd((q_j^{t-1} (pre_i^{t-1} - h_ji)) >> q_frac)   (ALIF eps^a)
                  e_ji  = rnd(psi_j (pre_i - h_ji) >> e_shift);  ebar_ji = decay(ebar_ji, dk) + e_ji
    factorised:   pbar_j = decay(pbar_j, dk) + psi_j;  ebar_ji ~ rnd(L_j pbar_j >> m_shift) * pre_i
    L_j     = rnd(sum_k B_jk err_k >> l_shift)                   (err_k = rnd(err_scale * dE/do_k))
    acc_ji += rnd(L_j ebar_ji lr_mant[p] >> lr_shift[p])         (accumulator_bits, saturating)
    readout: zkap_j = decay(zkap_j, dk) + kap_inc z_j^t;  acc_kj += rnd(err_k zkap_j lr_mant[2] >> lr_shift[2])
    epoch end: w -= round_{nearest|stochastic}(acc >> frac_bits), clipped to [w_min, w_max]; acc = 0

with q_j = (qa_mant_j psi_j) >> qa_shift (= c_a beta_j psi_j in Q``q_frac``). The lr constants fold the
float learning rate, every scale above, c_kappa and the weight LSB of each projection, so that
``acc >> frac_bits`` is the SGD step ``-lr * sum_t L_j ebar_ji`` in weight mantissa units.

On chip the optimiser is plain SGD (no Adam moments) with the per-step, per-trial error (no batch
normalisation); the firing-rate regulariser is not lowered (optional on chip; reported).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..chips.profile import ChipProfile
from ..errors import ChipConstraintError, ConfigError, Violation
from ..rules import LearningRule

Q_FRAC = 16          # fraction bits of the per-neuron adaptation-eligibility gain q_j
QA_SHIFT = 16        # q_j = (qa_mant_j * psi_j) >> QA_SHIFT
LR_MANT_BITS = 8     # 'mantissa_exp' learning rates: 8-bit unsigned mantissa


@dataclass(frozen=True)
class LowerRuleOptions:
    """err_range: |dE/do| that maps to the largest error code (1 for 'ce': softmax - onehot is in [-1, 1];
    for 'mse' the largest expected |out - target|); lr: on-chip SGD rate (None: rule.lr); epoch_steps:
    apply the accumulated weight change every this many steps (0: at the end of each trial);
    eligibility / rounding: override the rule's / quantiser's choice (None: keep); elig_headroom_bits:
    bits of the worst-case eligibility bound given up for resolution (saturation is counted)."""

    err_range: float = 1.0
    lr: float | None = None
    epoch_steps: int = 0
    eligibility: str | None = None
    rounding: str | None = None
    seed: int | None = None
    elig_headroom_bits: int = 0

    def __post_init__(self) -> None:
        if not (self.err_range > 0 and math.isfinite(self.err_range)):
            raise ConfigError(f"err_range must be a finite number > 0 (units of dE/do), got {self.err_range!r}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a finite number > 0, got {self.lr!r}")
        if self.epoch_steps < 0:
            raise ConfigError(f"epoch_steps must be >= 0 (0 = per trial), got {self.epoch_steps!r}")


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """Fixed-point learning constants (scalars, strings, numpy arrays only; see the module docstring).

    Widths: trace_bits (unsigned pre/post traces), elig_bits (signed per-synapse ebar / h), ls_bits
    (signed learning signal), err_bits (signed error code), acc_bits (signed accumulator), weight_bits.
    lr_mant / lr_shift: int64 [3] for (in, rec, out). B_mant: int32 [n_rec, n_out] feedback mantissas
    (exponent b_exp: B_float ~= B_mant / 2^b_exp). qa_mant: int64 [n_rec] adaptation-eligibility gains.
    ``scales`` float64 [8]: float value of one integer unit of (pre_in, pre_rec, psi, ebar_in, ebar_rec,
    L, err, zkap), for validation and docs.
    """

    name: str
    eligibility: str
    rounding: str
    seed: int
    trace_round: str            # 'trunc' | 'stochastic': rounding of the per-neuron trace decays
    adapt: bool                 # eps^a (ALIF adaptation eligibility) kept
    psi_const: int              # 0: pseudo-derivative; > 0: fixed psi code (RFLO)
    epoch_steps: int
    trace_bits: int
    elig_bits: int
    ls_bits: int
    err_bits: int
    acc_bits: int
    weight_bits: int
    frac_bits: int
    pre_inc_in: int
    pre_inc_rec: int
    kap_inc: int
    psi_shift: int
    e_shift: int
    m_shift: int
    q_frac: int
    qa_shift: int
    qa_mant: np.ndarray
    B_mant: np.ndarray
    b_exp: int
    l_shift: int
    err_scale: float
    lr_mant: np.ndarray
    lr_shift: np.ndarray
    train_in: bool
    train_rec: bool
    train_out: bool
    w_min: int
    w_max: int
    lr: float
    scales: np.ndarray

    def to_dict(self) -> dict:
        d = {}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return d


def _bitlen(x: float) -> int:
    """Bits needed for a non-negative magnitude x (0 -> 0)."""
    return 0 if x < 1 else int(math.floor(math.log2(x))) + 1


def _lr_code(g: float, fmt: str) -> tuple[int, int]:
    """(mant, shift) with mant * 2^-shift ~= g > 0: a power of two for 'shift', 8-bit mantissa otherwise."""
    if g <= 0 or not math.isfinite(g):
        return 0, 0
    if fmt == "shift":
        return 1, int(round(-math.log2(g)))
    e = math.floor(math.log2(g))
    shift = (LR_MANT_BITS - 1) - e             # mant in [2^(bits-1), 2^bits)
    mant = int(round(g * 2.0 ** shift))
    if mant >= 1 << LR_MANT_BITS:
        mant //= 2
        shift -= 1
    return mant, shift


def lower_rule(net, rule: LearningRule, profile: ChipProfile, quant, options: LowerRuleOptions | None = None):
    """Lower ``rule`` for ``net`` (the float `Network` / `SparseNetwork`) on ``profile`` with the
    quantiser's result ``quant`` (`compiler.quantize.Quantized`). Returns (CompiledRule, report dict).

    Raises `ChipConstraintError` when the profile has no on-chip learning or lacks the eligibility
    form, `ConfigError` for a rule without a local form (bptt) or bad options."""
    o = options or LowerRuleOptions()
    lc, f = profile.learning, profile.format
    viol = []
    if not lc.supported:
        viol.append(Violation("learning_supported", f"chip {profile.name}", "on-chip learning", "none"))
    if not rule.is_local:
        raise ConfigError(f"rule {rule.name!r} has no local online form a chip can run; on-chip rules: "
                          "eprop_symmetric, eprop_random, eprop_adaptive, rflo")
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
    seed = int(o.seed if o.seed is not None else getattr(quant, "seed", 0))

    p = net.params
    S, D = f.threshold_shift, f.decay_bits
    one = float(1 << D)
    tb = int(f.trace_bits)
    elig_bits = min(tb + 1, 32)                 # one extra sign bit: ebar and h can go negative (ALIF)
    ls_bits = min(tb + 1, 32)
    err_bits = min(tb + 1, 16)
    wb = int(f.weight_bits)
    acc_bits = max(int(lc.accumulator_bits), wb)
    frac = acc_bits - wb                         # accumulator holds the weight change in 2^-frac LSBs
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
    adapt = (rule.name != "rflo" and quant.neuron_kind == "alif" and elig == "per_synapse"
             and bool(np.asarray(quant.beta_mant).any()))
    # e = psi * pre >> e_shift; ebar = kappa-leaky sum of e (unnormalised): bound psi_max pre_max / (1 - kappa)
    e_bound = tmax * tmax / max(1e-12, 1.0 - kappa_q)
    e_shift = max(0, _bitlen(e_bound) - (elig_bits - 1) - int(o.elig_headroom_bits))
    # factorised: m_j = L_j * pbar_j >> m_shift fits elig_bits
    pbar_bound = tmax / max(1e-12, 1.0 - kappa_q)
    m_shift = max(0, _bitlen(pbar_bound) + ls_bits - 1 - (elig_bits - 1) - int(o.elig_headroom_bits))
    # ALIF eps^a gain q_j = c_a beta_j psi_j (dimensionless) in Q16: (qa_mant_j psi_code) >> QA_SHIFT
    n_rec = int(quant.beta_mant.shape[0])
    if adapt:
        beta_q = np.asarray(quant.beta_mant, np.float64) * quant.scale_a / (quant.scale_v * 2.0 ** quant.beta_shift)
        qa_mant = np.round(p.c_a * beta_q / s_psi * 2.0 ** (Q_FRAC + QA_SHIFT)).astype(np.int64)
    else:
        qa_mant = np.zeros(n_rec, np.int64)
    # Feedback: symmetric e-prop uses W_out^T, random/adaptive B (fixed on chip), rflo B.
    F = np.asarray(net.w_out, np.float64).T if rule.name == "eprop_symmetric" else np.asarray(net.B, np.float64)
    if hasattr(F, "toarray"):
        F = F.toarray()
    fmax = float(np.abs(F).max()) if F.size else 0.0
    wmax = (1 << (wb - 1)) - 1
    b_exp = int(math.floor(math.log2(wmax / fmax))) if fmax > 0 else 0
    B_mant = np.clip(np.round(F * 2.0 ** b_exp), -wmax, wmax).astype(np.int32)
    emax = (1 << (err_bits - 1)) - 1
    err_scale = emax / float(o.err_range)
    l_bound = float(np.abs(B_mant).sum(axis=1).max()) * emax if B_mant.size else 1.0
    l_shift = max(0, _bitlen(l_bound) - (ls_bits - 1) - int(o.elig_headroom_bits))
    # Float value of one unit of each integer quantity.
    u_err = 1.0 / err_scale
    u_L = 2.0 ** l_shift / (2.0 ** b_exp * err_scale)
    u_psi = 1.0 / s_psi
    u_ebar_in = p.c_kappa * 2.0 ** e_shift / (s_psi * s_pre_in)
    u_ebar_rec = p.c_kappa * 2.0 ** e_shift / (s_psi * s_pre_rec)
    u_zkap = 1.0 / kap_inc                      # zkap_f = kappa-filtered z (unnormalised, incl. current)
    if elig == "factorised":                    # ebar ~ (L pbar >> m_shift) * pre : unit of L*ebar
        u_g_in = u_L * p.c_kappa * u_psi * 2.0 ** m_shift / s_pre_in / u_L
        u_g_rec = u_L * p.c_kappa * u_psi * 2.0 ** m_shift / s_pre_rec / u_L
    else:
        u_g_in, u_g_rec = u_ebar_in, u_ebar_rec
    # weight LSBs (float weight per mantissa unit), see compiler.quantize
    lsb_in = 2.0 ** (quant.w_in.exp + S) / (p.c_in * quant.scale_v)
    lsb_rec = 2.0 ** (quant.w_rec.exp + S) / (p.c_in * quant.scale_v)
    lsb_out = 2.0 ** (quant.w_out.exp + S) / (p.c_kappa * quant.scale_out)
    lr = float(o.lr if o.lr is not None else rule.lr)
    g_in = lr * u_L * u_g_in * 2.0 ** frac / lsb_in
    g_rec = lr * u_L * u_g_rec * 2.0 ** frac / lsb_rec
    g_out = lr * p.c_kappa * u_err * u_zkap * 2.0 ** frac / lsb_out
    codes = [_lr_code(g, lc.lr_format) for g in (g_in, g_rec, g_out)]
    lr_mant = np.array([c[0] for c in codes], np.int64)
    lr_shift = np.array([c[1] for c in codes], np.int64)
    train_out = bool(rule.train_out and lc.readout_learning)
    trace_round = "stochastic" if rounding == "stochastic" else "trunc"
    cr = CompiledRule(
        name=rule.name, eligibility=elig, rounding=rounding, seed=seed, trace_round=trace_round, adapt=adapt,
        psi_const=int(psi_const), epoch_steps=int(o.epoch_steps), trace_bits=tb, elig_bits=elig_bits,
        ls_bits=ls_bits, err_bits=err_bits, acc_bits=acc_bits, weight_bits=wb, frac_bits=frac,
        pre_inc_in=pre_inc_in, pre_inc_rec=pre_inc_rec, kap_inc=kap_inc, psi_shift=psi_shift, e_shift=e_shift,
        m_shift=m_shift, q_frac=Q_FRAC, qa_shift=QA_SHIFT, qa_mant=qa_mant, B_mant=B_mant, b_exp=b_exp,
        l_shift=l_shift, err_scale=float(err_scale), lr_mant=lr_mant, lr_shift=lr_shift,
        train_in=bool(rule.train_in), train_rec=bool(rule.train_rec), train_out=train_out,
        w_min=int(f.w_min), w_max=int(f.w_max), lr=lr,
        scales=np.array([1.0 / s_pre_in, 1.0 / s_pre_rec, u_psi, u_ebar_in, u_ebar_rec, u_L, u_err, u_zkap]))
    eff = [float(m) * 2.0 ** -float(s) if m else 0.0 for m, s in codes]
    report = {
        "status": "lowered", "rule": rule.name, "eligibility": elig, "rounding": rounding, "seed": seed,
        "optimizer": "sgd (on chip)" + (f"; float rule used {rule.optimizer}" if rule.optimizer != "sgd" else ""),
        "reg_rate": "not lowered (firing-rate regulariser is optional on chip)" if rule.reg_rate else 0.0,
        "adaptation_eligibility": adapt, "readout_learning": train_out,
        "widths": {"trace": tb, "elig": elig_bits, "learning_signal": ls_bits, "error": err_bits,
                   "accumulator": acc_bits, "frac": frac},
        "shifts": {"psi": psi_shift, "e": e_shift, "m": m_shift, "l": l_shift, "b_exp": b_exp},
        "increments": {"pre_in": pre_inc_in, "pre_rec": pre_inc_rec, "zkap": kap_inc},
        "lr": {"float": lr, "wanted": [g_in, g_rec, g_out], "mant": lr_mant.tolist(), "shift": lr_shift.tolist(),
               "effective": eff, "rel_error": [abs(e / g - 1) if g else 0.0 for e, g in zip(eff, (g_in, g_rec, g_out))]},
    }
    return cr, report


def relower(compiled, rule: LearningRule, options: LowerRuleOptions | None = None):
    """A copy of ``compiled`` with ``rule`` lowered again (e.g. another learning rate, eligibility form or
    rounding) from the artifact alone: the quantiser's decisions are read back from its fields."""
    from dataclasses import replace
    from types import SimpleNamespace

    from ..network import NeuronParams

    if compiled.profile is None or not compiled.float_params:
        raise ConfigError("relower needs a compiled network with its profile and float_params")
    p = NeuronParams.from_dict(dict(compiled.float_params))
    scale_a = 1.0
    if int(compiled.a_inc) > 0:                 # quantize: a_inc = round(c_a * scale_a), scale_a a power of 2
        scale_a = 2.0 ** round(math.log2(int(compiled.a_inc) / p.c_a))
    quant = SimpleNamespace(
        vth=int(compiled.vth), dv=int(compiled.dv), dk=int(compiled.dk), da=int(compiled.da), n_ref=int(compiled.n_ref),
        neuron_kind=compiled.neuron_kind, beta_mant=np.asarray(compiled.beta_mant), beta_shift=int(compiled.beta_shift),
        scale_v=float(compiled.scale_v), scale_out=float(compiled.scale_out), scale_a=scale_a,
        w_in=SimpleNamespace(exp=int(compiled.e_in)), w_rec=SimpleNamespace(exp=int(compiled.e_rec)),
        w_out=SimpleNamespace(exp=int(compiled.e_out)), rounding="nearest", seed=0)
    if compiled.w_out_float is None or compiled.B_float is None:
        raise ConfigError("relower needs the artifact's w_out_float and B_float (the source float network)")
    net = SimpleNamespace(params=p, w_out=np.asarray(compiled.w_out_float), B=np.asarray(compiled.B_float))
    cr, rep = lower_rule(net, rule, compiled.profile, quant, options)
    report = dict(compiled.report)
    report["rule"] = rep
    return replace(compiled, rule=cr, report=report)
