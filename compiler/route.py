"""Pass 5, route: dimension-order (XY) routes between placed cores.

hops[a, b] = |col_a - col_b| + |row_a - row_b| (XY routing takes a shortest path; 0 inside a tile).
xy_next[a, b]: the first output port from core a's router towards core b: 0 local (same tile), 1 east
(+col), 2 west, 3 north (+row), 4 south; X is resolved before Y. The learning signal goes from the readout
core to every core hosting recurrent neurons (``ls_hops``, and the tile path of each broadcast in the
report). Spike traffic in hops per step follows from the partition's traffic matrix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PORTS = ("local", "east", "west", "north", "south")


@dataclass(frozen=True, eq=False)
class Routes:
    hops: np.ndarray       # [n_cores, n_cores] int32
    xy_next: np.ndarray    # [n_cores, n_cores] int8 port index (PORTS)
    ls_hops: np.ndarray    # [n_cores] int32 hops from the readout core
    report: dict


def xy_path(src: tuple[int, int], dst: tuple[int, int]) -> list[tuple[int, int]]:
    """Tiles visited from src to dst by XY routing (both ends included)."""
    (x, y), (x1, y1) = src, dst
    path = [(x, y)]
    while x != x1:
        x += 1 if x1 > x else -1
        path.append((x, y))
    while y != y1:
        y += 1 if y1 > y else -1
        path.append((x, y))
    return path


def route(core_xy: np.ndarray, traffic: np.ndarray, *, readout_core: int, rec_cores: np.ndarray, n_out: int,
          learning: bool) -> Routes:
    """XY routes for placed cores. traffic[a, b]: spike packets per step from a to b."""
    x, y = core_xy[:, 0].astype(np.int64), core_xy[:, 1].astype(np.int64)
    dx = x[None, :] - x[:, None]
    dy = y[None, :] - y[:, None]
    hops = (np.abs(dx) + np.abs(dy)).astype(np.int32)
    nxt = np.where(dx > 0, 1, np.where(dx < 0, 2, np.where(dy > 0, 3, np.where(dy < 0, 4, 0)))).astype(np.int8)
    k = core_xy.shape[0]
    ls = hops[readout_core].astype(np.int32) if readout_core >= 0 else np.zeros(k, np.int32)
    off = ~np.eye(k, dtype=bool)
    inter = float(traffic[off].sum())
    spike_hops = float((traffic * hops).sum())
    rec_cores = np.asarray(rec_cores, np.int64)
    ls_msgs = n_out * int(rec_cores.size) if learning else 0
    ls_hop_total = n_out * int(ls[rec_cores].sum()) if learning else 0
    paths = {}
    if learning and readout_core >= 0 and k <= 256:
        src = tuple(int(v) for v in core_xy[readout_core])
        paths = {int(c): xy_path(src, tuple(int(v) for v in core_xy[c])) for c in rec_cores}
    rep = {
        "routing": "xy", "spike_hops_per_step": spike_hops, "inter_core_packets_per_step": inter,
        "mean_hops_per_inter_core_packet": spike_hops / inter if inter > 0 else 0.0,
        "max_hops": int(hops.max()) if k else 0,
        "projections": {"rec+out": {"packets_per_step": float(traffic.sum()), "hops_per_step": spike_hops},
                        "in": {"note": "input spikes enter from the host at each destination core; no mesh hops counted"}},
        "learning_signal": {"from_core": int(readout_core), "messages_per_step": ls_msgs,
                            "hops_per_step": ls_hop_total, "ls_hops": ls.tolist(),
                            "paths": {str(c): [list(t) for t in p] for c, p in paths.items()}},
        "total_hops_per_step": spike_hops + ls_hop_total,
    }
    return Routes(hops, nxt, ls, rep)
