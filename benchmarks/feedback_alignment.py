"""Feedback alignment on evidence accumulation: symmetric (W_out^T), sign-symmetric (sign(W_out^T) |B|,
Liao et al. 2016) and fixed random (B, Lillicrap et al. 2016) e-prop learning signals, float.

Per seed every rule starts from the same initial network (``network.seed`` = seed: the same W_in, W_rec,
W_out and B), trains on the same trial stream (train/seed*10^6 + i, `neurochip.train.train`) for the same
fixed number of updates (no early stopping: the same trials per rule), and is tested on the same fixed
held-out set (test/0 .. test/eval_batches-1). Setups (``--setup``):

  reference  the task's reference settings (neurochip.train.TASK_DEFAULTS['evidence']: 7 cues, T = 2250 ms,
             100 ALIF/LIF neurons, Adam 5e-3, rate regulariser 1), ``--iterations`` x 32 trials, 512 test trials
  reduced    a 3-cue task (50 ms cues, 25 ms gaps, 200 ms delay, 50 ms recall: T = 475 ms), 30 neurons
             (15 ALIF, tau_a 500 ms), otherwise the reference rule settings, 16-trial batches, 256 test trials

    nice -n 10 python benchmarks/feedback_alignment.py --setup reduced --out docs/feedback_alignment_reduced.json
    nice -n 10 python benchmarks/feedback_alignment.py --setup reference --iterations 400 \
        --out docs/feedback_alignment_reference.json
    python benchmarks/feedback_alignment.py --table docs/feedback_alignment_reduced.json   # table only

Each finished run is appended to the JSON at once (a rerun with the same --out skips runs already in it,
so an interrupted study resumes). Prints the markdown table of docs/rules.md ("Feedback alignment").
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

RULES = ("eprop_symmetric", "eprop_sign", "eprop_random")

SETUPS = {
    "reference": {"task": {"name": "evidence"}, "network": {},
                  "train": {"batch_size": 32, "eval_batches": 16}, "iterations": 800},
    "reduced": {"task": {"name": "evidence", "n_cues": 3, "cue_ms": 50.0, "gap_ms": 25.0, "delay_ms": 200.0,
                         "recall_ms": 50.0},
                "network": {"n_rec": 30, "tau_a": 500.0},
                "train": {"batch_size": 16, "eval_batches": 16}, "iterations": 300},
}


def config(setup: str, rule: str, seed: int, iterations: int) -> dict:
    """The `neurochip.train.train_from_config` config of one run (fixed budget: no early stopping)."""
    s = SETUPS[setup]
    train = {**s["train"], "iterations": int(iterations), "seed": int(seed), "early_stop": None,
             "eval_every": max(1, int(iterations) // 4), "progress": False}
    return {"task": dict(s["task"]), "network": {**s["network"], "seed": int(seed)}, "rule": {"name": rule},
            "train": train}


def run_one(setup: str, rule: str, seed: int, iterations: int) -> dict:
    from neurochip.train import train_from_config
    t0 = time.perf_counter()
    _, hist, m = train_from_config(config(setup, rule, seed, iterations), progress=False)
    loss = hist.train["loss"]
    return {"setup": setup, "rule": rule, "seed": seed, "iterations": m["iterations"],
            "test_accuracy": m["test"]["accuracy"], "test_error": m["test"]["error"], "test_loss": m["test"]["loss"],
            "test_rate_hz": m["test"]["rate_hz"], "train_loss_last50": float(np.mean(loss[-50:])),
            "val_error": [[v["iteration"], v["error"]] for v in m["val_history"]],
            "seconds": time.perf_counter() - t0}


def table(doc: dict) -> str:
    """Markdown table: held-out accuracy mean +- sample std over seeds, per seed, per rule."""
    runs = doc["runs"]
    lines = ["| rule | feedback F | held-out accuracy, mean +- std | per seed | last-50 train loss |",
             "|---|---|---|---|---|"]
    fb = {"eprop_symmetric": "W_out^T", "eprop_sign": "sign(W_out^T) \\|B\\|", "eprop_random": "B (fixed random)"}
    for r in RULES:
        rs = sorted((x for x in runs if x["rule"] == r), key=lambda x: x["seed"])
        if not rs:
            continue
        a = 100 * np.array([x["test_accuracy"] for x in rs])
        sd = a.std(ddof=1) if len(a) > 1 else 0.0
        lines.append(f"| {r} | {fb[r]} | {a.mean():.1f} +- {sd:.1f} % (n = {len(a)}) | "
                     f"{', '.join(f'{v:.1f}' for v in a)} (seeds {', '.join(str(x['seed']) for x in rs)}) | "
                     f"{np.mean([x['train_loss_last50'] for x in rs]):.3f} |")
    sym = [x for x in runs if x["rule"] == "eprop_symmetric"]
    if sym:
        lines.append("")
        lines.append("Per-seed difference to eprop_symmetric (points, same init and trials):")
        for r in RULES[1:]:
            d = [100 * (x["test_accuracy"] - s["test_accuracy"]) for x in runs if x["rule"] == r
                 for s in sym if s["seed"] == x["seed"]]
            if d:
                lines.append(f"- {r}: {', '.join(f'{v:+.1f}' for v in d)} (mean {np.mean(d):+.1f})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setup", choices=sorted(SETUPS), default="reduced")
    ap.add_argument("--rules", nargs="+", choices=RULES, default=list(RULES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--iterations", type=int, default=None, help="updates per run (default per setup)")
    ap.add_argument("--out", type=Path, default=None, help="JSON of every run (appended per run; resumes)")
    ap.add_argument("--table", type=Path, default=None, help="only print the table of this JSON")
    a = ap.parse_args(argv)
    if a.table:
        print(table(json.loads(a.table.read_text())))
        return 0
    its = a.iterations if a.iterations is not None else SETUPS[a.setup]["iterations"]
    if its < 1:
        print(f"error: --iterations must be >= 1, got {its}", file=sys.stderr)
        return 2
    doc = {"setup": a.setup, "iterations": its, "config_example": config(a.setup, RULES[0], 0, its), "runs": []}
    if a.out and a.out.exists():
        old = json.loads(a.out.read_text())
        if (old.get("setup"), old.get("iterations")) != (a.setup, its):
            print(f"error: {a.out} holds setup {old.get('setup')} / {old.get('iterations')} iterations, not "
                  f"{a.setup} / {its}; choose another --out", file=sys.stderr)
            return 2
        doc["runs"] = old["runs"]
    done = {(r["rule"], r["seed"]) for r in doc["runs"]}
    for seed in a.seeds:
        for rule in a.rules:
            if (rule, seed) in done:
                continue
            r = run_one(a.setup, rule, seed, its)
            doc["runs"].append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "val_error"}), flush=True)
            if a.out:
                from neurochip.io import write_json
                write_json(a.out, doc)              # atomic: a resumed run never reads half a file
    print(f"\nevidence accumulation ({a.setup}), {its} updates per run\n")
    print(table(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
