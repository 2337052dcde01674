"""The learning curve of an on-chip run: its verdict (change with its paired standard error), the curve's
series and plots (PNG, written atomically) and the JSON written beside them (`write_curve`)."""
from __future__ import annotations

import numpy as np


def is_worse(metric: str, before: float, after: float) -> bool:
    """True when ``after`` is a worse held-out figure than ``before`` (accuracy lower, nmse/error higher)."""
    return after < before if metric == "accuracy" else after > before


def verdict(curve: dict) -> str:
    """One line: what on-chip learning did to the held-out metric."""
    k = curve["metric"]
    b, a = curve["before"], curve["after"]
    se = curve.get("delta_se")
    noise = ""
    if se is not None and np.isfinite(se):
        # how large the change is against the held-out set's resolution (paired over the same decisions)
        if se > 0:
            noise = (f"; change {100 * (a - b):+.1f} +- {100 * se:.1f} points, the paired standard error over "
                     f"{curve.get('decisions')} held-out decisions: {abs(a - b) / se:.1f} SE")
        else:
            noise = f"; none of the {curve.get('decisions')} held-out decisions changed"
    if curve.get("lowered"):
        return (f"WARNING: on-chip learning LOWERED held-out {k} from {b:.4f} to {a:.4f} "
                f"(lr {curve['lr']:.3g}, {curve['iterations'] * curve['epochs']} updates of {curve['batch_size']} trials"
                f"{noise})")
    return f"on-chip learning: held-out {k} {b:.4f} -> {a:.4f}" + (f" ({noise[2:]})" if noise else "")


def float_curve_points(hist, batch_size: int) -> list[dict]:
    """Float training history (`neurochip.train.History`) as curve points on the same axes: validation
    draws during training and the final held-out test, with ``trials`` = iteration x batch."""
    pts = []
    for h in hist.val:
        key = "accuracy" if "accuracy" in h else "nmse"
        pts.append({"iteration": h["iteration"], "trials": h["iteration"] * batch_size, f"val_{key}": h[key]})
    for h in hist.test:
        key = "accuracy" if "accuracy" in h else "nmse"
        pts.append({"iteration": h["iteration"], "trials": h["iteration"] * batch_size, f"heldout_{key}": h[key]})
    return pts


def plot_curves(series: list[tuple[str, list[float], list[float]]], path, *, metric: str, title: str = "",
                xlabel: str = "training trials") -> None:
    """Write a PNG (atomically) with one line per (label, x, y) series."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import save_figure
    # the legend goes below the axes (it would hide the curves inside them): the figure grows with it
    fig, ax = plt.subplots(figsize=(7, 3.4 + 0.2 * (len(series) + 1)))
    for label, x, y in series:
        # whole-set scores: markers only
        ends = label.startswith(("chip, all", "float continued, all")) or "held-out (" in label
        ax.plot(x, y, "o" if ends else ".-", ms=8 if ends else 5, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"held-out {metric}")
    if metric == "accuracy":
        ax.axhline(0.5, color="0.7", lw=0.8, ls=":", label="chance (2 classes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def curve_series(curve: dict, label: str | None = None) -> tuple[str, list[float], list[float]]:
    """(label, trials, held-out metric on the curve's held-out subset) of a chip curve."""
    k = f"heldout_{curve['metric']}"
    pts = [p for p in curve["points"] if k in p]
    n = pts[0].get("heldout_trials", curve.get("eval_trials")) if pts else 0
    lab = label or f"chip ({curve['profile']}, lr {curve['lr']:.3g})"
    if n != curve.get("eval_trials"):
        lab += f", first {n} held-out trials"
    return lab, [p["trials"] for p in pts], [p[k] for p in pts]


def ends_series(curve: dict, label: str | None = None) -> tuple[str, list[float], list[float]]:
    """(label, trials, metric) of the whole-held-out-set scores at the first and last points."""
    k = f"heldout_all_{curve['metric']}"
    pts = [p for p in curve["points"] if k in p]
    return (label or f"chip, all {curve.get('eval_trials')} held-out trials", [p["trials"] for p in pts],
            [p[k] for p in pts])


def summary_points(curve: dict) -> list[dict]:
    """The curve's points without wall times (summaries must be identical between identical runs)."""
    return [{k: v for k, v in p.items() if k != "wall_s"} for p in curve["points"]]


def write_curve(d, curve: dict, stem: str = "onchip_curve", series: list | None = None, title: str = "") -> None:
    """``d/<stem>.json`` (the curve) and ``d/<stem>.png`` (held-out metric vs training trials; ``series``
    replaces the default single chip line)."""
    from pathlib import Path

    from .io import write_json
    d = Path(d)
    write_json(d / f"{stem}.json", curve)
    plot_curves(list(series) if series else [curve_series(curve), ends_series(curve)], d / f"{stem}.png",
                metric=curve["metric"],
                title=title or f"{curve['task']}: on-chip {curve['rule']} on {curve['profile']}")
