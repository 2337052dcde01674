"""Lower STDP / reward-modulated STDP to the Loihi learning engine's sum-of-products form.

One `Product` list is the single source of both the lava rule strings (`lava_strings`, what
lava-nc's `Loihi2FLearningRule` / `Loihi3FLearningRule` parse) and the integer tables the native
engine runs (`engine_rule` -> `kernels.stdp_fixed.EngineRule`), so the two cannot drift apart.

STDP (2-factor, pair-based, all-to-all through the x1 / y1 traces; additive or weight-dependent):
    dw = A+ * y0 * x1 [* (w - w_max) with the sign flipped]  -  A- * x0 * y1 [* (w - w_min)]
Reward-modulated STDP (3-factor, eligibility in tag_1 't', reward in y2, as lava's
RewardModulatedSTDP / Fremaux & Gerstner 2016):
    dt = A+ * y0 * x1 - A- * x0 * y1 - 2^-k_e * u0 * t        (t: decaying eligibility, 8 bits + sign)
    dw = 2^e_r * u0 * t * y2 - 2^e_r * u0 * t * y3            (y2 / y3: positive / negative part of the
                                                                reward - baseline code, 0 off-reward)
(lava's own RewardModulatedSTDP sends a signed reward in y2; on a step where the neuron also sends a
BAP the engine clips y to [0, 127], so a negative reward would be lost for every neuron spiking then:
two non-negative traces avoid that.)
Amplitudes are m * 2^e with a 4-bit signed mantissa m in [-8, 7] and e in [-7, 8] (lava's
normalised form); `quantise_amplitude` picks the closest representable value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ChipConstraintError, ConfigError, Violation
from ..kernels import stdp_fixed as sf

FACTOR_NAMES = {sf.X1: "x1", sf.X2: "x2", sf.Y1: "y1", sf.Y2: "y2", sf.Y3: "y3", sf.FW: "w", sf.FD: "d",
                sf.FT: "t", sf.FX0: "x0", sf.FY0: "y0"}
DEP_NAMES = {sf.DEP_X0: "x0", sf.DEP_Y0: "y0", sf.DEP_U: "u"}
TARGET_KEYS = {0: "dw", 1: "dd", 2: "dt"}


@dataclass(frozen=True)
class Product:
    """One product m * 2^e * dep * prod(factors) of target 0 (weights), 1 (tag_2 'd') or 2 (tag_1 't').
    factors: tuple of (code, const, sgn) with codes from `kernels.stdp_fixed` (X1 .. FY0, FC)."""

    target: int
    dep: int
    mant: int
    exp: int
    factors: tuple = ()
    decim: int = 0          # k of u_k (only for dep == u)

    def __post_init__(self):
        if not -8 <= self.mant <= 7 or self.mant == 0:
            raise ConfigError(f"product mantissa must be a non-zero 4-bit signed integer in [-8, 7], got {self.mant}")
        if not -7 <= self.exp <= 8:
            raise ConfigError(f"product exponent must be in [-7, 8] (lava's 2^e range), got {self.exp}")
        if len(self.factors) > sf.MAX_FACTORS:
            raise ConfigError(f"a product has at most {sf.MAX_FACTORS} factors, got {len(self.factors)}")


def quantise_amplitude(a: float) -> tuple[int, int]:
    """(m, e) with m * 2^e closest (relative) to a > 0, m in 1..7, e in [-7, 8]; ConfigError if a is
    outside [2^-7, 7 * 2^8]."""
    if not (math.isfinite(a) and 2.0 ** -7 <= a <= 7 * 2.0 ** 8):
        raise ConfigError(f"amplitude {a!r} is not representable as m * 2^e with m in 1..7, e in [-7, 8]")
    best = None
    for m in range(1, 8):                  # smallest mantissa first: among exact forms, lava's normal form
        for e in range(-7, 9):
            err = abs(math.log(m * 2.0 ** e / a))
            if best is None or err < best[0] - 1e-12:
                best = (err, m, e)
    return best[1], best[2]


def _literal(m: int, e: int) -> str:
    return f"{abs(m)}*2^{e}" if e != 0 else f"{abs(m)}"


def _factor_str(code: int, const: int, sgn: bool) -> str:
    if code == sf.FC:
        return f"{const}" if const >= 0 else f"({const})"
    name = FACTOR_NAMES[code]
    if sgn:
        inner = name if const == 0 else f"{name} {'+' if const > 0 else '-'} {abs(const)}"
        return f"sgn({inner})"
    if const == 0:
        return name
    return f"({name} {'+' if const > 0 else '-'} {abs(const)})"


def lava_strings(products: list[Product]) -> dict[str, str]:
    """{'dw': ..., 'dd': ..., 'dt': ...} in lava's rule syntax ('' where a target has no product)."""
    out = {"dw": [], "dd": [], "dt": []}
    for p in products:
        dep = DEP_NAMES[p.dep] + (str(p.decim) if p.dep == sf.DEP_U else "")
        body = " * ".join([_literal(p.mant, p.exp), dep] + [_factor_str(*f) for f in p.factors])
        out[TARGET_KEYS[p.target]].append(("- " if p.mant < 0 else "+ ") + body)
    res = {}
    for k, terms in out.items():
        s = " ".join(terms)
        res[k] = s[2:] if s.startswith("+ ") else s
    return res


def engine_rule(products: list[Product], *, t_epoch: int = 1, x_imp=(0.0, 0.0), x_tau=(0, 0), y_imp=(0.0, 0.0, 0.0),
                y_tau=(0, 0, 0), three_factor: bool = False, sign_mode: int = sf.SIGN_MIXED,
                rng_seed: int = 0) -> sf.EngineRule:
    """The integer tables of ``products`` for `kernels.stdp_fixed.run_engine` (lava's normalisation: the
    product is shifted right by max(0, sum of factor widths + 4 - 15) and left by e + 7).
    3-factor rules take lava's Loihi3FLearningRule trace settings: y impulses 0, y taus 65535."""
    if not 1 <= t_epoch <= 63:
        raise ConfigError(f"t_epoch must be in 1..63 steps (6-bit epoch time), got {t_epoch}")
    if three_factor:
        y_imp, y_tau = (0.0, 0.0, 0.0), (65535, 65535, 65535)
    P = len(products)
    f_var = np.full((P, sf.MAX_FACTORS), -1, np.int64)
    f_const = np.zeros((P, sf.MAX_FACTORS), np.int64)
    f_sgn = np.zeros((P, sf.MAX_FACTORS), np.int64)
    rshift = np.zeros(P, np.int64)
    decims = {p.decim for p in products if p.dep == sf.DEP_U}
    if len(decims) > 1:
        raise ConfigError(f"all u products must share one decimation exponent, got {sorted(decims)}")
    for i, p in enumerate(products):
        width = sf.W_S_MANT
        for k, (code, const, sgn) in enumerate(p.factors):
            f_var[i, k], f_const[i, k], f_sgn[i, k] = code, const, int(sgn)
            width += int(sf.FACTOR_WIDTH[code])
        rshift[i] = max(0, width - sf.W_ACC_U)
    xi, xf = sf.split_impulse(x_imp)
    yi, yf = sf.split_impulse(y_imp)
    return sf.EngineRule(
        three_factor=int(three_factor), t_epoch=int(t_epoch), x_imp_int=xi, x_imp_frac=xf, y_imp_int=yi, y_imp_frac=yf,
        x_decay=sf.decay_factors(x_tau), y_decay=sf.decay_factors(y_tau),
        x_tau0=(np.asarray(x_tau) == 0).astype(np.int64), y_tau0=(np.asarray(y_tau) == 0).astype(np.int64),
        decim=decims.pop() if decims else -1,
        p_target=np.array([p.target for p in products], np.int64), p_dep=np.array([p.dep for p in products], np.int64),
        p_mant=np.array([p.mant for p in products], np.int64), p_lshift=np.array([p.exp + 7 for p in products], np.int64),
        p_rshift=rshift, f_var=f_var, f_const=f_const, f_sgn=f_sgn, sign_mode=int(sign_mode), rng_seed=int(rng_seed))


def stdp_products(a_plus: tuple[int, int], a_minus: tuple[int, int], *, multiplicative: bool = False,
                  w_max: int = 255, w_min: int = -256) -> list[Product]:
    """Pair STDP: potentiation (m+, e+) at post spikes times x1, depression (m-, e-) at pre spikes times
    y1; multiplicative: times (w_max - w) and (w - w_min) (soft bounds, weight units)."""
    (mp, ep), (mm, em) = a_plus, a_minus
    if multiplicative:
        # (w_max - w) = -(w - w_max): lava keeps the variable first, so the sign goes to the mantissa
        return [Product(0, sf.DEP_Y0, -mp, ep, ((sf.X1, 0, False), (sf.FW, -int(w_max), False))),
                Product(0, sf.DEP_X0, -mm, em, ((sf.Y1, 0, False), (sf.FW, -int(w_min), False)))]
    return [Product(0, sf.DEP_Y0, mp, ep, ((sf.X1, 0, False),)),
            Product(0, sf.DEP_X0, -mm, em, ((sf.Y1, 0, False),))]


def rstdp_products(a_plus: tuple[int, int], a_minus: tuple[int, int], tag_decay_exp: int,
                   reward: tuple[int, int]) -> list[Product]:
    """Reward-modulated STDP: the STDP term accumulates into tag_1 (decaying by 2^-k per epoch) and the
    weights move by m_r 2^e_r * t * (y2 - y3) every epoch (y2 / y3 = positive / negative reward code,
    0 except at reward delivery)."""
    (mp, ep), (mm, em), (mr, er) = a_plus, a_minus, reward
    return [Product(2, sf.DEP_Y0, mp, ep, ((sf.X1, 0, False),)),
            Product(2, sf.DEP_X0, -mm, em, ((sf.Y1, 0, False),)),
            Product(2, sf.DEP_U, -1, -int(tag_decay_exp), ((sf.FT, 0, False),)),
            Product(0, sf.DEP_U, mr, er, ((sf.FT, 0, False), (sf.Y2, 0, False))),
            Product(0, sf.DEP_U, -mr, er, ((sf.FT, 0, False), (sf.Y3, 0, False)))]


@dataclass(frozen=True)
class StdpLowering:
    """An STDP-family rule lowered for one compiled network's W_in (see `lower_stdp`).

    products / engine: the sum-of-products rule and its integer tables; strings: lava's dw / dt;
    impulse: x1 / y1 impulse (trace units per spike); tau_plus / tau_minus: trace taus in steps;
    reward_scale: y code per unit of (reward - baseline) (127); w_lsb: float weight of one weight unit;
    report: the chosen constants and the float values they realise."""

    products: tuple
    engine: sf.EngineRule
    strings: dict
    impulse: float
    tau_plus: int
    tau_minus: int
    reward_scale: int
    w_lsb: float
    report: dict


# Keys of the settings a lowering is made from (`stdp_settings`): the float rule's constants, the network's
# dt, W_in's weight LSB (the quantiser's saved decision), the engine choices and, for R-STDP, the calibrated
# largest float eligibility. Saved as the artifact's ``plasticity`` (plain JSON) and lowered again from it.
ENGINE_RULES = ("stdp", "rstdp", "stdp_triplet")
TRIPLET_KEYS = ("a3_plus", "a3_minus", "tau_x_ms", "tau_y_ms")    # stdp_triplet only
SETTING_KEYS = {"rule": str, "lr": float, "a_plus": float, "a_minus": float, "tau_plus_ms": float,
                "tau_minus_ms": float, "form": str, "w_min": float, "w_max": float, "reward_tau_e_ms": float,
                "dt_ms": float, "w_lsb": float, "impulse": float, "rng_seed": int, "sign_mode": int,
                "calib_emax": float}


def stdp_settings(net, rule, compiled, *, calib_x=None, calib_emax: float | None = None, impulse: float = 16.0,
                  rng_seed: int = 0, sign_mode: int | None = None) -> dict:
    """The inputs of ``rule``'s lowering for W_in of ``compiled`` as a plain dict (`SETTING_KEYS`): everything
    the float side decides, so that `lowering_from_settings` needs no float network. ``calib_x`` (R-STDP):
    inputs of a calibration batch; the float network's largest pair eligibility on it sets the tag's scale
    (1.0 without), or ``calib_emax``: that number from an earlier calibration. Nearest pairing (stdp, rstdp)
    takes impulse 127: the trace saturates, i.e. resets to its maximum at a spike. stdp_triplet adds its
    triplet amplitudes and slow trace taus (``a3_plus``, ``a3_minus``, ``tau_x_ms``, ``tau_y_ms``).
    Raises `ChipConstraintError` on a chip without a plasticity engine."""
    prof = compiled.profile
    if prof is not None and not prof.learning.plasticity_engine:
        # STDP runs on a trace-based sum-of-products engine (Loihi's); a chip without one (ReckOn: an e-prop
        # datapath only) cannot run it, whatever its other learning primitives
        raise ChipConstraintError(Violation("plasticity_engine", f"chip {prof.name}", f"{rule.name} (a sum-of-products "
                                            "plasticity engine)", "none ([learning] plasticity_engine = false)"),
                                  prof.name)
    if rule.name not in ENGINE_RULES:
        raise ConfigError(f"lower_stdp lowers the rules {', '.join(map(repr, ENGINE_RULES))}, got {rule.name!r}")
    dt = float(net.params.dt)
    # the triplet rule is all-to-all by definition (neurochip.plasticity.triplet_terms): its pairing is not read
    pairing = "all" if rule.name == "stdp_triplet" else str(getattr(rule, "stdp_pairing", "all"))
    if rule.name == "stdp_triplet" and str(rule.stdp_form) != "additive":
        raise ConfigError("stdp_triplet is lowered in its additive form only (the float rule has no other)")
    if pairing == "nearest":
        # nearest-neighbour pairing: a trace jumps back to 1 at each spike. The engine's 7-bit trace saturates at
        # 127, so an impulse of 127 sets it to its maximum at every spike: the same reset, X = x1 / 127
        impulse = float(sf.W_TRACE_MAX)
    elif pairing != "all":
        raise ConfigError(f"stdp_pairing must be 'all' or 'nearest', got {pairing!r}")
    if sign_mode is None:      # all-excitatory inputs stay excitatory (Dale): lava's EXCITATORY mode, 0..255
        sign_mode = sf.SIGN_EXC if (np.asarray(compiled.w_in) >= 0).all() else sf.SIGN_MIXED
    emax = 1.0 if calib_emax is None else float(calib_emax)
    if rule.name == "rstdp" and calib_x is not None:
        from ..plasticity import pair_terms
        from ..simulate import simulate
        z = simulate(net, calib_x).z
        for b in range(z.shape[0]):
            P, D = pair_terms(calib_x[b:b + 1], z[b:b + 1], rule.stdp_tau_plus, rule.stdp_tau_minus, dt)
            emax = max(emax, float(np.abs(P).max()), float(np.abs(D).max()))
    return {"rule": rule.name, "lr": float(rule.lr), "a_plus": float(rule.stdp_a_plus),
            "a_minus": float(rule.stdp_a_minus), "tau_plus_ms": float(rule.stdp_tau_plus),
            "tau_minus_ms": float(rule.stdp_tau_minus), "form": str(rule.stdp_form), "w_min": float(rule.stdp_w_min),
            "w_max": float(rule.stdp_w_max), "reward_tau_e_ms": float(rule.reward_tau_e), "dt_ms": dt,
            # the quantiser's own LSB of W_in (saved in the artifact), never re-derived from the float weights
            "w_lsb": compiled.weight_lsb("w_in"), "impulse": float(impulse), "rng_seed": int(rng_seed),
            "sign_mode": int(sign_mode), "calib_emax": emax, "pairing": pairing,
            **({"a3_plus": float(rule.stdp_a3_plus), "a3_minus": float(rule.stdp_a3_minus),
                "tau_x_ms": float(rule.stdp_tau_x), "tau_y_ms": float(rule.stdp_tau_y)} if rule.name == "stdp_triplet" else {})}


def settings_problems(st) -> list[str]:
    """What is wrong with a settings dict (missing keys, wrong types, values out of range); [] if nothing."""
    if not isinstance(st, dict):
        return [f"plasticity settings are a {type(st).__name__}, expected a dict"]
    out = []
    for k, t in SETTING_KEYS.items():
        v = st.get(k)
        ok = isinstance(v, str) if t is str else (isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  and math.isfinite(v) and (t is float or float(v).is_integer()))
        if not ok:
            out.append(f"plasticity.{k} = {v!r:.40} is missing or not a finite {t.__name__}")
    if out:
        return out
    if st["rule"] not in ENGINE_RULES:
        out.append(f"plasticity.rule = {st['rule']!r}, expected one of {', '.join(map(repr, ENGINE_RULES))}")
    if st["rule"] == "stdp_triplet":
        for k in TRIPLET_KEYS:
            v = st.get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 \
                    or (k.startswith("tau") and v <= 0):
                out.append(f"plasticity.{k} = {v!r:.40} is missing or not a finite number "
                           + ("> 0" if k.startswith("tau") else ">= 0"))
    if st["form"] not in ("additive", "multiplicative"):
        out.append(f"plasticity.form = {st['form']!r}, expected 'additive' or 'multiplicative'")
    for k in ("lr", "a_plus", "a_minus", "tau_plus_ms", "tau_minus_ms", "reward_tau_e_ms", "dt_ms", "w_lsb",
              "impulse", "calib_emax"):
        if not st[k] > 0:
            out.append(f"plasticity.{k} = {st[k]!r} must be > 0")
    if st["sign_mode"] not in (sf.SIGN_MIXED, sf.SIGN_EXC, sf.SIGN_INH):
        out.append(f"plasticity.sign_mode = {st['sign_mode']!r}, expected {sf.SIGN_MIXED} (mixed), {sf.SIGN_EXC} "
                   f"(excitatory) or {sf.SIGN_INH} (inhibitory)")
    return out


def _amplitude(what: str, a: float, lr: float) -> tuple[int, int]:
    """`quantise_amplitude` of ``a`` (proportional to lr), with the lr range the engine can represent named."""
    try:
        return quantise_amplitude(a)
    except ConfigError:
        k = a / lr
        raise ConfigError(f"{what} = {a:.3g} weight units at lr {lr:g} is not representable on the engine (m * 2^e, "
                          f"m in 1..7, e in [-7, 8]: 2^-7 to 1792); representable: {2.0 ** -7 / k:.3g} <= lr <= "
                          f"{7 * 2.0 ** 8 / k:.3g}") from None


def multiplicative_shift() -> int:
    """Right shift lava's normalisation applies to a multiplicative STDP product m 2^e * x1 * (w - w_max):
    4-bit mantissa + 7-bit trace + 9-bit weight factor = 20 bits, above the 15-bit product: 5."""
    return max(0, sf.W_S_MANT + int(sf.FACTOR_WIDTH[sf.X1]) + int(sf.FACTOR_WIDTH[sf.FW]) - sf.W_ACC_U)


def stdp_unit(st: dict) -> float:
    """Engine amplitude per unit of the float rule's lr A (pair STDP): additive, a pair's change A X is
    A x1 / impulse float weight, i.e. A / (impulse w_lsb) weight units per trace unit; multiplicative, the
    factor (w_max - w) is itself in weight units (the LSB cancels) and the product is shifted right by
    `multiplicative_shift`, so A 2^shift / impulse."""
    if st["form"] == "multiplicative":
        return 2.0 ** multiplicative_shift() / st["impulse"]
    return 1.0 / (st["impulse"] * st["w_lsb"])


def triplet_shift() -> int:
    """Right shift of a triplet product m 2^e * x1 * (y2 - impulse): 4 + 7 + 7 = 18 bits over the 15-bit product."""
    return max(0, sf.W_S_MANT + 2 * int(sf.FACTOR_WIDTH[sf.X1]) - sf.W_ACC_U)


def triplet_unit(st: dict) -> float:
    """Engine amplitude per unit of lr A3: the triplet term A3 X Ys is A3 x1 y2 / impulse^2 float weight, i.e.
    A3 / (impulse^2 w_lsb) weight units per trace unit^2, and the product is shifted right by `triplet_shift`."""
    return 2.0 ** triplet_shift() / (st["impulse"] ** 2 * st["w_lsb"])


def triplet_products(a_plus, a_minus, a3_plus, a3_minus, imp: int) -> list[Product]:
    """Minimal triplet STDP (Pfister & Gerstner 2006): pair terms as `stdp_products`, plus A3+ at post spikes
    times x1 and the slow post trace y2 *before* this spike, A3- at pre spikes times y1 and the slow pre trace
    x2 before this spike. The engine's trace at a spike step already holds the spike's impulse ``imp`` (decay,
    then impulse), so the factor is (y2 - imp) / (x2 - imp): the float rule's Ys^{t-} / Xs^{t-}. A3 = None: no
    such product."""
    prods = stdp_products(a_plus, a_minus)
    if a3_plus is not None:
        prods.append(Product(0, sf.DEP_Y0, a3_plus[0], a3_plus[1], ((sf.X1, 0, False), (sf.Y2, -int(imp), False))))
    if a3_minus is not None:
        prods.append(Product(0, sf.DEP_X0, -a3_minus[0], a3_minus[1], ((sf.Y1, 0, False), (sf.X2, -int(imp), False))))
    return prods


def lowering_from_settings(st: dict) -> StdpLowering:
    """Lower the settings of `stdp_settings` (pure: the same settings give the same lowering).

    Traces: x1 / y1 with ``impulse`` per spike and tau = tau+/dt, tau-/dt steps (Loihi's 7-bit traces:
    the float trace X is x1 / impulse). STDP: A+- in weight units become m 2^e per (trace unit x LSB):
    a pair's change A+ X is A+ x1 / impulse, i.e. (A+ / (impulse w_lsb)) x1 weight units.
    R-STDP: the tag holds A_t x1-sums, A_t = 2^e_t chosen from the calibrated largest eligibility so that it
    stays below 200 of the tag's 255; the tag decays by 2^-k per step (k = round(log2(tau_e / dt)),
    k <= 7); the weight product m_r 2^e_r t y / 2^5 (9 + 7 + 4 bits - 15) with y = 127 |R - b| realises
    lr (R - b) e_float. Raises ConfigError for bad settings or an amplitude that is not representable
    (m in 1..7, e in [-7, 8])."""
    probs = settings_problems(st)
    if probs:
        raise ConfigError("; ".join(probs[:2]))
    dt, w_lsb, impulse = st["dt_ms"], st["w_lsb"], st["impulse"]
    rng_seed, sign_mode = int(st["rng_seed"]), int(st["sign_mode"])
    tp, tm = max(1, int(round(st["tau_plus_ms"] / dt))), max(1, int(round(st["tau_minus_ms"] / dt)))
    rep = {"w_lsb": w_lsb, "impulse": impulse, "tau_plus_steps": tp, "tau_minus_steps": tm,
           "sign_mode": ["mixed", "excitatory"][sign_mode]}
    if st["rule"] == "stdp_triplet":
        tx, ty = max(1, int(round(st["tau_x_ms"] / dt))), max(1, int(round(st["tau_y_ms"] / dt)))
        ap = _amplitude("STDP A2+ per trace unit", st["lr"] * st["a_plus"] * stdp_unit(st), st["lr"])
        am = _amplitude("STDP A2- per trace unit", st["lr"] * st["a_minus"] * stdp_unit(st), st["lr"])
        a3 = [_amplitude(f"STDP {n} per (trace unit)^2", st["lr"] * st[k] * triplet_unit(st), st["lr"]) if st[k] > 0
              else None for n, k in (("A3+", "a3_plus"), ("A3-", "a3_minus"))]
        imp_int = int(sf.split_impulse(impulse)[0])
        prods = triplet_products(ap, am, a3[0], a3[1], imp_int)
        eng = engine_rule(prods, x_imp=(impulse, impulse), x_tau=(tp, tx), y_imp=(impulse, impulse, 0.0),
                          y_tau=(tm, ty, 0), rng_seed=rng_seed, sign_mode=sign_mode)
        rep.update(a_plus=ap, a_minus=am, a3_plus=a3[0], a3_minus=a3[1], tau_x_steps=tx, tau_y_steps=ty)
    elif st["rule"] == "stdp":
        ap = _amplitude("STDP A+ per trace unit", st["lr"] * st["a_plus"] * stdp_unit(st), st["lr"])
        am = _amplitude("STDP A- per trace unit", st["lr"] * st["a_minus"] * stdp_unit(st), st["lr"])
        prods = stdp_products(ap, am, multiplicative=st["form"] == "multiplicative",
                              w_max=int(np.clip(round(st["w_max"] / w_lsb), -256, 255)),
                              w_min=int(np.clip(round(st["w_min"] / w_lsb), -256, 255)))
        eng = engine_rule(prods, x_imp=(impulse, 0.0), x_tau=(tp, 0), y_imp=(impulse, 0.0, 0.0), y_tau=(tm, 0, 0),
                          rng_seed=rng_seed, sign_mode=sign_mode)
        rep.update(a_plus=ap, a_minus=am)
    else:
        emax = st["calib_emax"]
        e_t = int(np.clip(math.floor(math.log2(200.0 / (impulse * emax))), -7, 8))
        a_t = 2.0 ** e_t
        ratio = quantise_amplitude(st["a_minus"] / st["a_plus"] * a_t)
        k = int(np.clip(round(math.log2(st["reward_tau_e_ms"] / dt)), 0, 7))
        # weight units per (tag x y): m_r 2^e_r / 32 = lr A+ / (w_lsb a_t impulse 127)
        r = _amplitude("R-STDP reward product per (tag x reward code)",
                       st["lr"] * st["a_plus"] * 32.0 / (w_lsb * a_t * impulse * 127.0), st["lr"])
        prods = rstdp_products((1, e_t), ratio, k, r)
        eng = engine_rule(prods, three_factor=True, x_imp=(impulse, 0.0), x_tau=(tp, 0), rng_seed=rng_seed,
                          sign_mode=sign_mode)
        rep.update(tag_exp=e_t, a_minus_tag=ratio, tag_decay_k=k, tau_e_steps=2 ** k, reward=r, calib_emax=emax)
    return StdpLowering(products=tuple(prods), engine=eng, strings=lava_strings(prods), impulse=impulse,
                        tau_plus=tp, tau_minus=tm, reward_scale=127, w_lsb=w_lsb, report=rep)


def saved_plasticity(st: dict) -> tuple[dict, dict]:
    """(the artifact's ``plasticity`` entry, its ``report['plasticity']`` part) for settings ``st``: the settings
    with the lava strings they lower to (JSON), and the chosen constants with the strings. Raises ConfigError when
    the settings do not lower (e.g. an amplitude the engine cannot hold)."""
    from .serial import jsonable
    low = lowering_from_settings(st)
    return (jsonable({**st, "lava": low.strings}),
            jsonable({"rule": st["rule"], "constants": low.report, "lava": low.strings}))


def lower_stdp(net, rule, compiled, *, calib_x=None, impulse: float = 16.0, rng_seed: int = 0,
               sign_mode: int | None = None) -> StdpLowering:
    """Lower ``rule`` (stdp or rstdp) for W_in of ``compiled`` (weights in mantissa units, 2^e_in):
    `lowering_from_settings` of `stdp_settings` (see both)."""
    return lowering_from_settings(stdp_settings(net, rule, compiled, calib_x=calib_x, impulse=impulse,
                                                rng_seed=rng_seed, sign_mode=sign_mode))
