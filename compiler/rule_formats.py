"""Integer formats of a lowered e-prop-family rule (`compiler.lower_rule`): register widths, trace increments,
shifts, mantissas and the float value of one unit of each quantity; the bounds they are chosen against; and what
is refused or warned about when a format cannot hold the update (accumulator too narrow, lr out of range,
updates below resolution, truncating decays).

Pure functions over the profile's number format and the quantiser's decisions. A width is in bits (a signed
register spends one on the sign); a shift s divides by 2^s with rounding (``kernels.learn_trial``); a bound is
the largest magnitude a register can reach, in its own integer units; D = decay_bits. Integer semantics of every
quantity: `compiler.lower_rule`'s module docstring, docs/fixed_point.md "Learning (on-chip e-prop)".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ChipConstraintError, Violation

Q_FRAC = 16          # fraction bits of the per-neuron adaptation-eligibility gain q_j
QA_SHIFT = 16        # q_j = (qa_mant_j * psi_j) >> QA_SHIFT
RATE_BITS = 15       # rate trace f_j: 1 spike per step = 2^15 (0 <= f <= 2^15: a 16-bit unsigned per-neuron register)
PROD_MAX_BITS = 61   # |L Gt ebar + r Gr e| < 2^61 at N = 1: the sum of both terms stays inside int64
ACC_BITS_DEFAULT = 32  # batch accumulator (master-weight fraction, persistent), reference section 6.2
PRE_BITS = 24        # raw products wider than this are rounded down before the gain multiplies them
MIN_FRAC_BITS = 4    # fewer residual bits below the weight LSB: sub-LSB updates cannot accumulate


def bitlen(x: float) -> int:
    """Bits needed for a non-negative magnitude x (0 -> 0)."""
    return 0 if x < 1 else int(math.floor(math.log2(x))) + 1


@dataclass(frozen=True)
class RuleWidths:
    """Widths of the learning registers, bits. trace: unsigned pre/post traces (the profile's trace_bits);
    weight: signed weight mantissa; elig: signed per-synapse ebar / h; ls: signed learning signal L; err: signed
    error code; acc: signed batch accumulator (the master weight's fraction, persistent residual); frac =
    acc - weight: accumulator bits below the weight LSB (one accumulator unit = 2^-frac weight LSB)."""

    trace: int
    weight: int
    elig: int
    ls: int
    err: int
    acc: int
    frac: int


def register_widths(fmt, learning, acc_bits: int | None, chip: str) -> RuleWidths:
    """The learning registers' widths for a profile's number format ``fmt`` and learning capabilities
    ``learning``; ``acc_bits``: the accumulator width asked for (None: the profile's, at least ACC_BITS_DEFAULT).
    Raises ChipConstraintError (learning_accumulator_bits) when fewer than MIN_FRAC_BITS accumulator bits lie
    below the weight LSB, as sub-LSB updates could then not accumulate."""
    tb, wb = int(fmt.trace_bits), int(fmt.weight_bits)
    acc = int(acc_bits) if acc_bits is not None else max(int(learning.accumulator_bits), ACC_BITS_DEFAULT)
    # a per-synapse eligibility (Loihi: a tag / synaptic variable) is as wide as a weight, and at least a
    # trace plus a sign bit (ALIF makes e negative)
    w = RuleWidths(trace=tb, weight=wb, elig=min(max(tb + 1, wb), 32), ls=min(tb + 1, 32), err=min(tb + 1, 16),
                   acc=acc, frac=acc - wb)
    if w.frac < MIN_FRAC_BITS:
        raise ChipConstraintError(Violation(
            "learning_accumulator_bits", f"chip {chip}",
            f">= {wb + MIN_FRAC_BITS} bits ({wb}-bit weights + {MIN_FRAC_BITS} residual bits below the LSB)",
            f"{acc} bits"), chip)
    return w


@dataclass(frozen=True)
class TraceConstants:
    """Trace constants and the integer units per float unit they imply. tmax: largest trace code
    (2^trace_bits - 1); kappa_q: readout decay per step as the chip applies it, (2^D - dk) / 2^D; n_ref: steps
    between two spikes of a neuron (>= 1); pre_inc_in / pre_inc_rec / kap_inc: increment per spike of xbar, zbar,
    zkap; s_pre_in / s_pre_rec: xbar code per float xbar (c_in folded); psi_shift: right shift of the
    pseudo-derivative code psi = max(0, vth_eff - |v - A|); s_psi: psi code per float psi (1/v units)."""

    tmax: int
    kappa_q: float
    n_ref: int
    pre_inc_in: int
    pre_inc_rec: int
    kap_inc: int
    s_pre_in: float
    s_pre_rec: float
    psi_shift: int
    s_psi: float


def trace_constants(fmt, quant, p) -> TraceConstants:
    """`TraceConstants` for the profile's format ``fmt``, the quantiser's decisions ``quant`` (decays dv, dk in
    2^-D; vth in threshold units) and the float neuron parameters ``p``. Each increment is as large as its trace
    allows without saturating: an input may spike every step (bound 1/(1 - alpha)), a recurrent neuron every
    n_ref steps (bound 1/(1 - alpha^n_ref)). psi's peak vth_eff (threshold_shift applied) fits trace_bits."""
    one = float(1 << fmt.decay_bits)
    alpha_q = (one - quant.dv) / one
    kappa_q = (one - quant.dk) / one
    tb = int(fmt.trace_bits)
    tmax = (1 << tb) - 1
    n_ref = max(1, int(quant.n_ref))
    pre_inc_in = max(1, int(math.floor(tmax * (1.0 - alpha_q))))
    pre_inc_rec = max(1, int(math.floor(tmax * (1.0 - alpha_q ** n_ref))))
    kap_inc = max(1, int(math.floor(tmax * (1.0 - kappa_q ** n_ref))))
    vth_eff = int(quant.vth) << fmt.threshold_shift
    psi_shift = max(0, bitlen(vth_eff) - tb)
    return TraceConstants(tmax=tmax, kappa_q=kappa_q, n_ref=n_ref, pre_inc_in=pre_inc_in, pre_inc_rec=pre_inc_rec,
                          kap_inc=kap_inc, s_pre_in=pre_inc_in / p.c_in, s_pre_rec=pre_inc_rec / p.c_in,
                          psi_shift=psi_shift, s_psi=vth_eff * p.v_th / (p.gamma_pd * 2.0 ** psi_shift))


def adaptation_gains(quant, p, s_psi: float) -> np.ndarray:
    """int64 [n_rec]: ALIF eps^a gains q_j = c_a beta_j psi_j (dimensionless) in Q_FRAC, applied on chip as
    (qa_mant_j psi_code) >> QA_SHIFT; float beta_j = beta_mant 2^-beta_shift scale_a / scale_v; s_psi as in
    `TraceConstants`."""
    beta_q = np.asarray(quant.beta_mant, np.float64) * quant.scale_a / (quant.scale_v * 2.0 ** quant.beta_shift)
    return np.round(p.c_a * beta_q / s_psi * 2.0 ** (Q_FRAC + QA_SHIFT)).astype(np.int64)


def eligibility_shift(tmax: int, kappa_q: float, elig_bits: int, head: int) -> int:
    """Right shift of e = psi (pre - h) >> e_shift, so that ebar (the kappa-leaky, unnormalised sum of e) fits a
    signed elig_bits register. Its worst case psi_max pre_max / (1 - kappa) = tmax^2 / (1 - kappa_q) needs every
    input to spike every step while psi sits at its peak, so ``head`` bits of that range are traded for
    resolution (saturation is counted; the default 2 bits keep ebar within 1/4 of the bound)."""
    e_bound = tmax * tmax / max(1e-12, 1.0 - kappa_q)
    return max(0, bitlen(e_bound) - (elig_bits - 1) - head)


def feedback_mantissas(F, weight_bits: int) -> tuple[np.ndarray, int]:
    """(B_mant int32 [n_rec, n_out], b_exp): the float feedback matrix F (fixed on chip) as weight-width mantissas,
    F ~= B_mant / 2^b_exp, the exponent putting F's largest entry at the largest mantissa."""
    F = np.asarray(F, np.float64)
    if hasattr(F, "toarray"):
        F = F.toarray()
    fmax = float(np.abs(F).max()) if F.size else 0.0
    wmax = (1 << (weight_bits - 1)) - 1
    b_exp = int(math.floor(math.log2(wmax / fmax))) if fmax > 0 else 0
    return np.clip(np.round(F * 2.0 ** b_exp), -wmax, wmax).astype(np.int32), b_exp


def signal_shift(B_mant: np.ndarray, emax_err: int, ls_bits: int, head: int) -> int:
    """Right shift of L_j = sum_k B_jk err_k >> l_shift, so that L fits a signed ls_bits register. Bound: the
    largest row sum of |B_mant| times the largest error code emax_err; ``head``: bits of that bound traded for
    resolution (0 unless the options set elig_headroom_bits)."""
    l_bound = float(np.abs(B_mant).sum(axis=1).max()) * emax_err if B_mant.size else 1.0
    return max(0, bitlen(l_bound) - (ls_bits - 1) - head)


@dataclass(frozen=True)
class UnitValues:
    """Float value of one integer unit of: xbar / zbar (pre_in, pre_rec), psi, e (e_in, e_rec; psi pre when
    factorised), ebar (ebar_in, ebar_rec = c_kappa e), the learning signal L, the error code err, zkap."""

    pre_in: float
    pre_rec: float
    psi: float
    e_in: float
    e_rec: float
    ebar_in: float
    ebar_rec: float
    L: float
    err: float
    zkap: float

    def scales(self) -> np.ndarray:
        """float64 [8]: `CompiledRule.scales`, (pre_in, pre_rec, psi, ebar_in, ebar_rec, L, err, zkap)."""
        return np.array([self.pre_in, self.pre_rec, self.psi, self.ebar_in, self.ebar_rec, self.L, self.err, self.zkap])


def unit_values(tr: TraceConstants, elig: str, e_shift: int, l_shift: int, b_exp: int, err_scale: float,
                c_kappa: float) -> UnitValues:
    """`UnitValues` from the trace scales, the shifts of e and L, the feedback exponent and err_scale (error codes
    per unit of dE/do). Factorised, the product (L psi) prek stands for L ebar, ebar_f ~ c_kappa psi x kappa-filtered
    pre; per synapse, e = psi (pre - h) >> e_shift. zkap: kappa-filtered z, unnormalised, incl. the current step."""
    u_psi = 1.0 / tr.s_psi
    if elig == "factorised":
        u_e_in, u_e_rec = u_psi / tr.s_pre_in, u_psi / tr.s_pre_rec
    else:
        u_e_in = 2.0 ** e_shift / (tr.s_psi * tr.s_pre_in)
        u_e_rec = 2.0 ** e_shift / (tr.s_psi * tr.s_pre_rec)
    return UnitValues(pre_in=1.0 / tr.s_pre_in, pre_rec=1.0 / tr.s_pre_rec, psi=u_psi, e_in=u_e_in, e_rec=u_e_rec,
                      ebar_in=c_kappa * u_e_in, ebar_rec=c_kappa * u_e_rec,
                      L=2.0 ** l_shift / (2.0 ** b_exp * err_scale), err=1.0 / err_scale, zkap=1.0 / tr.kap_inc)


@dataclass(frozen=True)
class ProductBounds:
    """Largest magnitudes, integer units, of what enters the weight-update products: tmax (a trace), lmax (L),
    ebmax (ebar), emax_err (error code), pkmax (kappa-filtered pre trace prek, factorised), kapmax (zkap); and of
    the raw products: task (L ebar, or L psi when factorised), reg (r e, or r psi), out (err zkap)."""

    tmax: int
    lmax: int
    ebmax: int
    emax_err: int
    pkmax: float
    kapmax: float
    task: float
    reg: float
    out: float


def product_bounds(w: RuleWidths, tr: TraceConstants, e_shift: int, elig: str) -> ProductBounds:
    """`ProductBounds` for widths ``w``, trace constants ``tr``, e's shift and the eligibility form ``elig``."""
    tmax, kappa_q, kap_inc = tr.tmax, tr.kappa_q, tr.kap_inc
    lmax = (1 << (w.ls - 1)) - 1
    ebmax = (1 << (w.elig - 1)) - 1
    emax_err = (1 << (w.err - 1)) - 1
    rmax = float(1 << RATE_BITS)
    pkmax = tmax / max(1e-12, 1.0 - kappa_q) + tmax              # kappa-filtered pre trace (factorised)
    emax_p = float(2 * tmax * tmax >> e_shift) + 1.0             # |e| <= psi_max |pre - h| >> e_shift
    kapmax = kap_inc / max(1e-12, 1.0 - kappa_q ** tr.n_ref) + kap_inc
    return ProductBounds(tmax=tmax, lmax=lmax, ebmax=ebmax, emax_err=emax_err, pkmax=pkmax, kapmax=kapmax,
                         task=(lmax * tmax) if elig == "factorised" else (lmax * ebmax),
                         reg=rmax * (tmax if elig == "factorised" else emax_p), out=emax_err * kapmax)


def pre_shifts(b: ProductBounds) -> np.ndarray:
    """int64 [3]: right shift of the raw (task, regulariser, readout) products before the gain multiplies them. A
    product wider than PRE_BITS is rounded down first so that the gain keeps >= 61 - PRE_BITS - 1 bits of
    resolution (0 at Loihi 2 widths)."""
    return np.array([max(0, bitlen(x) - PRE_BITS) for x in (b.task, b.reg, b.out)], np.int64)


def product_shift(g1: float, bound1: float, name: str, profile: str) -> int:
    """Product shift for a projection whose largest product at shift 0 is g1 * bound1 accumulator units:
    the largest shift keeping it below 2^PROD_MAX_BITS (so the product never leaves int64), at most 62.
    Raises ChipConstraintError (learning_rate_range) when even a shift of 1 is too little: lr too large."""
    if g1 <= 0:
        return 62
    s = int(math.floor(PROD_MAX_BITS - math.log2(g1 * max(bound1, 1.0))))
    if s < 1:
        raise ChipConstraintError(Violation("learning_rate_range", f"projection {name}",
                                            f"product gain {g1:.3g} accumulator units (<= 2^{PROD_MAX_BITS - 1})",
                                            "learning rate too large for the accumulator: lower lr"), profile)
    return s


def product_shifts(gt1p: np.ndarray, gr1p: np.ndarray, b: ProductBounds, pre_shift: np.ndarray, elig: str,
                   chip: str) -> tuple[np.ndarray, int, list[int]]:
    """Shifts of the (in, rec, out) products: (prod_shift int64 [3], the factorised post-factor shift m_shift,
    tot_shift: 3 ints, prod_shift plus m_shift for in / rec, by which the gain numerators ct / cr are scaled).
    gt1p / gr1p float64 [3]: task / regulariser gain at N = 1 per pre-rounded product, accumulator units."""
    shifts, m_shift = [], 0
    for pi, name in enumerate(("in", "rec", "out")):
        if pi == 2:
            b1 = b.out / 2.0 ** pre_shift[2] * gt1p[2]
        else:
            # factorised: two roundings, per neuron M_j = rnd((... Gt + ... Gr) >> m_shift) (a wide register), then
            # per synapse rnd((M_j pre) >> prod_shift); the total shift may exceed 62 (wide traces need it)
            b1 = b.task / 2.0 ** pre_shift[0] * gt1p[pi] + b.reg / 2.0 ** pre_shift[1] * gr1p[pi]
        shifts.append(product_shift(b1, 1.0, name, chip))
    if elig == "factorised":
        # |Mt_j| + |Mr_j| < 2^(61 - m_shift) and prek < 2^bitlen(pkmax): m_shift >= bitlen(pkmax) keeps the row
        # product inside int64; more when the total shift exceeds what one int64 shift can do (wide traces: tiny
        # units), so ct keeps its resolution
        m_shift = max(min(min(shifts[:2]) - 1, bitlen(b.pkmax)), max(shifts[:2]) - 62, 0)
        shifts = [shifts[0] - m_shift, shifts[1] - m_shift, shifts[2]]
    shifts = [min(sh, 62) for sh in shifts]                          # a shift of an int64 by at most 62
    tot_shift = [sh + (m_shift if pi < 2 else 0) for pi, sh in enumerate(shifts)]
    return np.array(shifts, np.int64), m_shift, tot_shift


def check_update_resolution(gt1: np.ndarray, b: ProductBounds, elig: str, trains: tuple, batch: int,
                            w: RuleWidths, chip: str) -> None:
    """ChipConstraintError (learning_update_resolution, each such projection named) when a trained projection
    (``trains``: the rule's train_in, train_rec, train_out) has its largest task product of a ``batch``-trial batch
    (N = batch, 'mse'; 'ce' divides further by the masked steps) below half an accumulator unit, so it would never
    learn (every product rounds to zero). gt1 float64 [3]: task gain at N = 1, accumulator units per product."""
    small = []
    for pi, name in enumerate(("in", "rec", "out")):
        big = (b.emax_err * b.kapmax if pi == 2
               else b.lmax * (b.tmax * b.pkmax if elig == "factorised" else b.ebmax)) * gt1[pi]
        per = big / batch
        if trains[pi] and per < 0.5:
            small.append(Violation("learning_update_resolution", f"projection {name}",
                                   f"largest product {per:.3g} accumulator units >= 0.5 (2^-{w.frac} weight LSB each)",
                                   f"{w.acc}-bit accumulator; raise lr or acc_bits"))
    if small:
        raise ChipConstraintError(small, chip)


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
