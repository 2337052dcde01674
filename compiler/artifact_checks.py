"""The value checks of a loaded `compiler.artifact.CompiledNetwork` (`artifact_problems`, `check_artifact`):
every field in its type and format, the saved quantiser decisions consistent with the values they were
derived from, and a plasticity rule's settings lowering to its saved strings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .artifact import LSB_INDEX

if TYPE_CHECKING:
    from .artifact import CompiledNetwork


# --- value checks ---------------------------------------------------------------------------------------
# Every loaded value is checked in two layers. (1) Generic, over every dataclass field of CompiledNetwork
# and of the rule (so fields added later are covered without editing this file): the value has the type
# its annotation says (int, float, bool, str, dict, array or None), numbers and float arrays are finite,
# arrays are numeric. (2) The formats this module documents: sizes against array shapes, weight mantissas
# in [w_min, w_max], decays within decay_bits, the threshold within threshold_bits, bias within bias_bits,
# exponents within the profile's range, core indices within the core map; each applied only to the fields
# that exist, so a new field never breaks a load.

def _hint_ok(v: Any, hint: Any) -> bool:
    """Does ``v`` have the type that annotation ``hint`` names? Unknown annotations accept anything."""
    import typing
    import scipy.sparse as sp
    if hint is Any or hint is None:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        return any(_hint_ok(v, h) for h in typing.get_args(hint))
    if hint is type(None):
        return v is None
    if hint is bool:
        return isinstance(v, (bool, np.bool_))
    if hint is int:
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    if hint is float:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
    if hint is str:
        return isinstance(v, str)
    if hint is dict or origin is dict:
        return isinstance(v, dict)
    if hint is np.ndarray:
        return isinstance(v, np.ndarray) or sp.issparse(v)
    return True


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("numpy.", "np.")


def _generic_problems(obj: Any, prefix: str) -> list[str]:
    """Type, finiteness and dtype problems of every field of dataclass ``obj`` (layer 1)."""
    import typing
    import scipy.sparse as sp
    try:
        hints = typing.get_type_hints(type(obj))
    except Exception:  # an annotation that cannot be evaluated: check values only
        hints = {}
    out = []
    for f in dataclass_fields(obj):
        v = getattr(obj, f.name)
        name = prefix + f.name
        h = hints.get(f.name, Any)
        if not _hint_ok(v, h):
            out.append(f"{name} = {v!r:.60} is a {type(v).__name__}, expected {_type_name(h)}")
            continue
        if isinstance(v, (float, np.floating)) and not np.isfinite(v):
            out.append(f"{name} = {v!r} is not finite")
        a = v.data if sp.issparse(v) else v
        if isinstance(a, np.ndarray):
            if a.dtype.kind not in "biuf":
                out.append(f"{name} has dtype {a.dtype}, expected a numeric array")
            elif a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
                out.append(f"{name} holds non-finite values")
    return out


def dataclass_fields(obj: Any):
    import dataclasses
    return dataclasses.fields(obj)


def _range(name: str, v: Any, lo: int, hi: int, what: str) -> list[str]:
    """Problems when scalar or array ``v`` has values outside [lo, hi] (integers only)."""
    import scipy.sparse as sp
    a = v.data if sp.issparse(v) else np.asarray(v)
    if a.dtype.kind not in "biu":
        return [f"{name} has dtype {a.dtype}, expected integers ({what})"]
    if a.size == 0:
        return []
    mn, mx = int(a.min()), int(a.max())
    if mn < lo or mx > hi:
        bad = mx if mx > hi else mn
        return [f"{name} holds {bad}, outside [{lo}, {hi}] ({what})"]
    return []


def _shape(v: Any) -> tuple:
    return tuple(getattr(v, "shape", ()))


def artifact_problems(cn: "CompiledNetwork") -> list[str]:
    """Every problem found in ``cn`` (empty list: every value is in its format); see the comment above."""
    out = _generic_problems(cn, "")
    if out:
        return out  # the format checks below assume the types are right
    from ..chips.profile import ChipProfile
    p = cn.profile
    if not isinstance(p, ChipProfile):
        return [f"profile is a {type(p).__name__}, expected a ChipProfile"]
    f = p.format
    for k in ("weight_bits", "decay_bits", "threshold_bits", "bias_bits", "membrane_bits", "current_bits", "trace_bits"):
        b = getattr(f, k)
        if not isinstance(b, int) or isinstance(b, bool) or not (0 <= b <= 32):
            out.append(f"profile format {k} = {b!r}, expected an integer in [0, 32]")
    if f.weight_bits < 2 or f.weight_exp_min > f.weight_exp_max:
        out.append(f"profile format weight_bits = {f.weight_bits} / exponents [{f.weight_exp_min}, {f.weight_exp_max}] are not a format")
    if out:
        return out
    if cn.profile_name != p.name:
        out.append(f"profile_name {cn.profile_name!r} differs from the embedded profile's name {p.name!r}")
    if cn.neuron_kind not in ("lif", "alif"):
        out.append(f"neuron_kind = {cn.neuron_kind!r}, expected 'lif' or 'alif'")
    if cn.reset not in f.resets:
        out.append(f"reset = {cn.reset!r}, the profile supports {list(f.resets)}")
    n_in, n_rec, n_out = cn.n_in, cn.n_rec, cn.n_out
    if min(n_in, n_rec, n_out) < 1:
        return out + [f"sizes n_in={n_in}, n_rec={n_rec}, n_out={n_out} must be >= 1"]
    n_cores = _shape(cn.core_xy)[0] if _shape(cn.core_xy) else 0
    want = {"w_in": (n_rec, n_in), "w_rec": (n_rec, n_rec), "w_out": (n_out, n_rec), "rec_mask": (n_rec, n_rec),
            "bias_mant": (n_rec,), "beta_mant": (n_rec,), "b_out": (n_out,), "core_of": (n_rec + n_out,),
            "core_xy": (n_cores, 2), "hops": (n_cores, n_cores), "ls_hops": (n_cores,),
            "w_in_float": (n_rec, n_in), "w_rec_float": (n_rec, n_rec), "w_out_float": (n_out, n_rec),
            "B_float": (n_rec, n_out), "beta_float": (n_rec,), "route_indptr": (n_rec + 1,),
            "xy_next": (n_cores, n_cores), "in_mask": (n_rec, n_in), "out_mask": (n_out, n_rec)}
    for k, shp in want.items():
        v = getattr(cn, k, None)
        if v is not None and _shape(v) != shp:
            out.append(f"{k} has shape {list(_shape(v))}, but the sizes (n_in={n_in}, n_rec={n_rec}, n_out={n_out}, "
                       f"{n_cores} cores) need {list(shp)}")
    if out:
        return out
    for k, wk in (("in_mask", "w_in"), ("out_mask", "w_out")):
        m = getattr(cn, k)
        if m is None:
            continue
        if m.dtype != bool:
            out.append(f"{k} has dtype {m.dtype}, expected bool")
        elif (np.asarray(getattr(cn, wk)) != 0)[~m].any():
            j, i = (int(v) for v in np.argwhere((np.asarray(getattr(cn, wk)) != 0) & ~m)[0])
            out.append(f"{wk}[{j}, {i}] is nonzero but {k}[{j}, {i}] is False (an absent synapse)")
    wfmt = f"{f.weight_bits}-bit weight mantissa of profile {p.name}"
    for k in ("w_in", "w_rec", "w_out"):
        out += _range(k, getattr(cn, k), f.w_min, f.w_max, wfmt)
    for k in ("e_in", "e_rec", "e_out"):
        out += _range(k, getattr(cn, k), f.weight_exp_min, f.weight_exp_max, "weight exponent range of the profile")
    for k in ("du", "dv", "da", "dk"):
        out += _range(k, getattr(cn, k), 0, (1 << f.decay_bits) - 1, f"{f.decay_bits}-bit decay")
    out += _range("vth", cn.vth, 0, (1 << f.threshold_bits) - 1, f"{f.threshold_bits}-bit unsigned threshold mantissa")
    if f.bias_bits > 0:
        out += _range("bias_mant", cn.bias_mant, -(1 << (f.bias_bits - 1)), (1 << (f.bias_bits - 1)) - 1,
                      f"{f.bias_bits}-bit signed bias mantissa")
    else:
        out += _range("bias_mant", cn.bias_mant, 0, 0, "the profile has no bias")
    out += _range("n_ref", cn.n_ref, 1, 1 << 16, "refractory steps, counting the spike step")
    out += _range("core_of", cn.core_of, 0, max(n_cores - 1, 0), f"core index into the {n_cores} cores used")
    out += _range("beta_shift", cn.beta_shift, 0, 63, "shift of a 64-bit product")
    out += _range("a_inc", cn.a_inc, 0, (1 << 31) - 1, "adaptation increment")
    if not cn.scale_v > 0 or not cn.scale_out > 0:
        out.append(f"scale_v = {cn.scale_v!r}, scale_out = {cn.scale_out!r} must be > 0")
    if not out:                   # the decisions are checked against exponents and scales already in range
        out += _decision_problems(cn)
    if cn.plasticity is not None:
        out += _plasticity_problems(cn)
    if cn.rule is not None:
        out += _generic_problems(cn.rule, "rule.")
        r = cn.rule
        # the rule's own copy of the weight format must be the profile's (it clips learned weights to it)
        for k, want_v in (("weight_bits", f.weight_bits), ("w_min", f.w_min), ("w_max", f.w_max)):
            v = getattr(r, k, None)
            if v is not None and v != want_v:
                out.append(f"rule.{k} = {v!r} differs from the profile's {want_v} ({wfmt})")
        for k, shp in (("B_mant", (n_rec, n_out)), ("qa_mant", (n_rec,))):
            v = getattr(r, k, None)
            if isinstance(v, np.ndarray) and v.shape != shp:
                out.append(f"rule.{k} has shape {list(v.shape)}, the sizes need {list(shp)}")
        for fl in dataclass_fields(r):  # every '*_bits' width is a register width: 0..64
            v = getattr(r, fl.name)
            if fl.name.endswith("_bits") and isinstance(v, (int, np.integer)) and not (0 <= int(v) <= 64):
                out.append(f"rule.{fl.name} = {v!r}, expected a register width in [0, 64] bits")
    return out


def _plasticity_problems(cn: "CompiledNetwork") -> list[str]:
    """The saved plasticity settings are complete, lower on this code to the saved lava strings, use the
    artifact's own W_in LSB, and the chip has the engine that runs them (and no e-prop rule beside them)."""
    from ..errors import NeurochipError
    from .lower_stdp import lowering_from_settings, settings_problems
    st = cn.plasticity
    out = settings_problems(st)
    if out:
        return out
    if not cn.profile.learning.plasticity_engine:
        out.append(f"plasticity rule {st['rule']!r} on chip {cn.profile.name}, which has no plasticity engine")
    if cn.rule is not None:
        out.append("the artifact holds both an e-prop rule and a plasticity rule; a network learns with one")
    if cn.w_lsb is not None and float(st["w_lsb"]) != cn.weight_lsb("w_in"):
        out.append(f"plasticity.w_lsb = {st['w_lsb']!r} differs from the artifact's W_in LSB {cn.weight_lsb('w_in')!r}")
    try:
        low = lowering_from_settings(st)
    except NeurochipError as e:
        return out + [f"plasticity settings do not lower ({e})"]
    if st.get("lava") != low.strings:
        out.append(f"plasticity.lava = {st.get('lava')!r:.80} differs from what its settings lower to "
                   f"({low.strings!r:.80})")
    return out


def _decision_problems(cn: "CompiledNetwork") -> list[str]:
    """The saved quantiser decisions (w_lsb, scale_a) agree with the values they were derived from: each LSB
    with its exponent and scale (relative 1e-12: the quantiser rounds the same quantities in another
    order), scale_a with a_inc = max(1, round(c_a * scale_a)), and the rule's copy of the LSBs is the
    artifact's, bit for bit. A value edited together with a recomputed checksum is refused."""
    import math
    from ..network import NeuronParams
    out = []
    S = cn.profile.format.threshold_shift
    try:
        p = NeuronParams.from_dict(dict(cn.float_params))
    except Exception as e:  # noqa: BLE001 - any malformed params dict is one problem line
        return [f"float_params do not describe a neuron model ({type(e).__name__}: {e})"]
    if cn.w_lsb is not None:
        w = np.asarray(cn.w_lsb)
        if w.shape != (3,) or w.dtype.kind != "f" or not (w > 0).all():
            return [f"w_lsb = {w!r:.80} must be 3 positive floats (w_in, w_rec, w_out)"]
        want = (2.0 ** (cn.e_in + S) / (p.c_in * cn.scale_v), 2.0 ** (cn.e_rec + S) / (p.c_in * cn.scale_v),
                2.0 ** (cn.e_out + S) / (p.c_kappa * cn.scale_out))
        for (k, i), wv in zip(LSB_INDEX.items(), want):
            if not math.isclose(float(w[i]), wv, rel_tol=1e-12):
                out.append(f"w_lsb[{k}] = {float(w[i])!r} disagrees with its exponent and scale ({wv!r})")
        rl = getattr(cn.rule, "w_lsb", None)
        if isinstance(rl, np.ndarray) and not np.array_equal(rl, w):
            out.append(f"rule.w_lsb = {rl.tolist()} differs from the artifact's w_lsb {w.tolist()}")
    if cn.scale_a is not None:
        sa = float(cn.scale_a)
        if not (sa > 0 and math.isfinite(sa)) or math.frexp(sa)[0] != 0.5:
            out.append(f"scale_a = {cn.scale_a!r} must be a positive power of two")
        elif int(cn.a_inc) > 0 and int(cn.a_inc) != max(1, int(round(p.c_a * sa))):
            out.append(f"scale_a = {sa!r} disagrees with a_inc = {int(cn.a_inc)} (a_inc = round(c_a * scale_a))")
        elif int(cn.a_inc) == 0 and sa != 1.0:
            out.append(f"scale_a = {sa!r}, but without adaptation (a_inc = 0) the scale is 1.0")
    return out


def check_artifact(cn: "CompiledNetwork", where: str = "artifact") -> None:
    """Raise `ArtifactError` (one line, the first problems) unless every value of ``cn`` is in its format."""
    from ..errors import ArtifactError
    probs = artifact_problems(cn)
    if probs:
        more = f" (+{len(probs) - 2} more)" if len(probs) > 2 else ""
        raise ArtifactError(f"{where}: value outside its format: " + "; ".join(probs[:2]) + more)
