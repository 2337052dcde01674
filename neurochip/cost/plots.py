"""Figures of the cost report (matplotlib, Agg backend, PNG written atomically)."""
from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..io import atomic_write_bytes


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    _plt().close(fig)


def energy_breakdown(chips: dict[str, dict[str, dict[str, float | None]]], path, *, unit: str = "uJ per trial") -> None:
    """``chips[chip][run][category] = energy (uJ per trial, None = unpriced)``; one panel per chip,
    horizontal bars per category (log scale: static power and spikes differ by orders of magnitude)."""
    plt = _plt()
    n = max(len(chips), 1)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2), squeeze=False)
    for ax, (chip, runs) in zip(axes[0], chips.items()):
        cats = sorted({c for r in runs.values() for c, v in r.items() if v})
        h = 0.8 / max(len(runs), 1)
        y = np.arange(len(cats))
        for k, (run, cat_e) in enumerate(runs.items()):
            vals = [cat_e.get(c) or 0.0 for c in cats]
            ax.barh(y + k * h, vals, height=h, label=run)
        ax.set_yticks(y + h * (len(runs) - 1) / 2)
        ax.set_yticklabels(cats)
        if any(v for r in runs.values() for v in r.values() if v):
            ax.set_xscale("log")
        else:
            ax.text(0.5, 0.5, "no priced events\n(the profile publishes no costs)", ha="center", va="center",
                    transform=ax.transAxes, fontsize=9)
            ax.set_xticks([])
        ax.set_xlabel(unit)
        unp = sorted({c for r in runs.values() for c, v in r.items() if v is None})
        import textwrap
        ax.set_title(chip + ("\n" + textwrap.fill("unpriced: " + ", ".join(unp), 45) if unp else ""), fontsize=8)
        if ax.get_legend_handles_labels()[0] and cats:
            ax.legend(fontsize=8)
    fig.suptitle("Energy breakdown by category (log scale; unpriced categories listed, not drawn)", y=1.12)
    _save(fig, path)


def traffic_heatmap(grids: dict[str, np.ndarray], path) -> None:
    """``grids[chip]`` = [rows, cols] packets handled by each mesh router (XY routing)."""
    plt = _plt()
    n = max(len(grids), 1)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.8), squeeze=False)
    for ax, (chip, g) in zip(axes[0], grids.items()):
        g = np.asarray(g)
        im = ax.imshow(g, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xlabel("mesh column (x)")
        ax.set_ylabel("mesh row (y)")
        ax.set_title(f"{chip}: packets per router", fontsize=9)
        if g.size <= 64:
            for (r, c), v in np.ndenumerate(g):
                ax.text(c, r, f"{int(v)}", ha="center", va="center", color="w", fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046)
    _save(fig, path)


def bptt_scaling(rows: list[dict[str, Any]], path) -> None:
    """Memory (bits) and messages per trial of BPTT vs e-prop against T, one line per N."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n in sorted({r["N"] for r in rows}):
        rs = sorted((r for r in rows if r["N"] == n), key=lambda r: r["T"])
        t = [r["T"] for r in rs]
        ln, = a.plot(t, [r["bptt_memory_bits"] / 8192 for r in rs], "-o", label=f"BPTT N={n}")
        a.plot(t, [r["eprop_factorised_memory_bits"] / 8192 for r in rs], "--", color=ln.get_color(),
               label=f"e-prop factorised N={n}")
        a.plot(t, [r["eprop_per_synapse_memory_bits"] / 8192 for r in rs], ":", color=ln.get_color(),
               label=f"e-prop per-synapse N={n}")
        b.plot(t, [r["bptt_messages"] for r in rs], "-o", color=ln.get_color(), label=f"BPTT N={n}")
        b.plot(t, [r["eprop_messages"] for r in rs], "--", color=ln.get_color(), label=f"e-prop N={n}")
    for ax, yl in ((a, "learning memory per trial (KiB)"), (b, "learning messages per trial")):
        ax.set_xscale("log"); ax.set_yscale("log"); ax.set_xlabel("T (steps per trial)"); ax.set_ylabel(yl)
        ax.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=6, ncol=2)
    b.legend(fontsize=7)
    fig.suptitle("On-chip BPTT vs e-prop: memory is O(N T) vs O(N) (or O(S)); traffic O(T S-cores) vs O(T K cores)")
    _save(fig, path)
