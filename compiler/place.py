"""Pass 4, place: cores onto the mesh, minimising hop-weighted traffic.

Mesh slots: slot s sits in tile s // cores_per_tile at (col, row) = (tile % cols, tile // cols); hops
between slots are the Manhattan distance between their tiles (0 inside a tile). Cost =
sum over core pairs of (spike packets + learning-signal messages per step) x hops.
Algorithm: greedy constructive placement (most-communicating core at the mesh centre, then repeatedly the
core with most traffic to the placed ones at the free slot of least added cost), then pairwise-swap
refinement over all slot pairs (occupied-occupied swaps and moves to free slots) until no swap helps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..chips.profile import ChipProfile
from ..errors import ChipConstraintError, Violation


@dataclass(frozen=True)
class PlaceOptions:
    """passes: swap-refinement passes (0 = greedy only); ls_weight: learning-signal messages per step per
    readout neuron counted in the traffic (1 = a valid target every step)."""

    passes: int = 20
    ls_weight: float = 1.0


@dataclass(frozen=True, eq=False)
class Placement:
    slot: np.ndarray       # [n_cores] int32 mesh slot of each core
    core_xy: np.ndarray    # [n_cores, 2] int32 tile (col, row)
    cost: float            # hop-weighted messages per step after refinement
    report: dict


def slot_xy(profile: ChipProfile) -> np.ndarray:
    """[mesh.cores, 2] int32 tile (col, row) of every slot."""
    m = profile.mesh
    tile = np.arange(m.cores) // m.cores_per_tile
    return np.stack([tile % m.cols, tile // m.cols], axis=1).astype(np.int32)


@njit(cache=True)
def _swap_refine(W, pos, dist, n_slots, passes):
    k = W.shape[0]
    occ = np.full(n_slots, -1, np.int64)
    for c in range(k):
        occ[pos[c]] = c
    n_swaps = 0
    for it in range(passes):
        improved = False
        for s1 in range(n_slots):
            for s2 in range(s1 + 1, n_slots):
                a = occ[s1]
                b = occ[s2]
                if a < 0 and b < 0:
                    continue
                delta = 0.0
                for c in range(k):
                    if c == a or c == b:
                        continue
                    pc = pos[c]
                    if a >= 0:
                        delta += W[a, c] * (dist[s2, pc] - dist[s1, pc])
                    if b >= 0:
                        delta += W[b, c] * (dist[s1, pc] - dist[s2, pc])
                if delta < -1e-12:
                    if a >= 0:
                        pos[a] = s2
                    if b >= 0:
                        pos[b] = s1
                    occ[s1] = b
                    occ[s2] = a
                    n_swaps += 1
                    improved = True
        if not improved:
            break
    return n_swaps


def _cost(W: np.ndarray, pos: np.ndarray, dist: np.ndarray) -> float:
    return float((W * dist[np.ix_(pos, pos)]).sum() / 2.0)


def place(traffic: np.ndarray, profile: ChipProfile, *, readout_core: int = -1, n_out: int = 0, learning: bool = False,
          options: PlaceOptions | None = None) -> Placement:
    """Place ``n_cores = traffic.shape[0]`` cores; traffic[a, b] = packets per step from core a to b."""
    o = options or PlaceOptions()
    k = traffic.shape[0]
    n_slots = profile.mesh.cores
    if k > n_slots:
        raise ChipConstraintError([Violation("cores", "mesh", f"{k} cores", f"{n_slots} cores", "use a profile with more cores")],
                                  profile.name)
    W = traffic + traffic.T
    np.fill_diagonal(W, 0.0)
    if learning and readout_core >= 0 and n_out:
        # Learning signal: each readout error goes to every core (Option A broadcast), n_out messages per step.
        add = np.full(k, o.ls_weight * n_out)
        add[readout_core] = 0.0
        W[readout_core, :] += add
        W[:, readout_core] += add
    xy = slot_xy(profile)
    dist = (np.abs(xy[:, None, 0] - xy[None, :, 0]) + np.abs(xy[:, None, 1] - xy[None, :, 1])).astype(np.float64)
    centre = np.array([(profile.mesh.cols - 1) / 2.0, (profile.mesh.rows - 1) / 2.0])
    d_centre = np.abs(xy - centre).sum(axis=1) + np.arange(n_slots) * 1e-9  # tie-break by slot index
    pos = np.full(k, -1, np.int64)
    free = np.ones(n_slots, bool)
    placed = np.zeros(k, bool)
    tot = W.sum(axis=1)
    for step in range(k):
        if step == 0:
            c = int(np.argmax(tot))
        else:
            link = W[:, placed].sum(axis=1) + tot * 1e-9
            link[placed] = -1.0
            c = int(np.argmax(link))
        if step == 0:
            s = int(np.argmin(np.where(free, d_centre, np.inf)))
        else:
            pc = pos[placed]
            cost = dist[:, pc] @ W[c, placed] + d_centre * 1e-6
            cost[~free] = np.inf
            s = int(np.argmin(cost))
        pos[c] = s
        free[s] = False
        placed[c] = True
    greedy_cost = _cost(W, pos, dist)
    n_swaps = _swap_refine(W, pos, dist, n_slots, o.passes) if o.passes > 0 and k > 1 else 0
    cost = _cost(W, pos, dist)
    rep = {"greedy_cost": greedy_cost, "cost": cost, "swaps": int(n_swaps),
           "cost_unit": "messages x hops per step (spikes + learning signal)", "slots": pos.tolist()}
    return Placement(pos.astype(np.int32), xy[pos].astype(np.int32), cost, rep)
