"""Pass 2, quantize: float weights and constants to the profile's fixed-point formats.

Semantics of every integer produced here: ``docs/fixed_point.md``. Summary of the mapping (S =
format.threshold_shift, D = format.decay_bits, ONE = 2^D):

* membrane scale ``scale_v`` (integer v units per float unit): the largest value such that the threshold
  mantissa fits ``threshold_bits``, ``v_headroom * v_th`` fits the signed ``membrane_bits`` range and the
  largest input/recurrent weight fits the mantissa at ``weight_exp_max``; then rounded down so that
  ``vth << S`` equals ``v_th * scale_v`` exactly;
* input / recurrent weight w -> mantissa m with shared exponent e per projection:
  ``c_in * w * scale_v = m * 2^e * 2^S`` (u = a_in << S with du = ONE - 1, i.e. no current memory, as the
  float model has no synaptic current); e is searched over [weight_exp_min, weight_exp_max] for the
  smallest RMS error; mantissas are clipped to [w_min, w_max] (already lava-Dense-prepared);
* readout weights: ``c_kappa * w * scale_out = m * 2^e_out * 2^S`` (c_kappa folded into the weights),
  ``scale_out`` chosen so the worst-case readout state (every neuron firing every n_ref steps) fits and the
  largest readout weight fits the mantissa at ``weight_exp_max``;
* decays dv, da, dk = round(ONE * (1 - alpha | rho | kappa)), du = ONE - 1;
* ALIF: adaptation state a_int = a * scale_a (scale_a a power of two with the worst-case a in
  membrane_bits), a_inc = round(c_a * scale_a), ``A = vth_eff + (beta_mant * a_int) >> beta_shift`` with
  beta_mant = round(beta * scale_v * 2^beta_shift / scale_a) (unsigned, threshold_bits wide).

Rounding modes: 'nearest' (half away from zero) and 'stochastic' (counter-based, unbiased; see
`compiler.rounding`). A projection whose saturated fraction exceeds ``format.max_saturation_fraction``
raises `ChipConstraintError` (rule 'weight_saturation').
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..chips.profile import ChipProfile
from ..errors import ChipConstraintError, ConfigError, Violation
from .graph import SynGraph
from .rounding import round_mode, round_nearest

_STREAM = {"in": 1, "rec": 2, "out": 3, "beta": 4}


@dataclass(frozen=True)
class QuantizeOptions:
    """rounding: 'nearest' | 'stochastic'; seed: stochastic-rounding seed; v_headroom: membrane range in
    units of v_th (dimensionless, > 1); out_headroom: multiplier on the worst-case readout bound;
    sample: weights sampled (per projection) when searching the exponent; weight_headroom_bits: mantissa
    bits left free above the largest weight so on-chip learning can grow weights without clipping at once
    (None: 1 when compiling with a learning rule, else 0; the exponent never exceeds weight_exp_max)."""

    rounding: str = "nearest"
    seed: int = 0
    v_headroom: float = 16.0
    out_headroom: float = 1.0
    sample: int = 200_000
    weight_headroom_bits: int | None = None

    def __post_init__(self) -> None:
        if self.rounding not in ("nearest", "stochastic"):
            raise ConfigError(f"rounding must be 'nearest' or 'stochastic', got {self.rounding!r}")
        if not (self.v_headroom > 1 and math.isfinite(self.v_headroom)):
            raise ConfigError(f"v_headroom must be a finite number > 1 (units of v_th), got {self.v_headroom!r}")
        if not (self.out_headroom > 0 and math.isfinite(self.out_headroom)):
            raise ConfigError(f"out_headroom must be > 0, got {self.out_headroom!r}")
        if self.weight_headroom_bits is not None and not (0 <= int(self.weight_headroom_bits) <= 8):
            raise ConfigError(f"weight_headroom_bits must be in 0..8 (mantissa bits), got {self.weight_headroom_bits!r}")


@dataclass(frozen=True, eq=False)
class ProjQuant:
    """One projection's quantisation. mant: int32 mantissas aligned with the graph's CSR data.
    lsb: float weight of one mantissa unit (= 2^exp * unit); unit: float weight per accumulator unit."""

    name: str
    exp: int
    mant: np.ndarray
    unit: float
    n: int
    rms_error: float
    max_abs_error: float
    rel_rms_error: float
    saturated_fraction: float
    zeroed_fraction: float

    @property
    def lsb(self) -> float:
        return self.unit * 2.0 ** self.exp

    def dequantize(self) -> np.ndarray:
        return self.mant.astype(np.float64) * self.lsb

    def report(self) -> dict:
        return {"exp": self.exp, "n": self.n, "lsb": self.lsb, "rms_error": self.rms_error,
                "max_abs_error": self.max_abs_error, "rel_rms_error": self.rel_rms_error,
                "saturated_fraction": self.saturated_fraction, "zeroed_fraction": self.zeroed_fraction}


@dataclass(frozen=True, eq=False)
class Quantized:
    """Everything quantize decided (integers in the profile's formats; see module docstring)."""

    w_in: ProjQuant
    w_rec: ProjQuant
    w_out: ProjQuant
    scale_v: float
    scale_out: float
    scale_a: float
    vth: int
    du: int
    dv: int
    da: int
    dk: int
    a_inc: int
    beta_mant: np.ndarray
    beta_shift: int
    bias_mant: np.ndarray
    bias_exp: int
    reset: str
    n_ref: int
    neuron_kind: str
    rounding: str
    seed: int
    report: dict = field(default_factory=dict)


@dataclass(frozen=True)
class QuantDecisions:
    """The quantiser's decisions the rule lowering reads (`compiler.lower_rule`): taken from a `Quantized`
    (`of`, during compile) or from an artifact's saved fields (`from_artifact`: the same values, saved,
    never re-derived), so a rule lowered again for a compiled network sees exactly what the compiler decided.
    Decays and threshold in the profile's integer formats; scales in integer units per float unit; lsb_*:
    float weight of one mantissa unit of w_in / w_rec / w_out."""

    vth: int
    dv: int
    dk: int
    da: int
    n_ref: int
    neuron_kind: str
    beta_mant: np.ndarray
    beta_shift: int
    scale_v: float
    scale_out: float
    scale_a: float
    lsb_in: float
    lsb_rec: float
    lsb_out: float
    seed: int

    @classmethod
    def of(cls, q: "Quantized") -> "QuantDecisions":
        return cls(vth=int(q.vth), dv=int(q.dv), dk=int(q.dk), da=int(q.da), n_ref=int(q.n_ref),
                   neuron_kind=q.neuron_kind, beta_mant=np.asarray(q.beta_mant), beta_shift=int(q.beta_shift),
                   scale_v=float(q.scale_v), scale_out=float(q.scale_out), scale_a=float(q.scale_a),
                   lsb_in=float(q.w_in.lsb), lsb_rec=float(q.w_rec.lsb), lsb_out=float(q.w_out.lsb), seed=int(q.seed))

    @classmethod
    def from_artifact(cls, compiled) -> "QuantDecisions":
        """From a `CompiledNetwork`'s saved fields; ConfigError when it predates the saved decisions."""
        if compiled.w_lsb is None or compiled.scale_a is None:
            raise ConfigError("the artifact carries no saved quantiser decisions (w_lsb, scale_a); recompile it")
        return cls(vth=int(compiled.vth), dv=int(compiled.dv), dk=int(compiled.dk), da=int(compiled.da),
                   n_ref=int(compiled.n_ref), neuron_kind=compiled.neuron_kind, beta_mant=np.asarray(compiled.beta_mant),
                   beta_shift=int(compiled.beta_shift), scale_v=float(compiled.scale_v),
                   scale_out=float(compiled.scale_out), scale_a=float(compiled.scale_a),
                   lsb_in=compiled.weight_lsb("w_in"), lsb_rec=compiled.weight_lsb("w_rec"),
                   lsb_out=compiled.weight_lsb("w_out"), seed=int(getattr(compiled.rule, "seed", 0) or 0))


def _quant_proj(name: str, w: np.ndarray, unit: float, profile: ChipProfile, opts: QuantizeOptions) -> tuple[ProjQuant, Violation | None]:
    """Choose the shared exponent minimising RMS error (sampled), then round every weight."""
    f = profile.format
    wmin, wmax = f.w_min, f.w_max
    x = w / unit  # accumulator units
    n = x.size
    nz = x != 0
    maxabs = float(np.abs(x).max()) if n else 0.0
    if maxabs == 0.0:
        e = f.weight_exp_min if f.weight_exp_min <= 0 <= f.weight_exp_max else f.weight_exp_max
        return ProjQuant(name, int(max(f.weight_exp_min, min(0, f.weight_exp_max))), np.zeros(n, np.int32), unit, n,
                         0.0, 0.0, 0.0, 0.0, 0.0), None
    # Smallest exponent at which nothing saturates: |x| / 2^e <= wmax + 0.5 rounds into range (nearest);
    # stochastic rounding can round anything above wmax up, so it needs |x| / 2^e <= wmax.
    top = wmax + (0.5 if opts.rounding == "nearest" else 0.0)
    e_free = int(math.ceil(math.log2(maxabs / top)))
    cands = sorted({min(max(e, f.weight_exp_min), f.weight_exp_max) for e in range(e_free - 3, e_free + 2)})
    if n > opts.sample:
        idx = np.random.default_rng(opts.seed).choice(n, opts.sample, replace=False)
        xs = x[idx]
    else:
        xs = x
    # Smallest RMS error among exponents whose saturated fraction stays within the profile's limit
    # (saturating a few outliers can beat a coarser LSB; more than the limit is never chosen).
    best, best_err = max(cands), math.inf
    for e in cands:
        r = round_nearest(xs / 2.0 ** e)
        over = np.abs(xs / 2.0 ** e) > top
        if over.mean() > f.max_saturation_fraction:
            continue
        m = np.clip(r, wmin, wmax)
        err = float(np.mean((m * 2.0 ** e - xs) ** 2))
        if err < best_err - 1e-300 or (err == best_err and e > best):
            best, best_err = e, err
    # Learning headroom: keep the largest weight h bits below the mantissa limit (coarser LSB, no clips).
    h = int(opts.weight_headroom_bits or 0)
    if h > 0:
        best = max(best, min(e_free + h, f.weight_exp_max))
    e = best
    scaled = x / 2.0 ** e
    raw = round_mode(scaled, opts.rounding, opts.seed, _STREAM[name])
    sat = (raw > wmax) | (raw < wmin)
    m = np.clip(raw, wmin, wmax).astype(np.int32)
    err = (m * 2.0 ** e - x) * unit
    rms = float(np.sqrt(np.mean(err ** 2)))
    w_rms = float(np.sqrt(np.mean(w ** 2)))
    pq = ProjQuant(name, int(e), m, unit, n, rms, float(np.abs(err).max()), rms / w_rms if w_rms > 0 else 0.0,
                   float(sat.mean()), float((nz & (m == 0)).sum() / max(1, nz.sum())))
    v = None
    if pq.saturated_fraction > f.max_saturation_fraction:
        e_need = e_free
        v = Violation("weight_saturation", f"projection {name}",
                      f"{pq.saturated_fraction:.2%} of weights saturate at exponent {e} (max |w| = {maxabs * unit:.4g} needs "
                      f"exponent {e_need})", f"max_saturation_fraction {f.max_saturation_fraction:.2%}, "
                      f"weight_bits {f.weight_bits}, weight_exp_max {f.weight_exp_max}",
                      "use a profile with more weight bits or a wider exponent range, lower v_headroom, or "
                      "regularise the weights")
    return pq, v


def quantize(g: SynGraph, profile: ChipProfile, options: QuantizeOptions | None = None, *,
             reset: str = "subtract", drop_adaptation: bool = False) -> Quantized:
    """Quantise a `SynGraph` for ``profile``. Raises `ChipConstraintError` on excess saturation."""
    o = options or QuantizeOptions()
    f = profile.format
    p = g.params
    S = f.threshold_shift
    one = 1 << f.decay_bits
    vmax = (1 << (f.membrane_bits - 1)) - 1
    vth_max = (1 << f.threshold_bits) - 1
    # Membrane scale: threshold mantissa range vs membrane headroom, then exact threshold.
    # Largest |weight| (accumulator << S units) that fits the mantissa at the largest exponent for this rounding.
    wmax_fit = (f.w_max + (0.5 if o.rounding == "nearest" else 0.0)) * 2.0 ** (f.weight_exp_max + S)
    w_abs = max(float(np.abs(g.w_in.data).max(initial=0.0)), float(np.abs(g.w_rec.data).max(initial=0.0)))
    scale_v = min(vth_max * 2.0 ** S / p.v_th, vmax / (o.v_headroom * p.v_th),
                  wmax_fit / (p.c_in * w_abs) if w_abs > 0 else math.inf)
    vth = max(1, int(math.floor(p.v_th * scale_v / 2.0 ** S)))
    scale_v = vth * 2.0 ** S / p.v_th
    # Readout scale: worst case y = sum|w_out| c_kappa / (1 - kappa) / n_ref fits the membrane register.
    out_abs = np.zeros(g.n_out)
    np.add.at(out_abs, np.repeat(np.arange(g.n_out), np.diff(g.w_out.indptr)), np.abs(g.w_out.data))
    y_bound = max(float(out_abs.max()) * p.c_kappa / max(1e-12, 1.0 - p.kappa) / p.n_ref, 1e-12) * o.out_headroom
    wo_abs = float(np.abs(g.w_out.data).max(initial=0.0))
    scale_out = min(vmax / y_bound, wmax_fit / (p.c_kappa * wo_abs) if wo_abs > 0 else math.inf)
    viol = []
    unit_rec = 2.0 ** S / (p.c_in * scale_v)
    q_in, v1 = _quant_proj("in", g.w_in.data, unit_rec, profile, o)
    q_rec, v2 = _quant_proj("rec", g.w_rec.data, unit_rec, profile, o)
    q_out, v3 = _quant_proj("out", g.w_out.data, 2.0 ** S / (p.c_kappa * scale_out), profile, o)
    viol = [v for v in (v1, v2, v3) if v is not None]
    if viol:
        raise ChipConstraintError(viol, profile.name)

    def dec(x: float) -> int:
        return int(min(one - 1, max(0, round(one * (1.0 - x)))))

    du, dv, dk = one - 1, dec(p.alpha), dec(p.kappa)
    adaptive = p.kind == "alif" and not drop_adaptation and bool((g.beta > 0).any())
    if adaptive:
        da = dec(p.rho)
        a_max = p.c_a / max(1e-12, 1.0 - p.rho) / p.n_ref
        scale_a = 2.0 ** math.floor(math.log2(vmax / a_max))
        a_inc = max(1, int(round(p.c_a * scale_a)))
        bmax = float(g.beta.max())
        # Largest beta_shift keeping the beta mantissa in threshold_bits (unsigned).
        raw = bmax * scale_v / scale_a
        beta_shift = int(max(0, min(30, math.floor(math.log2(vth_max / raw)) if raw > 0 else 0)))
        beta_mant = np.clip(round_mode(g.beta * scale_v * 2.0 ** beta_shift / scale_a, o.rounding, o.seed, _STREAM["beta"]),
                            0, vth_max).astype(np.int32)
        kind = "alif"
    else:
        da, a_inc, scale_a, beta_shift = 0, 0, 1.0, 0
        beta_mant = np.zeros(g.n_rec, np.int32)
        kind = "lif"
    q = 1.0 / one
    rep = {
        "scale_v": scale_v, "scale_out": scale_out, "scale_a": scale_a, "vth": vth, "vth_eff": vth << S,
        "v_headroom": o.v_headroom, "rounding": o.rounding, "seed": o.seed,
        "decays": {"du": du, "dv": dv, "da": da, "dk": dk,
                   "alpha": [p.alpha, (one - dv) * q], "kappa": [p.kappa, (one - dk) * q],
                   "rho": [p.rho, (one - da) * q] if adaptive else None},
        "projections": {"in": q_in.report(), "rec": q_rec.report(), "out": q_out.report()},
        "c_kappa_folded": p.c_kappa, "neuron_kind": kind, "reset": reset,
        "adaptation_dropped": bool(drop_adaptation and p.kind == "alif" and (g.beta > 0).any()),
    }
    if adaptive:
        eff = beta_mant.astype(np.float64) * scale_a / (scale_v * 2.0 ** beta_shift)
        rep["beta"] = {"beta_shift": beta_shift, "a_inc": a_inc, "max_abs_error": float(np.abs(eff - g.beta).max())}
    return Quantized(q_in, q_rec, q_out, scale_v, scale_out, scale_a, vth, du, dv, da, dk, a_inc, beta_mant, beta_shift,
                     np.zeros(g.n_rec, np.int32), 0, reset, int(p.n_ref), kind, o.rounding, o.seed, rep)
