"""Regenerate the tables of docs/generalization.md from a finished (or partial) Liu et al. 2022 sweep.

usage: python benchmarks/generalization_report.py OUT/liu2022 [OUT2 ...] [--md docs/generalization_results.md]

Reads OUT/points/*.json (the finished points of `neurochip sweep docs/sweeps/liu2022.toml -o OUT` that OUT/summary.json
lists, i.e. those of the current spec) and writes
a markdown file with, per rule: n, iterations, train / test error, loss and error gap (mean, s.e., s.d.),
|curvature| w.r.t. W_rec and all weights (mean, s.e.), and the tests of Liu's four qualitative findings:

1. bio-plausible rules reach higher curvature than BPTT: one-sided Mann-Whitney U of |lambda_W_rec| per rule vs bptt;
2. ... and a larger, more variable gap: one-sided Mann-Whitney U of the loss gap vs bptt, Levene's test of variance;
3. the gap correlates with curvature: Pearson and Spearman of loss gap vs |lambda_W_rec| over all points;
4. curvature drifts up during training: mean change of |lambda_W_rec| from the first to the last tracked point.

|lambda| is used because the surrogate Hessian is not symmetric and the sign of its dominant real eigenvalue
varies between seeds (docs/analysis.md); Liu et al.'s rate networks have a symmetric Hessian. Also copies the
sweep's summary.png next to the markdown file. Numbers only from the points' JSON: nothing is typed by hand.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
from scipy import stats

REFERENCE = "bptt"


def _spec_points(out: Path) -> list[Path]:
    """The point files of OUT's current spec: those its summary.json lists. A folder grown or changed with
    ``neurochip sweep --extend`` keeps the points the spec no longer holds on disk, outside the summary; they
    must not be pooled (a budget change would count every seed twice). Without a summary: every point."""
    files = sorted((out / "points").glob("*.json"))
    sj = out / "summary.json"
    if not sj.is_file():
        return files
    ids = {r.get("id") for r in json.loads(sj.read_text()).get("rows", [])}
    return [f for f in files if f.stem in ids]


def load(outs) -> list[dict]:
    """The points of one or more sweep output folders (float 'train' and on-chip 'onchip' kinds)."""
    rows = []
    outs = [outs] if isinstance(outs, Path) else list(outs)
    for f in sorted(f for out in outs for f in _spec_points(out)):
        d = json.loads(f.read_text())
        r, v = d["result"], d["point"]["values"]
        te, ts = r.get("test") or {}, r.get("train_set") or {}
        err = lambda m: m.get("error", m.get("nmse", math.nan))  # noqa: E731
        drift = [abs(e["value"]) for e in r.get("curvature_drift", [])]
        label = v.get("rule.name", r.get("rule"))
        if r.get("kind") == "onchip":           # on-chip points (kind 'onchip'): their own group per chip
            label += f" (chip {r.get('chip')})"
        if "rule.optimizer" in v:               # a table with another optimiser than the base's
            label += f", {v['rule.optimizer']}"
        if "rule.lr" in v:                      # an intervention axis: one group per rate
            label += f", lr {v['rule.lr']}"
        if "onchip.lr" in v:                    # the chip's own rate, when a table sets it
            label += f", chip lr {v['onchip.lr']}"
        # like-for-like reference: BPTT in float with the same optimiser and rate (the chip steps plain SGD)
        like = None
        if r.get("kind") == "onchip" and "onchip.lr" in v:
            like = f"{REFERENCE}, sgd, lr {v['onchip.lr']}"
        elif v.get("rule.optimizer") and "rule.lr" in v:
            like = f"{REFERENCE}, {v['rule.optimizer']}, lr {v['rule.lr']}"
        if "train.iterations" in v:             # a budget axis (a table with its own update budget)
            label += f", {v['train.iterations']} updates"
        rows.append({
            "rule": label, "like": like, "seed": v.get("train.seed"), "iterations": r["iterations"],
            "stopped": r["stopped_early"], "train_error": err(ts), "test_error": err(te),
            "loss_gap": te.get("loss", math.nan) - ts.get("loss", math.nan), "error_gap": err(te) - err(ts),
            "curv_rec": abs(r["curvature_w_rec"]["value"]), "curv_all": abs(r.get("curvature_all", {}).get("value", math.nan)),
            "converged": r["curvature_w_rec"]["converged"],
            "drift": (drift[-1] - drift[0]) if len(drift) >= 2 else math.nan,
        })
    return rows


def _ms(a) -> str:
    a = np.asarray([x for x in a if math.isfinite(x)], float)
    if a.size == 0:
        return "-"
    se = a.std(ddof=1) / math.sqrt(a.size) if a.size > 1 else math.nan
    return f"{a.mean():.3f} ± {se:.3f}" if math.isfinite(se) else f"{a.mean():.3f}"


def _sd(a) -> str:
    a = np.asarray([x for x in a if math.isfinite(x)], float)
    return f"{a.std(ddof=1):.3f}" if a.size > 1 else "-"


def _p(p) -> str:
    return "-" if p is None or not math.isfinite(p) else (f"{p:.2g}")


def report(rows: list[dict]) -> str:
    rules = list(dict.fromkeys(r["rule"] for r in rows))
    by = {k: [r for r in rows if r["rule"] == k] for k in rules}
    ref = by.get(REFERENCE, [])
    L = ["| rule | n | updates (stopped at matched loss) | train error | test error | loss gap (s.d.) | error gap | "
         "abs(lambda) W_rec | abs(lambda) all | power iteration converged | drift of abs(lambda) W_rec |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in rules:
        g = by[k]
        L.append(f"| {k} | {len(g)} | {_ms([r['iterations'] for r in g])} ({sum(r['stopped'] for r in g)}/{len(g)}) | "
                 f"{_ms([r['train_error'] for r in g])} | {_ms([r['test_error'] for r in g])} | "
                 f"{_ms([r['loss_gap'] for r in g])} ({_sd([r['loss_gap'] for r in g])}) | {_ms([r['error_gap'] for r in g])} | "
                 f"{_ms([r['curv_rec'] for r in g])} | {_ms([r['curv_all'] for r in g])} | "
                 f"{sum(r['converged'] for r in g)}/{len(g)} | {_ms([r['drift'] for r in g])} |")
    L += ["", "Findings of Liu et al. 2022, tested against BPTT (one-sided Mann-Whitney U; Levene for variance):", "",
          "| rule | curvature > BPTT: p | gap > BPTT: p | gap variance differs from BPTT: p |", "|---|---|---|---|"]
    for k in rules:
        if k == REFERENCE or len(by[k]) < 2 or len(ref) < 2:
            continue
        a, b = [r["curv_rec"] for r in by[k]], [r["curv_rec"] for r in ref]
        pc = stats.mannwhitneyu(a, b, alternative="greater").pvalue
        a, b = [r["loss_gap"] for r in by[k]], [r["loss_gap"] for r in ref]
        pg = stats.mannwhitneyu(a, b, alternative="greater").pvalue
        pv = stats.levene(a, b).pvalue
        L.append(f"| {k} | {_p(pc)} | {_p(pg)} | {_p(pv)} |")
    # groups where some runs stopped short of the matched loss (there "rule" is confounded with unfinished
    # training): the same tests on the runs that reached it, against the BPTT runs that reached it
    part = [k for k in rules if k != REFERENCE and 0 < sum(r["stopped"] for r in by[k]) < len(by[k])]
    ref_m = [r for r in ref if r["stopped"]]
    if part and len(ref_m) >= 2:
        L += ["", "The same tests on the runs that reached the matched loss only (groups where some did not):", "",
              "| rule | n reached | curvature > BPTT: p | gap > BPTT: p | gap variance differs from BPTT: p |",
              "|---|---|---|---|---|"]
        for k in part:
            g = [r for r in by[k] if r["stopped"]]
            if len(g) < 2:
                L.append(f"| {k} | {len(g)} | - | - | - |")
                continue
            pc = stats.mannwhitneyu([r["curv_rec"] for r in g], [r["curv_rec"] for r in ref_m], alternative="greater").pvalue
            a, b = [r["loss_gap"] for r in g], [r["loss_gap"] for r in ref_m]
            L.append(f"| {k} | {len(g)} of {len(by[k])} | {_p(pc)} | "
                     f"{_p(stats.mannwhitneyu(a, b, alternative='greater').pvalue)} | {_p(stats.levene(a, b).pvalue)} |")
    # against BPTT trained with the same optimiser at the same rate, where the sweep has it: the optimiser moves
    # the curvature too (SGD ends sharper than Adam here), so a chip (SGD) group against Adam BPTT mixes the two
    like = [k for k in rules if by[k][0].get("like") and by[k][0]["like"] != k and len(by.get(by[k][0]["like"], [])) >= 2
            and len(by[k]) >= 2]
    if like:
        L += ["", "Like for like: against BPTT with the same optimiser and rate (on-chip learning is plain SGD):", "",
              "| rule | reference | curvature: rule / reference | curvature > reference: p | gap > reference: p |",
              "|---|---|---|---|---|"]
        for k in like:
            g, rf = by[k], by[by[k][0]["like"]]
            pc = stats.mannwhitneyu([r["curv_rec"] for r in g], [r["curv_rec"] for r in rf], alternative="greater").pvalue
            pg = stats.mannwhitneyu([r["loss_gap"] for r in g], [r["loss_gap"] for r in rf], alternative="greater").pvalue
            L.append(f"| {k} | {by[k][0]['like']} | {_ms([r['curv_rec'] for r in g])} / {_ms([r['curv_rec'] for r in rf])} | "
                     f"{_p(pc)} | {_p(pg)} |")
    x = np.array([r["curv_rec"] for r in rows]); y = np.array([r["loss_gap"] for r in rows])
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() >= 3:
        pr, sr = stats.pearsonr(x[ok], y[ok]), stats.spearmanr(x[ok], y[ok])
        L += ["", f"Loss gap vs abs(lambda) W_rec over all {int(ok.sum())} points: Pearson r = {pr[0]:.3f} (p = {_p(pr[1])}), "
              f"Spearman rho = {sr[0]:.3f} (p = {_p(sr[1])})."]
    return "\n".join(L) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, nargs="+", help="sweep output folder(s); points of all are pooled")
    ap.add_argument("--md", type=Path, default=Path("docs/generalization_results.md"))
    a = ap.parse_args(argv)
    rows = load(a.out)
    src = ", ".join(str(o) for o in a.out)
    text = f"<!-- generated by benchmarks/generalization_report.py from {src} ({len(rows)} points) -->\n\n" + report(rows)
    a.md.write_text(text)
    if (a.out[0] / "summary.png").is_file():
        shutil.copy(a.out[0] / "summary.png", a.md.with_suffix(".png"))
    print(text)


if __name__ == "__main__":
    main()
