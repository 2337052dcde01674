"""Core-map PNG: the chip mesh with used cores coloured by neuron count and spike traffic as lines.

Tiles are drawn on a (col, row) grid; cores sharing a tile are drawn as sub-squares. Line width between two
cores is proportional to the expected packets per step between them (both directions); the readout core is
outlined. Matplotlib Agg (no display needed).
"""
from __future__ import annotations

import os

import numpy as np


def coremap_png(cn, path: str | os.PathLike | None = None, *, traffic: np.ndarray | None = None) -> bytes:
    """Render the core map of a `CompiledNetwork`; write it atomically to ``path`` if given; return PNG bytes.

    traffic: [n_cores, n_cores] packets per step (default: counted from route_indptr/route_dst at the
    profile's 10 Hz report rate, i.e. destination-core counts per neuron)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    from ..io import save_figure
    from .place import slot_xy

    prof = cn.profile
    m = prof.mesh
    k = cn.n_cores
    counts = np.bincount(cn.core_of, minlength=k)
    if traffic is None:
        traffic = np.zeros((k, k))
        if cn.route_indptr is not None:
            src = np.repeat(cn.core_of[:cn.n_rec], np.diff(cn.route_indptr))
            np.add.at(traffic, (src, cn.route_dst), 1.0)
    slots = cn.report.get("place", {}).get("slots") if isinstance(cn.report, dict) else None
    cpt = m.cores_per_tile
    sub = int(np.ceil(np.sqrt(cpt)))
    # Position of each core: tile (col,row) + sub-square offset inside the tile.
    pos = np.zeros((k, 2))
    for c in range(k):
        s = slots[c] if slots is not None else c
        i = s % cpt
        pos[c] = cn.core_xy[c] + (np.array([i % sub, i // sub]) + 0.5) / sub - 0.5
    fig, ax = plt.subplots(figsize=(min(14, 2 + m.cols * 0.9), min(9, 2 + m.rows * 0.9)))
    for x in range(m.cols):
        for y in range(m.rows):
            ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, lw=0.5, ec="0.7"))
    norm = colors.Normalize(vmin=0, vmax=max(1, counts.max()))
    cmap = cm.viridis
    tmax = max(traffic.max(), 1e-12)
    sym = traffic + traffic.T
    a_idx, b_idx = np.nonzero(np.triu(sym, 1))
    for a, b in zip(a_idx, b_idx):
        ax.plot(*zip(pos[a], pos[b]), color="tab:red", alpha=0.5, lw=0.3 + 4.0 * sym[a, b] / (2 * tmax), zorder=1)
    size = 0.8 / sub
    ro = int(cn.core_of[cn.n_rec]) if cn.n_out else -1
    for c in range(k):
        ax.add_patch(plt.Rectangle(pos[c] - size / 2, size, size, color=cmap(norm(counts[c])), zorder=2,
                                   ec="black" if c == ro else "none", lw=2 if c == ro else 0))
        ax.text(*pos[c], str(c), ha="center", va="center", fontsize=6 if k > 32 else 8, color="white", zorder=3)
    ax.set_xlim(-0.6, m.cols - 0.4)
    ax.set_ylim(-0.6, m.rows - 0.4)
    ax.set_aspect("equal")
    ax.set_xlabel("mesh column")
    ax.set_ylabel("mesh row")
    ax.set_title(f"{cn.profile_name}: {k} of {m.cores} cores used ({cpt} per tile)\n"
                 f"colour = neurons per core, red lines = spike traffic, black outline = readout core", fontsize=9)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="neurons on core")
    return save_figure(fig, path, dpi=110, bbox_inches="tight")
