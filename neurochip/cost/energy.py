"""Energy of a run: counted events x the chip profile's published pJ per event, plus static power.

Inputs are only `EventCounts` (what any backend counted) and a `ChipProfile` (its ``costs`` and
``static_mw_per_core``), plus, optionally, the mesh coordinates of the used cores (``core_xy``,
[n_cores, 2] int (col, row)) so mesh hops can be split into east-west and north-south hops. No
energy constant lives in this module: every pJ comes from the profile, with its grade and source.

Model (per_event profiles; units pJ)::

    E = syn_ops * sop
      + active * neuron_update + (neuron_updates - active) * neuron_update_inactive
      + spike_packets * spike_packet                          (message generation, if published)
      + sum_{a != b tile} P[a,b] * (dx*hop_ew + dy*hop_ns)    (or hops * hop)
      + (packets with 0 hops) * intra_tile                    (own core / own tile delivery)
      + trace_updates * trace_update + weight_updates * weight_update
      + ls_msgs * learning_signal + ls_hops * hop + ls_macs * sop   (learning signal)
      + bits_read * mem_read_bit + bits_written * mem_write_bit     (only where published)
      + static_mw_per_core * n_cores * steps * step_ms * 1e6   (mW * ms = uJ = 1e6 pJ)

A category with events counted but no published cost is *unpriced*: it is listed with its count, its
energy is None and the report's ``complete`` flag is False (the total is then a lower bound, and says
so). A profile whose SOP cost has scope 'all_in' (an operating-point average that already contains
static power, routing and neuron updates) is costed as ``E = syn_ops * all_in`` only; its other
per-event costs are never added.

Time-step duration: ``step_ms`` (default: the network's ``dt``, 1 ms) is the *wall-clock* duration of
one chip time step, i.e. the chip is paced in real time, as in the e-prop tasks and in TrueNorth's and
ReckOn's published operating points. Static energy scales with it; dynamic energy does not.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError

LEARNING_CATEGORIES = ("trace", "weight", "learning_signal", "learning_signal_routing", "learning_signal_macs",
                       "history_read", "history_write")
PJ_PER_MW_MS = 1e6  # 1 mW * 1 ms = 1 uJ = 1e6 pJ


@dataclass(frozen=True)
class Line:
    """One category of the breakdown: ``count`` events x ``pj_per_event`` = ``energy_pj`` (None = unpriced)."""

    category: str
    event: str            # the profile cost key that prices it ('' for derived lines)
    count: float
    pj_per_event: float | None
    energy_pj: float | None
    grade: str = ""
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class EnergyReport:
    """Energy of one run on one chip. Energies in pJ; ``per_core_pj`` [n_cores] or None."""

    chip: str
    mode: str                       # 'per_event' | 'all_in'
    lines: tuple[Line, ...]
    total_pj: float                 # sum of the priced lines (a lower bound when not complete)
    dynamic_pj: float
    static_pj: float | None
    complete: bool
    unpriced: tuple[str, ...]
    trials: int
    steps: int
    step_ms: float
    n_cores: int
    per_core_pj: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    def by_category(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for ln in self.lines:
            prev = out.get(ln.category, 0.0)
            out[ln.category] = None if (prev is None or ln.energy_pj is None) else prev + ln.energy_pj
        return out

    @property
    def learning_pj(self) -> float:
        return float(sum(ln.energy_pj or 0.0 for ln in self.lines if ln.category in LEARNING_CATEGORIES))

    def per_trial_uj(self) -> float:
        """Total energy per trial (inference or learning step on one sample), uJ."""
        return self.total_pj / max(self.trials, 1) * 1e-6

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("lines", "per_core_pj")}
        d["lines"] = [asdict(ln) for ln in self.lines]
        d["per_core_pj"] = None if self.per_core_pj is None else [float(x) for x in self.per_core_pj]
        d["per_trial_uj"] = self.per_trial_uj()
        d["learning_pj"] = self.learning_pj
        d["by_category_pj"] = self.by_category()
        return d


def _cost(profile, event: str):
    c = profile.costs.get(event)
    return None if c is None else c


def _all_in_cost(profile):
    """The all-in SOP cost of the profile, or None. Any all_in-scoped cost prices synaptic ops only."""
    for key in ("all_in_sop", "sop"):
        c = profile.costs.get(key)
        if c is not None and c.scope == "all_in":
            return key, c
    others = [k for k, c in profile.costs.items() if c.scope == "all_in"]
    if others:
        raise ConfigError(f"chip '{profile.name}': cost(s) {others} have scope 'all_in' but only 'all_in_sop' "
                          "(synaptic events) can carry an all-in operating-point figure")
    return None


def pair_hops(core_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """XY-routing hop counts between used cores: (dx [n, n], dy [n, n]) int64 (|col diff|, |row diff|)."""
    xy = np.asarray(core_xy, dtype=np.int64).reshape(-1, 2)
    dx = np.abs(xy[:, None, 0] - xy[None, :, 0])
    dy = np.abs(xy[:, None, 1] - xy[None, :, 1])
    return dx, dy


def _line(category: str, event: str, count: float, cost, note: str = "") -> Line:
    if cost is None:
        return Line(category, event, float(count), None, None if count else 0.0, "", "", note or "not published")
    return Line(category, event, float(count), cost.value, float(count) * cost.value, cost.grade, cost.source,
                note or cost.note)


def _routing_lines(counts, profile, core_xy) -> tuple[list[Line], np.ndarray | None, list[str]]:
    """Hop and intra-tile lines for spike packets, and each source core's routing energy (pJ)."""
    notes: list[str] = []
    ew, ns, hop, intra = (_cost(profile, k) for k in ("hop_ew", "hop_ns", "hop", "intra_tile"))
    c2c = np.asarray(counts.core_to_core_packets, dtype=np.int64)
    have_matrix = core_xy is not None and c2c.ndim == 2 and c2c.size and c2c.shape[0] == len(core_xy)
    if have_matrix:
        dx, dy = pair_hops(core_xy)
        n_x, n_y = int((c2c * dx).sum()), int((c2c * dy).sum())
        zero = (dx + dy) == 0
        n_intra = int(c2c[zero].sum())
        lines = []
        if ew is not None and ns is not None:
            lines += [_line("routing", "hop_ew", n_x, ew), _line("routing", "hop_ns", n_y, ns)]
            per_pair = dx * ew.value + dy * ns.value
        elif hop is not None:
            lines.append(_line("routing", "hop", n_x + n_y, hop))
            per_pair = (dx + dy) * hop.value
        else:
            lines.append(_line("routing", "hop", n_x + n_y, None))
            per_pair = None
        if intra is None and profile.mesh.cores == 1:
            # A single-core chip has no network on chip: delivery to its own core is inside the SOP figure.
            lines.append(Line("intra_tile", "intra_tile", float(n_intra), None, 0.0, "", "",
                              "single-core chip without a NoC: local delivery is part of the synaptic op"))
        else:
            lines.append(_line("intra_tile", "intra_tile", n_intra, intra,
                               "packets delivered without a mesh hop (own core or own tile), priced as in-tile spikes"))
        per_src = None
        if per_pair is not None:
            per_pair = per_pair + (zero * (intra.value if intra is not None else 0.0))
            per_src = (c2c * per_pair).sum(axis=1).astype(np.float64)
        if int(c2c.sum()) != int(counts.spike_packets):
            notes.append(f"core_to_core_packets sums to {int(c2c.sum())} but spike_packets = {counts.spike_packets}; "
                         "routing priced from the matrix")
        return lines, per_src, notes
    # No per-pair matrix: only the total hop count is known.
    if hop is not None:
        lines = [_line("routing", "hop", counts.mesh_hops, hop)]
    elif ew is not None and ns is not None:
        mean = (ew.value + ns.value) / 2.0
        lines = [Line("routing", "hop_ew/hop_ns", float(counts.mesh_hops), mean, counts.mesh_hops * mean,
                      ew.grade, f"{ew.source}; {ns.source}", "E-W/N-S split unknown: mean of the two")]
    else:
        lines = [_line("routing", "hop", counts.mesh_hops, None)]
    notes.append("no core_to_core_packets/core_xy: hops priced from the total, intra-tile deliveries not priced")
    return lines, None, notes


def _hop_price(profile):
    """(pJ, grade, source, note) for one hop of unknown direction, or None."""
    hop = _cost(profile, "hop")
    if hop is not None:
        return hop.value, hop.grade, hop.source, ""
    ew, ns = _cost(profile, "hop_ew"), _cost(profile, "hop_ns")
    if ew is not None and ns is not None:
        return (ew.value + ns.value) / 2.0, ew.grade, f"{ew.source}; {ns.source}", "direction unknown: mean of E-W and N-S"
    return None


def energy(counts, profile, *, step_ms: float = 1.0, n_cores: int | None = None,
           core_xy: np.ndarray | None = None, history_bits: tuple[int, int] | None = None) -> EnergyReport:
    """Price ``counts`` (`EventCounts`) on ``profile`` (`ChipProfile`).

    step_ms: wall-clock duration of one chip time step (ms) for static power (real-time pacing).
    n_cores: cores powered (default: len(core_xy), else the per-core arrays' length, else 1).
    core_xy: [n_cores, 2] mesh (col, row) of each used core, to split hops E-W / N-S and find
             packets that never leave their tile.
    history_bits: (read, written) bits of BPTT state-history traffic: extra memory accesses that no
             per-op figure contains, priced at mem_read_bit / mem_write_bit or reported unpriced.
    """
    if not (step_ms > 0 and np.isfinite(step_ms)):
        raise ConfigError(f"step_ms (wall-clock duration of a chip time step) must be > 0 ms, got {step_ms!r}")
    if n_cores is None:
        if core_xy is not None:
            n_cores = len(core_xy)
        elif np.asarray(counts.per_core_syn_ops).size:
            n_cores = int(np.asarray(counts.per_core_syn_ops).size)
        else:
            n_cores = 1
    notes: list[str] = []
    lines: list[Line] = []
    all_in = _all_in_cost(profile)
    per_core = None
    if all_in is not None:
        key, c = all_in
        lines.append(Line("synaptic", key, float(counts.syn_ops), c.value, counts.syn_ops * c.value, c.grade, c.source,
                          "all-in operating-point figure: includes static power, routing and neuron updates"))
        learn_events = {"trace": ("trace_update", counts.trace_updates), "weight": ("weight_update", counts.weight_updates),
                        "learning_signal": ("learning_signal", counts.learning_signal_msgs),
                        "learning_signal_macs": ("learning_signal_macs", counts.learning_signal_macs)}
        for cat, (ev, n) in learn_events.items():
            if n:
                lines.append(Line(cat, ev, float(n), None, None, "", "",
                                  "the all-in figure was measured without learning: not included"))
        if history_bits is not None and any(history_bits):
            lines.append(Line("history_read", "mem_read_bit", float(history_bits[0]), None, None, "", "",
                              "BPTT state history: not inside the all-in figure"))
            lines.append(Line("history_write", "mem_write_bit", float(history_bits[1]), None, None, "", "",
                              "BPTT state history: not inside the all-in figure"))
        notes.append("all-in profile: energy = syn_ops x all-in pJ/SOP only; no other cost is added")
        static = None
        pcs = np.asarray(counts.per_core_syn_ops, dtype=np.float64)
        if pcs.size:
            per_core = pcs * c.value
        mode = "all_in"
    else:
        mode = "per_event"
        sop = _cost(profile, "sop")
        lines.append(_line("synaptic", "sop", counts.syn_ops, sop))
        nu, nui = _cost(profile, "neuron_update"), _cost(profile, "neuron_update_inactive")
        active = int(counts.neuron_updates_active)
        inactive = int(counts.neuron_updates) - active
        if nui is not None:
            lines.append(_line("neuron", "neuron_update", active, nu, "active: received input or spiked"))
            lines.append(_line("neuron", "neuron_update_inactive", inactive, nui))
        else:
            lines.append(_line("neuron", "neuron_update", counts.neuron_updates, nu,
                               "all updates priced as active (no inactive-update cost published)"))
        if "spike_packet" in profile.costs:
            lines.append(_line("spike_packet", "spike_packet", counts.spike_packets, _cost(profile, "spike_packet"),
                               "message generation per packet"))
        else:
            # Not an unpriced event: these chips price a message by its hops (Davies 2018 Table 2).
            lines.append(Line("spike_packet", "spike_packet", float(counts.spike_packets), None, 0.0, "", "",
                              "no separate message-generation cost: a packet is priced by its hops"))
        rl, route_per_src, rnotes = _routing_lines(counts, profile, core_xy)
        lines += rl
        notes += rnotes
        lines.append(_line("trace", "trace_update", counts.trace_updates, _cost(profile, "trace_update")))
        lines.append(_line("weight", "weight_update", counts.weight_updates, _cost(profile, "weight_update")))
        lines.append(_line("learning_signal", "learning_signal", counts.learning_signal_msgs,
                           _cost(profile, "learning_signal")))
        hp = _hop_price(profile)
        if hp is None:
            lines.append(Line("learning_signal_routing", "hop", float(counts.learning_signal_hops), None,
                              None if counts.learning_signal_hops else 0.0, "", "", "not published"))
        else:
            v, g, s, n = hp
            lines.append(Line("learning_signal_routing", "hop", float(counts.learning_signal_hops), v,
                              counts.learning_signal_hops * v, g, s, n))
        lines.append(_line("learning_signal_macs", "sop", counts.learning_signal_macs, sop,
                           "error x B multiply-accumulates priced as graded synaptic ops"))
        for ev, n, cat in (("mem_read_bit", counts.bits_read, "memory_read"), ("mem_write_bit", counts.bits_written, "memory_write")):
            c = _cost(profile, ev)
            if c is not None:
                lines.append(_line(cat, ev, n, c))
            elif n:
                # Memory access is inside the per-op figures (a SOP includes its synapse read): not unpriced.
                lines.append(Line(cat, ev, float(n), None, 0.0, "", "", "no per-bit cost published; memory access is "
                                  "inside the per-operation costs"))
        if history_bits is not None:
            for ev, n, cat in (("mem_read_bit", history_bits[0], "history_read"),
                               ("mem_write_bit", history_bits[1], "history_write")):
                lines.append(_line(cat, ev, n, _cost(profile, ev), "BPTT state history (not inside per-op costs)"))
        st = profile.static_mw_per_core
        sim_ms = counts.steps * step_ms
        if st is None:
            static = None
            lines.append(Line("static", "static_mw_per_core", sim_ms, None, None if sim_ms else 0.0, "", "",
                              "static power not published (count = simulated ms)"))
        else:
            static = st.value * n_cores * sim_ms * PJ_PER_MW_MS
            lines.append(Line("static", "static_mw_per_core", sim_ms, st.value * n_cores * PJ_PER_MW_MS, static,
                              st.grade, st.source, f"{st.value} mW/core x {n_cores} cores x {sim_ms:g} ms "
                              f"({counts.steps} steps x {step_ms:g} ms, real-time pacing)"))
        per_core = _per_core(counts, profile, lines, route_per_src, static, n_cores)
    unpriced = tuple(sorted({ln.event if ln.category != "static" else "static_mw_per_core"
                             for ln in lines if ln.energy_pj is None}))
    total = float(sum(ln.energy_pj or 0.0 for ln in lines))
    static_pj = next((ln.energy_pj for ln in lines if ln.category == "static"), None)
    dynamic = total - (static_pj or 0.0)
    if unpriced:
        notes.append(f"INCOMPLETE: unpriced events {', '.join(unpriced)}; the total is a lower bound")
    return EnergyReport(chip=profile.name, mode=mode, lines=tuple(lines), total_pj=total, dynamic_pj=dynamic,
                        static_pj=static_pj, complete=not unpriced, unpriced=unpriced, trials=int(counts.trials),
                        steps=int(counts.steps), step_ms=float(step_ms), n_cores=int(n_cores),
                        per_core_pj=per_core, notes=tuple(notes))


def _per_core(counts, profile, lines, route_per_src, static, n_cores) -> np.ndarray | None:
    """Per-core energy (pJ): synaptic ops, neuron updates (active share spread pro rata), outgoing
    routing, static. Learning events are not attributed to cores (the counts have no per-core split)."""
    pcs = np.asarray(counts.per_core_syn_ops, dtype=np.float64)
    pcn = np.asarray(counts.per_core_neuron_updates, dtype=np.float64)
    if pcs.size == 0 and pcn.size == 0:
        return None
    n = max(pcs.size, pcn.size, n_cores)
    out = np.zeros(n)
    sop = profile.cost("sop")
    if pcs.size and sop is not None:
        out[:pcs.size] += pcs * sop
    neuron_e = sum(ln.energy_pj or 0.0 for ln in lines if ln.category == "neuron")
    if pcn.size and counts.neuron_updates:
        out[:pcn.size] += pcn * (neuron_e / counts.neuron_updates)
    if route_per_src is not None:
        out[:route_per_src.size] += route_per_src
    pco = np.asarray(counts.per_core_packets_out, dtype=np.float64)
    sp = profile.cost("spike_packet")
    if pco.size and sp is not None:
        out[:pco.size] += pco * sp
    if static is not None:
        out += static / n
    return out
