"""`ChipProfile`: one chip's limits, number formats, learning primitives and published costs.

Read from a TOML file (``neurochip/chips/<name>.toml`` or any path). Limits (architectural facts) and
costs (energies with a source, an evidence grade and a scope) are kept apart. A cost nobody published
is absent from ``costs`` (never zero). Grades: M measured on silicon, S pre-silicon simulation,
D derived by arithmetic from published numbers, A architectural, C vendor claim, 2 secondary source.
Scopes: 'per_event' (adds with other per-event costs) or 'all_in' (an operating-point average that
already contains static power, routing and neuron updates; never combined with other costs).

TOML layout (all sections required unless marked optional)::

    name = "loihi2"            description = "..."      [[sources]] optional list of references
    [mesh]    cols, rows (grid of tiles), cores (<= cols*rows*cores_per_tile), cores_per_tile (optional,
              default 1; cores of one tile share a router: 0 hops between them)
    [core]    max_neurons, syn_mem_bits, max_fan_in, max_fan_out, syn_overhead_bits (per synapse:
              index/delay/tag bits stored beside the weight), learn_state_bits (per-core bits for
              traces/eligibility, optional; default = shares syn_mem_bits), compartments_per_adaptive
              (optional, default 1), max_readout (optional: dedicated readout units per chip),
              max_inputs (optional: input channels per chip)
    [format]  weight_bits (signed, incl. sign; one exponent per projection), weight_exp_min,
              weight_exp_max, membrane_bits, current_bits, decay_bits, threshold_bits,
              threshold_shift, bias_bits, trace_bits, overflow ('lava' | 'saturate' | 'wrap': what the
              neuron registers do at their limits, docs/fixed_point.md "Registers"; default
              'saturate'), resets (list of 'subtract' | 'zero'), refractory (bool), adaptation (bool),
              max_saturation_fraction
    [learning] supported (bool), eligibility (list of 'per_synapse' | 'factorised'), third_factor
              (bool), lr_format ('shift' | 'mantissa_exp'), accumulator_bits,
              rounding (list of 'nearest' | 'stochastic'), readout_learning (bool), plasticity_engine (bool:
              a trace-based sum-of-products learning engine, Loihi's, that runs STDP / R-STDP; default false)
    [noc]     packet_bits (the whole message, header included), routing ('xy')

Unknown keys in [format], [learning] and [noc] are an error; so are the removed keys (REMOVED_KEYS),
each with what replaced it.
    [power]   optional: static_mw_per_core = {value, grade, source}
    [costs.<event>] value (pJ), grade, source, scope ('per_event' | 'all_in'), note (optional)
              events: sop, neuron_update, neuron_update_inactive, trace_update, weight_update,
              spike_packet, hop, hop_ew, hop_ns, intra_tile, learning_signal, mem_read_bit,
              mem_write_bit, all_in_sop
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

GRADES = ("M", "S", "D", "A", "C", "2")
SCOPES = ("per_event", "all_in")
COST_EVENTS = ("sop", "neuron_update", "neuron_update_inactive", "trace_update", "weight_update",
               "spike_packet", "hop", "hop_ew", "hop_ns", "intra_tile", "learning_signal",
               "mem_read_bit", "mem_write_bit", "all_in_sop")


@dataclass(frozen=True)
class Cost:
    """A published energy per event (pJ) or power (mW), with provenance."""

    value: float
    grade: str
    source: str
    scope: str = "per_event"
    note: str = ""


@dataclass(frozen=True)
class Mesh:
    cols: int
    rows: int
    cores: int
    cores_per_tile: int = 1


@dataclass(frozen=True)
class CoreLimits:
    max_neurons: int
    syn_mem_bits: int
    max_fan_in: int
    max_fan_out: int
    syn_overhead_bits: int = 0
    learn_state_bits: int | None = None
    # Added by the compiler helper (all optional, defaults keep old profiles valid):
    compartments_per_adaptive: int = 1   # neuron slots an ALIF neuron uses (2 on Loihi 1)
    max_readout: int | None = None       # dedicated readout units per chip (None: readouts use neuron slots)
    max_inputs: int | None = None        # input channels per chip (None: unlimited)


@dataclass(frozen=True)
class Formats:
    weight_bits: int
    weight_exp_min: int
    weight_exp_max: int
    membrane_bits: int
    current_bits: int
    decay_bits: int
    threshold_bits: int
    threshold_shift: int
    bias_bits: int
    trace_bits: int
    overflow: str                # 'lava' | 'saturate' | 'wrap' (OVERFLOW_SEMANTICS)
    resets: tuple[str, ...]
    refractory: bool
    adaptation: bool
    max_saturation_fraction: float = 0.01

    @property
    def w_max(self) -> int:
        """Largest weight mantissa (signed, two's complement): 2^(bits-1) - 1."""
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def w_min(self) -> int:
        return -(1 << (self.weight_bits - 1))


@dataclass(frozen=True)
class LearningCaps:
    supported: bool
    eligibility: tuple[str, ...] = ()
    third_factor: bool = False
    lr_format: str = "shift"
    accumulator_bits: int = 16
    rounding: tuple[str, ...] = ("nearest",)
    readout_learning: bool = False
    plasticity_engine: bool = False     # Loihi's sum-of-products engine (STDP / R-STDP: compiler.lower_stdp)


@dataclass(frozen=True)
class Noc:
    packet_bits: int
    routing: str = "xy"


@dataclass(frozen=True)
class ChipProfile:
    name: str
    description: str
    mesh: Mesh
    core: CoreLimits
    format: Formats
    learning: LearningCaps
    noc: Noc
    costs: dict[str, Cost] = field(default_factory=dict)
    static_mw_per_core: Cost | None = None
    sources: tuple[str, ...] = ()
    path: str = ""

    def cost(self, event: str) -> float | None:
        """pJ per event, or None when nobody published it."""
        c = self.costs.get(event)
        return None if c is None else c.value

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict
        d = asdict(self)
        return d


# format.overflow: what the neuron registers (u, v, readout) do at their limits (docs/fixed_point.md "Registers")
OVERFLOW_SEMANTICS = ("lava", "saturate", "wrap")
KNOWN_KEYS = {
    "format": ("weight_bits", "weight_exp_min", "weight_exp_max", "membrane_bits", "current_bits", "decay_bits",
               "threshold_bits", "threshold_shift", "bias_bits", "trace_bits", "overflow", "resets", "refractory",
               "adaptation", "max_saturation_fraction"),
    "learning": ("supported", "eligibility", "third_factor", "lr_format", "accumulator_bits", "rounding",
                 "readout_learning", "plasticity_engine"),
    "noc": ("packet_bits", "routing"),
}
# keys that profiles once had and nothing honoured: refused with what replaced them
REMOVED_KEYS = {
    ("format", "lava_lif"): "write overflow = \"lava\" (lava-nc's register semantics) instead",
    ("format", "exp_scope"): "every shipped chip has one weight exponent per projection, the only form the "
                             "compiler emits; remove the key",
    ("learning", "epoch_max"): "the on-chip rule applies weights from its per-synapse accumulator "
                               "(accumulator_bits) at trial or batch boundaries, not in lava's t_epoch; remove the key",
    ("noc", "header_bits"): "packet_bits is the whole message, header included (the cost model reads only it); "
                            "remove the key",
}


def _check_keys(d: dict, section: str, path: str) -> None:
    for k in d:
        if (section, k) in REMOVED_KEYS:
            raise ConfigError(f"{path}: [{section}] {k} was removed: {REMOVED_KEYS[(section, k)]}")
        if k not in KNOWN_KEYS[section]:
            raise ConfigError(f"{path}: [{section}] has an unknown key '{k}'; known: {', '.join(KNOWN_KEYS[section])}")


def _req(d: dict, key: str, where: str, typ, path: str):
    if key not in d:
        raise ConfigError(f"{path}: [{where}] is missing '{key}'")
    v = d[key]
    if typ is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise ConfigError(f"{path}: [{where}] {key} must be an integer, got {v!r}")
    if typ is float and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
        raise ConfigError(f"{path}: [{where}] {key} must be a finite number, got {v!r}")
    if typ is bool and not isinstance(v, bool):
        raise ConfigError(f"{path}: [{where}] {key} must be true or false, got {v!r}")
    if typ is str and not isinstance(v, str):
        raise ConfigError(f"{path}: [{where}] {key} must be a string, got {v!r}")
    return v


def _pos(v: int | float, key: str, where: str, path: str, allow_zero: bool = False):
    if v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"{path}: [{where}] {key} must be {'>= 0' if allow_zero else '> 0'}, got {v!r}")
    return v


def _section(d: dict, key: str, path: str, optional: bool = False) -> dict:
    s = d.get(key)
    if s is None:
        if optional:
            return {}
        raise ConfigError(f"{path}: missing section [{key}]")
    if not isinstance(s, dict):
        raise ConfigError(f"{path}: [{key}] must be a table")
    return s


def _cost(d: Any, where: str, path: str) -> Cost:
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: [{where}] must be a table with value, grade, source")
    value = _pos(_req(d, "value", where, float, path), "value", where, path, allow_zero=True)
    grade = _req(d, "grade", where, str, path)
    if grade not in GRADES:
        raise ConfigError(f"{path}: [{where}] grade must be one of {GRADES}, got {grade!r}")
    source = _req(d, "source", where, str, path)
    if not source.strip():
        raise ConfigError(f"{path}: [{where}] source must name where the figure comes from")
    scope = d.get("scope", "per_event")
    if scope not in SCOPES:
        raise ConfigError(f"{path}: [{where}] scope must be one of {SCOPES}, got {scope!r}")
    return Cost(float(value), grade, source, scope, str(d.get("note", "")))


def profile_from_dict(d: dict[str, Any], path: str = "<dict>") -> ChipProfile:
    """Validate a parsed TOML table and build a `ChipProfile`; raises `ConfigError` naming the key."""
    name = _req(d, "name", "top", str, path)
    m = _section(d, "mesh", path)
    cols = _pos(_req(m, "cols", "mesh", int, path), "cols", "mesh", path)
    rows = _pos(_req(m, "rows", "mesh", int, path), "rows", "mesh", path)
    cores = _pos(m.get("cores", cols * rows), "cores", "mesh", path)
    cpt = _pos(m.get("cores_per_tile", 1), "cores_per_tile", "mesh", path)
    if cores > cols * rows * cpt:
        raise ConfigError(f"{path}: [mesh] cores = {cores} exceeds cols*rows*cores_per_tile = {cols * rows * cpt}")
    mesh = Mesh(cols, rows, int(cores), int(cpt))
    c = _section(d, "core", path)
    core = CoreLimits(
        max_neurons=_pos(_req(c, "max_neurons", "core", int, path), "max_neurons", "core", path),
        syn_mem_bits=_pos(_req(c, "syn_mem_bits", "core", int, path), "syn_mem_bits", "core", path),
        max_fan_in=_pos(_req(c, "max_fan_in", "core", int, path), "max_fan_in", "core", path),
        max_fan_out=_pos(_req(c, "max_fan_out", "core", int, path), "max_fan_out", "core", path),
        syn_overhead_bits=_pos(c.get("syn_overhead_bits", 0), "syn_overhead_bits", "core", path, True),
        learn_state_bits=c.get("learn_state_bits"),
        compartments_per_adaptive=_pos(c.get("compartments_per_adaptive", 1), "compartments_per_adaptive", "core", path),
        max_readout=c.get("max_readout"),
        max_inputs=c.get("max_inputs"),
    )
    for k in ("learn_state_bits", "max_readout", "max_inputs"):
        v = getattr(core, k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ConfigError(f"{path}: [core] {k} must be an integer >= 0, got {v!r}")
    f = _section(d, "format", path)
    _check_keys(f, "format", path)
    fmt_int = {k: _req(f, k, "format", int, path) for k in (
        "weight_bits", "weight_exp_min", "weight_exp_max", "membrane_bits", "current_bits", "decay_bits",
        "threshold_bits", "threshold_shift", "bias_bits", "trace_bits")}
    for k in ("weight_bits", "membrane_bits", "current_bits", "decay_bits", "threshold_bits", "trace_bits"):
        _pos(fmt_int[k], k, "format", path)
        if fmt_int[k] > 32:
            raise ConfigError(f"{path}: [format] {k} = {fmt_int[k]} bits; at most 32 are supported")
    if fmt_int["weight_bits"] < 2:
        raise ConfigError(f"{path}: [format] weight_bits counts the sign bit and must be >= 2, got {fmt_int['weight_bits']}")
    if fmt_int["weight_exp_min"] > fmt_int["weight_exp_max"]:
        raise ConfigError(f"{path}: [format] weight_exp_min {fmt_int['weight_exp_min']} > weight_exp_max {fmt_int['weight_exp_max']}")
    overflow = f.get("overflow", "saturate")
    if overflow not in OVERFLOW_SEMANTICS:
        raise ConfigError(f"{path}: [format] overflow must be one of {', '.join(OVERFLOW_SEMANTICS)}, got {overflow!r}")
    if overflow == "lava" and max(fmt_int["membrane_bits"], fmt_int["current_bits"]) > 31:
        raise ConfigError(f"{path}: [format] overflow = 'lava' keeps u and v in int32 (lava-nc's LIF): membrane_bits "
                          f"and current_bits must be <= 31, got {fmt_int['membrane_bits']} and {fmt_int['current_bits']}")
    resets = tuple(f.get("resets", ["subtract"]))
    if not resets or any(r not in ("subtract", "zero") for r in resets):
        raise ConfigError(f"{path}: [format] resets must list 'subtract' and/or 'zero', got {list(resets)!r}")
    msf = float(f.get("max_saturation_fraction", 0.01))
    if not 0 <= msf <= 1:
        raise ConfigError(f"{path}: [format] max_saturation_fraction must be in [0, 1], got {msf}")
    fmt = Formats(**fmt_int, overflow=overflow, resets=resets,
                  refractory=bool(f.get("refractory", True)), adaptation=bool(f.get("adaptation", False)),
                  max_saturation_fraction=msf)
    lr = _section(d, "learning", path)
    _check_keys(lr, "learning", path)
    supported = _req(lr, "supported", "learning", bool, path)
    elig = tuple(lr.get("eligibility", []))
    if any(e not in ("per_synapse", "factorised") for e in elig):
        raise ConfigError(f"{path}: [learning] eligibility must list 'per_synapse'/'factorised', got {list(elig)!r}")
    rounding = tuple(lr.get("rounding", ["nearest"]))
    if any(r not in ("nearest", "stochastic") for r in rounding):
        raise ConfigError(f"{path}: [learning] rounding must list 'nearest'/'stochastic', got {list(rounding)!r}")
    learning = LearningCaps(supported=supported, eligibility=elig, third_factor=bool(lr.get("third_factor", False)),
                            lr_format=str(lr.get("lr_format", "shift")),
                            accumulator_bits=int(lr.get("accumulator_bits", 16)), rounding=rounding,
                            readout_learning=bool(lr.get("readout_learning", False)),
                            plasticity_engine=_req(lr, "plasticity_engine", "learning", bool, path)
                            if "plasticity_engine" in lr else False)
    n = _section(d, "noc", path)
    _check_keys(n, "noc", path)
    noc = Noc(packet_bits=_pos(_req(n, "packet_bits", "noc", int, path), "packet_bits", "noc", path),
              routing=str(n.get("routing", "xy")))
    costs_t = _section(d, "costs", path, optional=True)
    costs = {}
    for k, v in costs_t.items():
        if k not in COST_EVENTS:
            raise ConfigError(f"{path}: [costs.{k}] is not a known event; known: {', '.join(COST_EVENTS)}")
        costs[k] = _cost(v, f"costs.{k}", path)
    all_in = [k for k, v in costs.items() if v.scope == "all_in"]
    if all_in and len(costs) > len(all_in):
        others = sorted(set(costs) - set(all_in))
        # Allowed to coexist (for reporting), but the cost model must never add them: record it.
        pass
    pw = _section(d, "power", path, optional=True)
    static = _cost(pw["static_mw_per_core"], "power.static_mw_per_core", path) if "static_mw_per_core" in pw else None
    return ChipProfile(name=name, description=str(d.get("description", "")), mesh=mesh, core=core, format=fmt,
                       learning=learning, noc=noc, costs=costs, static_mw_per_core=static,
                       sources=tuple(str(s) for s in d.get("sources", [])), path=path)


BUILTIN_DIR = Path(__file__).resolve().parent


def builtin_profiles() -> list[str]:
    """Names of the shipped profiles."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path) -> ChipProfile:
    """Load a shipped profile by name (``loihi2``) or a user TOML file by path."""
    import difflib
    import tomli

    s = str(name_or_path)
    p = Path(s)
    if not (s.endswith(".toml") or p.is_file()):
        p = BUILTIN_DIR / f"{s}.toml"
        if not p.is_file():
            names = builtin_profiles()
            close = difflib.get_close_matches(s, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown chip '{s}'; shipped chips: {', '.join(names)} (or pass a .toml path){hint}")
    if not p.is_file():
        raise ConfigError(f"chip profile file not found: {p}")
    try:
        d = tomli.loads(p.read_text("utf-8"))
    except (tomli.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML ({e})") from None
    return profile_from_dict(d, str(p))
