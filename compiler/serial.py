"""Generic (pickle-free) serialisation of `CompiledNetwork` into a neurochip bundle.

Each dataclass field is stored by kind: numpy array -> npz entry ``<field>``; scipy.sparse matrix -> CSR
``<field>.indptr/.indices/.data`` + shape in meta; the `ChipProfile` -> nested dict in meta; the
`CompiledRule` (a dataclass of scalars, strings and arrays) -> arrays ``rule.<name>`` + scalars in meta;
everything else (ints, floats, strings, bools, JSON dicts, None) -> meta as is. Loading reverses this and
checks that every field is present.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..chips.profile import ChipProfile, CoreLimits, Cost, Formats, LearningCaps, Mesh, Noc
from ..errors import ArtifactError
from ..io import load_bundle, save_bundle
from .artifact import SCHEMA, CompiledNetwork

KIND = "compiled"


def jsonable(x: Any) -> Any:
    """Plain JSON types (numpy scalars -> Python, tuples -> lists), so a saved dict loads back equal."""
    from ..io import _json_default
    return json.loads(json.dumps(x, default=_json_default))


def profile_to_dict(p: ChipProfile) -> dict:
    return jsonable(dataclasses.asdict(p))


def profile_from_dict(d: dict) -> ChipProfile:
    def cost(c):
        return None if c is None else Cost(**c)
    try:
        f = dict(d["format"])
        f["resets"] = tuple(f["resets"])
        if f.pop("lava_lif", False):      # artifacts from before format.overflow named lava's semantics
            f["overflow"] = "lava"
        f.pop("exp_scope", None)          # removed profile keys (neurochip.chips.profile.REMOVED_KEYS)
        lc = dict(d["learning"])
        lc.pop("epoch_max", None)
        lc["eligibility"] = tuple(lc["eligibility"])
        lc["rounding"] = tuple(lc["rounding"])
        noc = {k: v for k, v in d["noc"].items() if k != "header_bits"}
        return ChipProfile(name=d["name"], description=d["description"], mesh=Mesh(**d["mesh"]), core=CoreLimits(**d["core"]),
                           format=Formats(**f), learning=LearningCaps(**lc), noc=Noc(**noc),
                           costs={k: cost(v) for k, v in d["costs"].items()}, static_mw_per_core=cost(d["static_mw_per_core"]),
                           sources=tuple(d["sources"]), path=d["path"])
    except (KeyError, TypeError) as e:
        raise ArtifactError(f"artifact profile is incomplete or foreign ({e})") from None


def _put(name: str, v: Any, arrays: dict, meta: dict) -> None:
    if isinstance(v, np.ndarray):
        arrays[name] = v
        meta[name] = {"__array__": True}
    elif sp.issparse(v):
        c = sp.csr_matrix(v)
        arrays[name + ".indptr"], arrays[name + ".indices"], arrays[name + ".data"] = c.indptr, c.indices, c.data
        meta[name] = {"__csr__": list(c.shape)}
    elif isinstance(v, np.generic):
        meta[name] = {"__npscalar__": v.dtype.str, "value": v.item()}
    else:
        meta[name] = {"value": jsonable(v)}


def _get(name: str, m: Any, arrays: dict) -> Any:
    if not isinstance(m, dict):
        raise ArtifactError(f"artifact field '{name}' has a malformed entry in the manifest")
    try:
        if m.get("__array__"):
            return arrays[name]
        if "__csr__" in m:
            return sp.csr_matrix((arrays[name + ".data"], arrays[name + ".indices"], arrays[name + ".indptr"]), shape=tuple(m["__csr__"]))
        if "__npscalar__" in m:
            return np.dtype(m["__npscalar__"]).type(m["value"])
        return m["value"]
    except KeyError as e:
        raise ArtifactError(f"artifact field '{name}' misses its data ({e})") from None


def save_compiled(cn: CompiledNetwork, stem) -> None:
    arrays: dict[str, np.ndarray] = {}
    fields_meta: dict[str, Any] = {}
    for f in dataclasses.fields(cn):
        v = getattr(cn, f.name)
        if f.name == "profile":
            fields_meta["profile"] = {"__profile__": profile_to_dict(v)}
        elif f.name == "rule" and v is not None:
            rmeta: dict[str, Any] = {}
            for rf in dataclasses.fields(v):
                _put("rule." + rf.name, getattr(v, rf.name), arrays, rmeta)
            fields_meta["rule"] = {"__rule__": type(v).__name__, "module": type(v).__module__, "fields": rmeta}
        elif v is None and f.name in OMIT_IF_NONE:
            continue
        else:
            _put(f.name, v, arrays, fields_meta)
    save_bundle(stem, KIND, SCHEMA, arrays, {"fields": fields_meta})


# Fields added after schema 1 was written, derived once on load from what older artifacts saved.
DERIVED_ONCE = ("w_lsb", "scale_a")
# Fields added later whose absence in an older artifact means "none" (it was compiled before they existed).
ABSENT_IS_NONE = ("plasticity", "in_mask", "out_mask")
# Of those, the ones not written at all when None (so the manifest of an artifact without them is unchanged).
OMIT_IF_NONE = ("in_mask", "out_mask")


def _decisions_from_report(stem, fm: dict) -> dict:
    """The field values of the quantiser's decisions (w_lsb, scale_a) of an artifact saved before they were
    fields: read from its own compile report (``report['quantize']``: each projection's ``lsb`` and
    ``scale_a``, covered by the manifest digest), never re-derived from exponents. An artifact whose
    report does not carry them is refused."""
    rep = (fm.get("report") or {}).get("value") if isinstance(fm.get("report"), dict) else None
    qr = rep.get("quantize") if isinstance(rep, dict) else None
    try:
        pr = qr["projections"]
        lsb = [float(pr[k]["lsb"]) for k in ("in", "rec", "out")]
        scale_a = float(qr["scale_a"])
    except (KeyError, TypeError, ValueError):
        raise ArtifactError(f"{stem}: artifact predates the saved quantiser decisions (w_lsb, scale_a) and its report "
                            f"does not carry them; recompile it") from None
    d = {"w_lsb": np.array(lsb, np.float64), "scale_a": scale_a}
    return {k: v for k, v in d.items() if k not in fm}


def load_compiled(stem) -> CompiledNetwork:
    arrays, meta = load_bundle(stem, KIND, SCHEMA)
    fm = meta.get("fields")
    if not isinstance(fm, dict):
        raise ArtifactError(f"{stem}: manifest has no field table")
    kw: dict[str, Any] = {}
    derived = _decisions_from_report(stem, fm) if any(k not in fm for k in DERIVED_ONCE) else {}
    for f in dataclasses.fields(CompiledNetwork):
        if f.name in derived:
            kw[f.name] = derived[f.name]
            continue
        if f.name not in fm and f.name in ABSENT_IS_NONE:
            kw[f.name] = None
            continue
        if f.name not in fm:
            raise ArtifactError(f"{stem}: artifact misses field '{f.name}'")
        m = fm[f.name]
        if f.name == "profile":
            if not isinstance(m, dict) or "__profile__" not in m:
                raise ArtifactError(f"{stem}: artifact profile entry is malformed")
            kw["profile"] = profile_from_dict(m["__profile__"])
        elif f.name == "rule" and isinstance(m, dict) and "__rule__" in m:
            from .compiled_rule import CompiledRule
            rkw = {}
            for rf in dataclasses.fields(CompiledRule):
                if "rule." + rf.name not in m["fields"]:
                    raise ArtifactError(f"{stem}: compiled rule misses field '{rf.name}'")
                rkw[rf.name] = _get("rule." + rf.name, m["fields"]["rule." + rf.name], arrays)
            try:
                kw["rule"] = CompiledRule(**rkw)
            except (TypeError, ValueError) as e:
                raise ArtifactError(f"{stem}: compiled rule does not validate ({e})") from None
        else:
            kw[f.name] = _get(f.name, m, arrays)
    try:
        return CompiledNetwork(**kw)
    except (TypeError, ValueError) as e:
        raise ArtifactError(f"{stem}: artifact does not validate ({e})") from None
