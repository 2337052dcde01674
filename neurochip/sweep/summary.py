"""The summary of a sweep's finished points: a flat table (CSV + JSON), per-group statistics, the
gap-vs-curvature correlation, and plots (PNG), all written atomically beside the points.

Rows: one per finished point; columns: the grid values, then test / train-set loss and error, the gaps
(test - train), the curvature w.r.t. W_rec and all weights (signed dominant eigenvalue) and abs_curvature_w_rec.
Groups: by the grid key 'rule.name' when the grid has it (else the first grid key), plus every other grid key a
point sets except seeds (an intervention's "rule.lr" makes its own groups: "bptt, rule.lr=0.005"), plus the
point kind when the sweep has several; each group's mean and standard error per column.
Correlation: Pearson and Spearman (scipy.stats) of the loss gap against abs(W_rec curvature) over all points
with both, with their two-sided p-values (Liu et al. 2022 report the gap rising with curvature). The surrogate
Hessian is not symmetric and the sign of its dominant eigenvalue varies between seeds (docs/analysis.md), so
the magnitude is what is compared, as in benchmarks/generalization_report.py; the signed correlation is kept as
``gap_vs_signed_curvature``.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from ..io import atomic_write_text, save_figure, write_json
from .spec import Point, SweepSpec, _canonical

METRICS = ("test_loss", "test_error", "train_loss", "train_error", "loss_gap", "error_gap", "curvature_w_rec",
           "abs_curvature_w_rec", "curvature_all", "iterations", "seconds")


def _err(m: dict | None) -> float:
    if not m:
        return math.nan
    return float(m.get("error", m.get("nmse", math.nan)))


def row_of(p: Point, res: dict) -> dict:
    ts, te = res.get("train_set") or {}, res.get("test") or {}
    r = {k: v for k, v in p.values.items()}
    r.update(id=p.id, kind=p.kind, test_loss=float(te.get("loss", math.nan)), test_error=_err(te),
             train_loss=float(ts.get("loss", math.nan)), train_error=_err(ts),
             curvature_w_rec=float((res.get("curvature_w_rec") or {}).get("value", math.nan)),
             curvature_all=float((res.get("curvature_all") or {}).get("value", math.nan)),
             iterations=int(res.get("iterations", 0)), seconds=float(res.get("seconds", math.nan)))
    r["abs_curvature_w_rec"] = abs(r["curvature_w_rec"])
    r["loss_gap"] = r["test_loss"] - r["train_loss"]
    r["error_gap"] = r["test_error"] - r["train_error"]
    return r


def _stats(vals: list[float]) -> dict:
    a = np.array([v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)], float)
    if a.size == 0:
        return {"n": 0, "mean": None, "se": None}
    return {"n": int(a.size), "mean": float(a.mean()), "se": float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else None}


def correlation(x: list[float], y: list[float]) -> dict:
    from scipy import stats
    pts = [(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
    if len(pts) < 3:
        return {"n": len(pts), "pearson_r": None, "pearson_p": None, "spearman_r": None, "spearman_p": None}
    a, b = np.array(pts).T
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"n": len(pts), "pearson_r": None, "pearson_p": None, "spearman_r": None, "spearman_p": None}
    pr = stats.pearsonr(a, b)
    sr = stats.spearmanr(a, b)
    return {"n": len(pts), "pearson_r": float(pr[0]), "pearson_p": float(pr[1]),
            "spearman_r": float(sr[0]), "spearman_p": float(sr[1])}


def _short(group: str) -> str:
    """A group's plot label: its values without the dotted keys ("eprop_random, chip.name=loihi2 [onchip]" ->
    "eprop_random, loihi2 [onchip]"); summary.json keeps the full names."""
    return re.sub(r"[\w.]+=", "", group)


def _plot(rows: list[dict], groups: dict, gkey: str, drift: dict, path: Path, name: str | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(groups)
    fig, ax = plt.subplots(1, 4, figsize=(18, 5))
    for i, (col, lab) in enumerate((("abs_curvature_w_rec", "abs(curvature) (W_rec)"),
                                    ("loss_gap", "loss gap (test - train)"))):
        m = [groups[n][col]["mean"] or 0.0 for n in names]
        se = [groups[n][col]["se"] or 0.0 for n in names]
        ax[i].bar(range(len(names)), m, yerr=se, capsize=4, color="C0" if i == 0 else "C1")
        ax[i].set_xticks(range(len(names)), [_short(n) for n in names], rotation=30, ha="right", fontsize=7)
        ax[i].set_ylabel(lab)
        ax[i].set_title(f"{lab} (mean ± s.e.)")
    for j, n in enumerate(names):
        xs = [r["abs_curvature_w_rec"] for r in rows if str(r.get(gkey)) == n]
        ys = [r["loss_gap"] for r in rows if str(r.get(gkey)) == n]
        ax[2].plot(xs, ys, linestyle="none", color=f"C{j % 10}", marker="os^D"[j // 10 % 4], label=_short(n))
    ax[2].set_xlabel("abs(curvature) (W_rec)"); ax[2].set_ylabel("loss gap"); ax[2].legend(fontsize=6)
    ax[2].set_title("gap vs curvature")
    for j, n in enumerate(names):
        for k, d in enumerate(drift.get(n, [])):
            ax[3].plot([e["iteration"] for e in d], [abs(e["value"]) for e in d], "-", color=f"C{j % 10}", alpha=0.7,
                       label=_short(n) if k == 0 else None)
    ax[3].set_xlabel("iteration"); ax[3].set_ylabel("abs(curvature) (W_rec)")
    ax[3].set_title("curvature during training")
    if drift:
        ax[3].legend(fontsize=6)
    fig.suptitle(f"groups: {name or gkey}", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def write_summary(spec: SweepSpec, out: Path, points: list[Point]) -> dict:
    """Collect the finished points under ``out`` and write summary.csv / summary.json / summary.png."""
    rows, drift = [], {}
    gkey = "rule.name" if "rule.name" in spec.grid else next(iter(spec.grid))
    kinds = {p.kind for p in points}
    # every other grid key whose value (or absence, in a table without it) differs between points, except
    # seeds (the replicates within a group)
    extra = [k for k in spec.grid if k != gkey and "seed" not in k.rsplit(".", 1)[-1]
             and len({_canonical(p.values.get(k, "<absent>")) for p in points}) > 1]

    def group(r) -> str:                        # several kinds in one sweep: float and chip points apart
        parts = [str(r.get(gkey))] + [f"{k}={r[k]}" for k in extra if k in r]
        return ", ".join(parts) + (f" [{r['kind']}]" if len(kinds) > 1 else "")
    for p in points:
        f = out / "points" / f"{p.id}.json"
        if not f.is_file():
            continue
        res = json.loads(f.read_text("utf-8"))["result"]
        r = row_of(p, res)
        rows.append(r)
        if res.get("curvature_drift"):
            drift.setdefault(group(r), []).append(res["curvature_drift"])
    groups: dict[str, dict] = {}
    for r in rows:
        groups.setdefault(group(r), []).append(r)
    gstats = {g: {c: _stats([r[c] for r in rs]) for c in METRICS} for g, rs in groups.items()}
    corr = correlation([r["abs_curvature_w_rec"] for r in rows], [r["loss_gap"] for r in rows])
    signed = correlation([r["curvature_w_rec"] for r in rows], [r["loss_gap"] for r in rows])
    summary = {"spec": spec.to_dict(), "points": len(points), "finished": len(rows), "group_by": [gkey] + extra,
               "groups": gstats, "gap_vs_curvature": corr, "gap_vs_signed_curvature": signed, "rows": rows}
    cols = list(spec.grid) + (["kind"] if len(kinds) > 1 else []) + ["id"] + list(METRICS)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_text(out / "summary.csv", buf.getvalue())
    write_json(out / "summary.json", summary)
    if rows:
        _plot([{**r, "_group": group(r)} for r in rows], gstats, "_group", drift, out / "summary.png",
              name=", ".join([gkey] + extra) + (" [kind]" if len(kinds) > 1 else ""))
    return summary
