"""Figures of the cost report (matplotlib, Agg backend, PNG written atomically)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..io import save_figure


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path) -> None:
    save_figure(fig, path, dpi=110, bbox_inches="tight")


def energy_breakdown(chips: dict[str, dict[str, dict[str, float | None]]], path, *, unit: str = "uJ per trial") -> None:
    """``chips[chip][run][category] = energy (uJ per trial, None = unpriced)``; one panel per chip,
    horizontal bars per category on a log axis (static power and spike routing differ by orders of
    magnitude) whose left edge sits a decade below the smallest bar, so every bar has visible length;
    each bar carries its value."""
    import textwrap

    plt = _plt()
    n = max(len(chips), 1)
    fig, axes = plt.subplots(1, n, figsize=(5.6 * n, 4.6), squeeze=False)
    for ax, (chip, runs) in zip(axes[0], chips.items()):
        cats = sorted({c for r in runs.values() for c, v in r.items() if v})
        h = 0.8 / max(len(runs), 1)
        y = np.arange(len(cats))
        pos = [v for r in runs.values() for v in r.values() if v]
        floor = 10.0 ** (np.floor(np.log10(min(pos))) - 1) if pos else 1.0
        for k, (run, cat_e) in enumerate(runs.items()):
            vals = np.array([cat_e.get(c) or 0.0 for c in cats])
            bars = ax.barh(y + k * h, np.where(vals > 0, vals - floor, 0.0), left=floor, height=h, label=run)
            for rect, v in zip(bars, vals):
                if v > 0:
                    ax.text(v * 1.15, rect.get_y() + rect.get_height() / 2, f"{v:.2g}", va="center", fontsize=6)
        ax.set_yticks(y + h * (len(runs) - 1) / 2)
        ax.set_yticklabels(cats, fontsize=8)
        if pos:
            ax.set_xscale("log")
            ax.set_xlim(floor, max(pos) * 8)
        else:
            ax.text(0.5, 0.5, "no priced events\n(the profile publishes no per-event costs)", ha="center",
                    va="center", transform=ax.transAxes, fontsize=9)
            ax.set_xticks([])
        ax.set_xlabel(unit)
        unp = sorted({c for r in runs.values() for c, v in r.items() if v is None})
        ax.set_title(chip + ("\n" + textwrap.fill("unpriced: " + ", ".join(unp), 50) if unp else ""), fontsize=8)
        if ax.get_legend_handles_labels()[0] and cats:
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Energy by category (log scale; unpriced categories listed, not drawn)")
    fig.tight_layout()
    _save(fig, path)


def traffic_heatmap(grids: dict[str, np.ndarray], path) -> None:
    """``grids[chip]`` = [rows, cols] packets handled by each mesh router (XY routing). Colour-bar labels in
    engineering notation, few ticks, so they never overlap."""
    from matplotlib.ticker import EngFormatter, MaxNLocator

    plt = _plt()
    n = max(len(grids), 1)
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 4.0), squeeze=False)
    for ax, (chip, g) in zip(axes[0], grids.items()):
        g = np.asarray(g)
        im = ax.imshow(g, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xlabel("mesh column (x)")
        ax.set_ylabel("mesh row (y)")
        ax.set_title(f"{chip}: packets per router", fontsize=9)
        # routers sit on integer mesh coordinates
        for axis, n_ in ((ax.xaxis, g.shape[1]), (ax.yaxis, g.shape[0])):
            if n_ <= 16:
                axis.set_ticks(range(n_))
            else:
                axis.set_major_locator(MaxNLocator(integer=True))
        if g.size <= 64:
            for (r, c), v in np.ndenumerate(g):
                ax.text(c, r, EngFormatter(sep="")(v), ha="center", va="center", color="w", fontsize=6)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, format=EngFormatter(sep=""))
        cb.locator = MaxNLocator(5)
        cb.update_ticks()
        cb.ax.tick_params(labelsize=7)
    fig.tight_layout()
    _save(fig, path)


def bptt_scaling(rows: list[dict[str, Any]], path, *, mark_T: int | None = None) -> None:
    """Learning memory (KiB) and messages per trial of on-chip BPTT vs e-prop against T, for the network
    in ``rows`` (one N: the user's), ``mark_T`` (its trial length) marked. Distinct colours, markers and
    line styles; lines that coincide are said to in the legend."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n in sorted({r["N"] for r in rows}):
        rs = sorted((r for r in rows if r["N"] == n), key=lambda r: r["T"])
        t = np.array([r["T"] for r in rs])
        bp = np.array([r["bptt_memory_bits"] for r in rs]) / 8192
        ef = np.array([r["eprop_factorised_memory_bits"] for r in rs]) / 8192
        es = np.array([r["eprop_per_synapse_memory_bits"] for r in rs]) / 8192
        same = np.allclose(ef, es)
        a.plot(t, bp, "-o", color="C3", label=f"BPTT (N={n})")
        a.plot(t, es, "--s", color="C0", ms=4, label="e-prop per-synapse traces" + (" = factorised" if same else ""))
        if not same:
            a.plot(t, ef, ":^", color="C2", ms=4, label="e-prop factorised traces")
        b.plot(t, [r["bptt_messages"] for r in rs], "-o", color="C3", label=f"BPTT (N={n})")
        b.plot(t, [r["eprop_messages"] for r in rs], "--s", color="C0", ms=4, label="e-prop (both trace forms)")
    for ax, yl in ((a, "learning memory per trial (KiB)"), (b, "learning messages per trial")):
        ax.set_xscale("log"); ax.set_yscale("log"); ax.set_xlabel("T (steps per trial)"); ax.set_ylabel(yl)
        ax.grid(True, which="both", alpha=0.3)
        if mark_T:
            ax.axvline(mark_T, color="k", lw=0.8, ls="-.")
            ax.text(mark_T, ax.get_ylim()[1], f" this run: T={mark_T}", fontsize=7, va="top")
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Your network: on-chip BPTT memory grows with T (state history), e-prop's does not", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def chip_comparison(basis: list[dict[str, Any]], path) -> None:
    """Accuracy and energy per chip side by side (`compare.basis` rows): accuracy bars; dynamic energy per
    inference and per learning step and static energy per trial (log scale), an all-in upper bound as a
    marker; lower bounds (unpriced events) drawn hatched and labelled '>='."""
    plt = _plt()
    chips = [b["chip"] for b in basis]
    x = np.arange(len(chips))
    fig, (a, e) = plt.subplots(1, 2, figsize=(11, 4.0), gridspec_kw={"width_ratios": [1, 2]})
    acc = [b.get("accuracy") or 0.0 for b in basis]
    a.bar(x, acc, color="C0")
    for i, b in enumerate(basis):
        lab = f"{b['accuracy']:.3f}" if b.get("accuracy") is not None else "n/a"
        a.text(i, acc[i] + 0.01, lab, ha="center", fontsize=8)
    ticks = [c + ("\n" + "\n".join(s.split(" (")[0] for s in b["approximations"]) if b.get("approximations") else "\nexact model")
             for c, b in zip(chips, basis)]
    a.set_xticks(x, ticks, fontsize=7); a.set_ylim(0, 1.08); a.set_ylabel("held-out accuracy"); a.set_title("accuracy (compiled for the chip)", fontsize=9)
    series = (("dynamic_infer_uj", "dynamic_infer_complete", "dynamic / inference", "C0"),
              ("dynamic_learn_uj", "dynamic_learn_complete", "dynamic / learning step", "C2"),
              ("static_uj", None, "static / trial at the stated pacing", "C7"))
    w = 0.26
    vals = [v for b in basis for k, _, _, _ in series for v in [b.get(k)] if v]
    vals += [b["all_in_infer_uj"] for b in basis if b.get("all_in_infer_uj")]
    floor = 10.0 ** (np.floor(np.log10(min(vals))) - 1) if vals else 1.0
    for k, (key, ck, label, col) in enumerate(series):
        for i, b in enumerate(basis):
            v = b.get(key)
            if not v:
                continue
            lower = ck is not None and not b.get(ck, True)
            e.bar(i + (k - 1) * w, v - floor, bottom=floor, width=w, color=col, hatch="//" if lower else None,
                  edgecolor="k" if lower else col, label=label if i == next(j for j, bb in enumerate(basis) if bb.get(key)) else None)
            e.text(i + (k - 1) * w, v * 1.2, (">=" if lower else "") + f"{v:.2g}", ha="center", fontsize=6)
    for i, b in enumerate(basis):
        if b.get("all_in_infer_uj"):
            e.plot([i], [b["all_in_infer_uj"]], "v", color="C3", ms=9,
                   label="all-in upper bound / inference" if i == next(j for j, bb in enumerate(basis) if bb.get("all_in_infer_uj")) else None)
            e.text(i + 0.12, b["all_in_infer_uj"], f"<= {b['all_in_infer_uj']:.2g}", fontsize=7, va="center")
        if not any(b.get(s[0]) for s in series) and not b.get("all_in_infer_uj"):
            e.text(i, floor * 3, "no published\ncosts", ha="center", fontsize=7)
        if b.get("mode") != "all_in" and b.get("static_uj") is None:
            e.text(i + w, floor * 1.5, "static\nn/p", ha="center", fontsize=6, va="bottom")
    e.set_yscale("log")
    if vals:
        e.set_ylim(floor, max(vals) * 20)
    e.set_xticks(x, chips); e.set_ylabel("uJ per trial"); e.grid(True, axis="y", which="both", alpha=0.3)
    e.set_title("energy per trial (hatched '>=': some events unpriced)", fontsize=9)
    e.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    fig.tight_layout()
    _save(fig, path)
