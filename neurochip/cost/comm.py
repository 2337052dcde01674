"""Communication on the mesh: packets, hops, bytes, the busiest link and core, learning-signal traffic.

Inputs: `EventCounts` (``spike_packets``, ``mesh_hops``, ``core_to_core_packets`` [n_cores, n_cores]
packets from core a to core b, ``per_core_packets_out``, ``learning_signal_msgs/hops``), the used cores'
mesh coordinates ``core_xy`` [n_cores, 2] (col, row) and the profile's ``noc.packet_bits``.

Routing is dimension-order XY (Davies 2018; SANA-FE ``src/chip.cpp``): a packet first moves along
the row (E-W) to the destination column, then along the column (N-S). A *link* is a directed edge
between two neighbouring mesh nodes; its load is the number of packets crossing it. A *router's*
load is the packets it forwards (injected, in transit and delivered). Cores that share mesh
coordinates (several cores per tile) share a router and talk without hops.

Bytes: one packet = ``packet_bits`` (the whole message, header included) / 8, for spike packets and
for graded learning-signal messages alike (a graded value fits in one message on Loihi 2, 32-bit
payload; on Loihi 1 the learning signal travels as ordinary spike messages).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def xy_route(src: tuple[int, int], dst: tuple[int, int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Directed links [(node, next_node), ...] of the XY route from ``src`` to ``dst`` (col, row)."""
    (x, y), (x1, y1) = src, dst
    links = []
    while x != x1:
        nx = x + (1 if x1 > x else -1)
        links.append(((x, y), (nx, y)))
        x = nx
    while y != y1:
        ny = y + (1 if y1 > y else -1)
        links.append(((x, y), (x, ny)))
        y = ny
    return links


def link_loads(c2c: np.ndarray, core_xy: np.ndarray) -> dict[tuple[tuple[int, int], tuple[int, int]], int]:
    """Packets on every directed mesh link, routing each core-to-core packet flow XY."""
    c2c = np.asarray(c2c, dtype=np.int64)
    loads: dict = {}
    for a, b in zip(*np.nonzero(c2c)):
        n = int(c2c[a, b])
        for ln in xy_route(tuple(int(v) for v in core_xy[a]), tuple(int(v) for v in core_xy[b])):
            loads[ln] = loads.get(ln, 0) + n
    return loads


def router_loads(c2c: np.ndarray, core_xy: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Packets handled by each mesh node's router, [rows, cols] int64: a packet counts once at every
    node of its route (source, every node it passes, destination); a packet to its own node counts once."""
    core_xy = np.asarray(core_xy, dtype=np.int64).reshape(-1, 2)
    if shape is None:
        shape = (int(core_xy[:, 1].max()) + 1, int(core_xy[:, 0].max()) + 1) if len(core_xy) else (1, 1)
    grid = np.zeros(shape, dtype=np.int64)
    c2c = np.asarray(c2c, dtype=np.int64)
    for a, b in zip(*np.nonzero(c2c)):
        n = int(c2c[a, b])
        src = tuple(int(v) for v in core_xy[a])
        grid[src[1], src[0]] += n
        for _, (x, y) in xy_route(src, tuple(int(v) for v in core_xy[b])):
            grid[y, x] += n
    return grid


def communication(counts, profile, core_xy: np.ndarray | None = None) -> dict[str, Any]:
    """Communication summary (JSON-able). Per-trial figures divide by ``counts.trials``."""
    bits = int(profile.noc.packet_bits)
    trials = max(int(counts.trials), 1)
    c2c = np.asarray(counts.core_to_core_packets, dtype=np.int64)
    out: dict[str, Any] = {
        "packet_bits": bits,
        "spike_packets": int(counts.spike_packets),
        "mesh_hops": int(counts.mesh_hops),
        "spike_bytes": int(counts.spike_packets) * bits / 8.0,
        "spike_packets_per_trial": counts.spike_packets / trials,
        "mean_hops_per_packet": counts.mesh_hops / counts.spike_packets if counts.spike_packets else 0.0,
        "learning_signal": {
            "messages": int(counts.learning_signal_msgs),
            "hops": int(counts.learning_signal_hops),
            "bytes": int(counts.learning_signal_msgs) * bits / 8.0,
            "macs": int(counts.learning_signal_macs),
            "messages_per_trial": counts.learning_signal_msgs / trials,
        },
    }
    total_msgs = counts.spike_packets + counts.learning_signal_msgs
    out["total_bytes"] = total_msgs * bits / 8.0
    if c2c.ndim == 2 and c2c.size:
        diag = int(np.trace(c2c))
        tot = int(c2c.sum())
        out["cross_core_packets"] = tot - diag
        out["cross_core_share"] = (tot - diag) / tot if tot else 0.0
        pco = np.asarray(counts.per_core_packets_out, dtype=np.int64)
        if pco.size == 0:
            pco = c2c.sum(axis=1)
        k = int(np.argmax(pco))
        out["busiest_core_out"] = {"core": k, "packets": int(pco[k])}
        if core_xy is not None and len(core_xy) == c2c.shape[0]:
            loads = link_loads(c2c, core_xy)
            if loads:
                (a, b), n = max(loads.items(), key=lambda kv: kv[1])
                out["busiest_link"] = {"from": list(a), "to": list(b), "packets": n,
                                       "packets_per_step": n / max(int(counts.steps), 1)}
            else:
                out["busiest_link"] = None
            grid = router_loads(c2c, core_xy)
            r, c = np.unravel_index(int(np.argmax(grid)), grid.shape)
            out["busiest_router"] = {"col": int(c), "row": int(r), "packets": int(grid[r, c])}
            out["n_links_used"] = len(loads)
    else:
        out["cross_core_share"] = None
        out["note"] = "no core_to_core_packets in the counts: link and core loads unknown"
    return out
