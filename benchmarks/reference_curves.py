"""Learning curves of the reference evidence task from random weights (issue 13): the chip (loihi2 widths,
per-synapse e-prop, SGD) beside float e-prop (Adam, and SGD at the chip's rate), per seed, from the points of
`tools/onchip_study.py sweep` run folders.

    python benchmarks/reference_curves.py --runs RUN_DIR [RUN_DIR ...] --out docs/onchip_study/evidence_reference_curves
    python benchmarks/reference_curves.py --from-json docs/onchip_study/evidence_reference_curves.json   # re-plot

Writes OUT.json (every curve: label, seed, budget, held-out accuracy per evaluation) and OUT.png (one panel per
seed, held-out accuracy vs training trials, the 90 % line of the issue's target). The held-out draw is the
study's (``--eval-trials`` of its runs, never trained on; the axis names the count); chip and float runs of one
seed see the same training trials in the same order.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def curve_label(spec: dict) -> str:
    """A curve's legend: the rule and optimiser, the batch, and the step schedule if any."""
    sched = f", lr x {spec['lr_decay']:g} every {spec['lr_decay_every']} it" if spec.get("lr_decay") else ""
    if spec["kind"] == "float":
        opt = f"SGD {spec['float_sgd_lr']:g}" if spec.get("float_sgd_lr") else "Adam (reference)"
        return f"float e-prop, {opt}, batch {spec['batch']}{sched}"
    return f"chip {spec['chip']} w{spec.get('weight_bits')} t{spec.get('trace_bits')}, {spec['eligibility']}, " \
           f"SGD {spec.get('lr'):g}, batch {spec['batch']}{sched}"


def collect(runs: list[Path]) -> list[dict]:
    """One record per point of every run folder (``points/*.json``) that has a curve."""
    out = []
    for run in runs:
        for f in sorted((run / "points").glob("*.json")):
            p = json.loads(f.read_text())
            if "points" not in p or p.get("metric") != "accuracy":
                continue
            s = p["spec"]
            out.append({"label": curve_label(s), "seed": int(s["seed"]), "batch": int(s["batch"]),
                        "eval_trials": int(s["eval_trials"]),
                        "trials": [int(q["trials"]) for q in p["points"]],
                        "heldout_accuracy": [float(q["heldout_accuracy"]) for q in p["points"]],
                        "final": float(p["final"]), "wall_s": float(p["wall_s"]), "run": run.name})
    if not out:
        raise SystemExit(f"no accuracy curves in {', '.join(map(str, runs))}")
    # runs of the same setup and seed see the same trials in the same order, so a longer run extends a shorter
    # one evaluated on the same held-out draw (at the evaluations both made they agree: checked): merge their
    # evaluations into one curve, final and wall time of the longest
    merged: dict = {}
    for c in sorted(out, key=lambda c: c["trials"][-1]):
        k = (c["label"], c["seed"], c["eval_trials"])
        if k not in merged:
            merged[k] = c
            continue
        m = merged[k]
        pts = dict(zip(m["trials"], m["heldout_accuracy"]))
        for t, acc in zip(c["trials"], c["heldout_accuracy"]):
            if t in pts and pts[t] != acc:
                raise SystemExit(f"{c['label']} seed {c['seed']}: runs {m['run']} and {c['run']} disagree at {t} "
                                 f"trials ({pts[t]} vs {acc}): not the same trials")
            pts[t] = acc
        ts = sorted(pts)
        merged[k] = {**c, "trials": ts, "heldout_accuracy": [pts[t] for t in ts], "run": f"{m['run']}+{c['run']}"}
    return sorted(merged.values(), key=lambda c: (c["seed"], c["label"]))


def plot(curves: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    seeds = sorted({c["seed"] for c in curves})
    labels = sorted({c["label"] for c in curves}, key=lambda s: (not s.startswith("chip"), s))
    style = {lab: (f"C{i}", "-" if lab.startswith("chip") else "--") for i, lab in enumerate(labels)}
    fig, axes = plt.subplots(1, len(seeds), figsize=(5 * len(seeds), 4), sharey=True, squeeze=False)
    for ax, seed in zip(axes[0], seeds):
        for c in sorted((c for c in curves if c["seed"] == seed), key=lambda c: labels.index(c["label"])):
            col, ls = style[c["label"]]
            ax.plot(c["trials"], c["heldout_accuracy"], ls, color=col, marker="o" if ls == "-" else None, ms=3,
                    lw=2 if ls == "-" else 1.2, label=c["label"])
        ax.axhline(0.9, color="k", lw=0.8, ls=":")
        ax.set_title(f"seed {seed}")
        ax.set_xlabel("training trials")
        ax.grid(alpha=0.3)
    n_eval = sorted({int(c.get("eval_trials", 256)) for c in curves})     # older JSON: the study's 256
    axes[0][0].set_ylabel(f"held-out accuracy ({' / '.join(map(str, n_eval))} trials)")
    axes[0][0].set_ylim(0.4, 1.0)
    handles, names = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle("Reference evidence task from random weights: chip vs float e-prop (dotted: the 10 % error target)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.14, 1, 0.95))
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def main(argv=None) -> int:
    from neurochip.io import write_json
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--runs", type=Path, nargs="+", help="tools/onchip_study.py sweep output folders")
    g.add_argument("--from-json", type=Path, help="re-plot a JSON this script wrote")
    ap.add_argument("--out", type=Path, default=None, help="OUT.json / OUT.png (default: beside --from-json)")
    a = ap.parse_args(argv)
    if a.from_json is not None:
        curves = json.loads(a.from_json.read_text())["curves"]
        out = a.out or a.from_json.with_suffix("")
    else:
        if a.out is None:
            ap.error("--out is needed with --runs")
        curves = collect(a.runs)
        out = a.out
        write_json(out.with_suffix(".json"), {"curves": curves})
    plot(curves, out.with_suffix(".png"))
    for c in sorted(curves, key=lambda c: (c["seed"], c["label"])):
        print(f"seed {c['seed']}  {c['label']:<60} {c['trials'][-1]:>6} trials  final {c['final']:.3f}  "
              f"max {max(c['heldout_accuracy']):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
