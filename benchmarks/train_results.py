"""Full training runs of the float reference: accuracy / loss per rule per task (docs/training.md).

Runs (reference settings of eprop_spec 1.6, see neurochip.train.TASK_DEFAULTS):
- evidence accumulation, ALIF 100 (50 adaptive), batch 32, Adam 5e-3, up to 800 iterations,
  early stop as S1: a fresh validation batch every 10 iterations < 7 % and 8 more batches agree;
  the reported held-out error is on 16 x 32 fixed test trials that no decision has seen;
- pattern generation, LIF 100, 3 outputs, batch 1, Adam 3e-3, 2000 iterations (nmse);
- store-recall, ALIF 100 (40 % adaptive), batch 32.
Each run's metrics are also written to out/train_results/<task>_<rule>.json as it finishes.
Usage: python benchmarks/train_results.py [--quick] [--only task:rule[,task:rule...]] [--saved] [--seed S] [--no-early-stop]
(--saved prints the table of the runs already saved, without training.)
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUNS = [
    ("evidence", "eprop_random"), ("evidence", "eprop_symmetric"), ("evidence", "bptt"),
    ("pattern", "eprop_random"), ("pattern", "eprop_symmetric"), ("pattern", "bptt"),
    ("pattern", "eprop_adaptive"), ("pattern", "truncated_bptt"), ("pattern", "rflo"),
    ("store_recall", "eprop_random"),
]
RULE_OPTIONS = {"truncated_bptt": {"truncation": 50}}  # k = 50 steps
FULL_ITERS = {"evidence": 800, "pattern": 2000, "store_recall": 400}
QUICK_ITERS = {"evidence": 30, "pattern": 100, "store_recall": 20}


def one(task: str, rule: str, iterations: int, seed: int = 0, subdir: str = "train_results",
        no_stop: bool = False) -> dict:
    from neurochip.io import write_json
    from neurochip.train import train_from_config
    cfg = {"task": {"name": task}, "rule": {"name": rule, **RULE_OPTIONS.get(rule, {})}, "train": {"iterations": iterations, "seed": seed}}
    if no_stop:
        cfg["train"]["early_stop"] = None  # full budget: no lucky-moment selection
    net, hist, m = train_from_config(cfg, progress=False)
    out = {k: m[k] for k in ("task", "rule", "iterations", "stopped_early", "seconds", "ms_per_sample", "test")}
    out["val_history"] = m["val_history"]
    out["train_history"] = {k: hist.train[k] for k in ("loss", "error", "nmse", "rate_hz") if k in hist.train}
    out["best_val"] = min((h.get("error", h.get("nmse")) for h in m["val_history"]))
    out["seed"] = seed
    out["early_stop"] = cfg["train"].get("early_stop", "default")
    tag = (f"_seed{seed}" if seed else "") + ("_nostop" if no_stop else "")
    write_json(ROOT / "out" / subdir / f"{task}_{rule}{tag}.json", {**out, "config": m["config"]})
    net.save(ROOT / "out" / subdir / f"{task}_{rule}{tag}_network")  # for re-evaluation without retraining
    return out


def _row(r: dict) -> str:
    te = r["test"]
    fig = f"error {100 * te['error']:.1f} %" if "error" in te else f"nmse {te['nmse']:.3f}"
    bv = r.get("best_val", r.get("best_test"))
    best = f"{100 * bv:.1f} %" if "error" in te else f"{bv:.3f}"
    return (f"| {r['task']} | {r['rule']} | {r.get('seed', 0)} | {r['iterations']} | {'yes' if r['stopped_early'] else 'no'} | {fig} | {best} | "
            f"{te['loss']:.4f} | {te['rate_hz']:.1f} | {r['ms_per_sample']:.1f} | {r['seconds']:.0f} |")


def _table(results: list[dict]) -> str:
    return "\n".join(["| task | rule | seed | iterations | early stop | held-out test | best validation | "
                      "held-out loss | rate (Hz) | ms/sample | train time (s) |",
                      "|---|---|---|---|---|---|---|---|---|---|---|", *(_row(r) for r in results)])


def run(quick: bool = False, only: list[tuple[str, str]] | None = None, seed: int = 0, no_stop: bool = False) -> dict:
    iters = QUICK_ITERS if quick else FULL_ITERS
    data = {}
    for task, rule in (only or RUNS):
        data[f"{task}/{rule}"] = one(task, rule, iters[task], seed, "train_results_quick" if quick else "train_results",
                                      no_stop)
    return {"title": "Float training results per rule and task", "markdown": _table(list(data.values())), "data": data}


def saved() -> dict:
    """The table assembled from the per-run JSON files already in out/train_results/."""
    import json
    data = {}
    for task, rule in RUNS:
        for f in sorted((ROOT / "out" / "train_results").glob(f"{task}_{rule}*.json")):
            if f.stem.endswith("_network"):
                continue  # the saved network's manifest
            data[f.stem] = json.loads(f.read_text())
    return {"title": "Float training results per rule and task", "markdown": _table(list(data.values())), "data": data}


if __name__ == "__main__":
    only = None
    if "--only" in sys.argv:
        spec = sys.argv[sys.argv.index("--only") + 1]
        only = [tuple(s.split(":")) for s in spec.split(",")]
    if "--saved" in sys.argv:
        print(saved()["markdown"])
    else:
        seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 0
        print(run(quick="--quick" in sys.argv, only=only, seed=seed, no_stop="--no-early-stop" in sys.argv)["markdown"])
