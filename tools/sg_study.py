"""Do synthetic gradients (e-prop 3) help truncated e-prop when the credit gap exceeds the window?

A small evidence-accumulation task whose cues end long before the decision (delay_ms > truncation k),
an ALIF network, and per seed three (or more) arms trained on the same draws from the same initial
network:
    full        eprop_symmetric, no truncation (the reference)
    trunc       eprop_sg with a zero module that does not learn: plain truncated e-prop (k steps)
    sg          eprop_sg with the learned linear synthetic-gradient module
    sg_random   control: eprop_sg with a fixed random module of the same size (Frobenius norm) as the
                module the 'sg' arm of the same seed learnt (run 'sg' first); does any non-zero credit
                across the boundary help, or the learnt one?
and the same pair for truncated BPTT (bptt_sg) with ``--bptt``. Held-out error on test/0..3.

    nice -n 10 python tools/sg_study.py --seeds 0 1 2 --out docs/synthetic_gradients.json

Writes a JSON of every run and prints a markdown table (mean +- std over seeds). Results and the
command are in docs/synthetic_gradients.md.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from neurochip.errors import NeurochipError
from neurochip.learning.synthetic import train_sg
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule
from neurochip.tasks import get_task
from neurochip.train import train


def task_of(a):
    return get_task("evidence", n_cues=a.n_cues, cue_ms=a.cue_ms, gap_ms=a.gap_ms, delay_ms=a.delay_ms,
                    recall_ms=a.recall_ms, p_major=a.p_major)


def run(a, seed, arm, task, learnt=None):
    net = init_network(task.n_in, a.n_rec, task.n_out, NeuronParams(kind="alif", tau_a=a.tau_a),
                       n_adaptive=a.n_rec // 2, seed=seed)
    base = dict(lr=a.lr, reg_rate=a.reg_rate, sg_lr=a.sg_lr, sg_discount=a.sg_discount)
    if arm == "full":
        net, h = train(net, LearningRule("eprop_symmetric", **base), task, a.iterations, a.batch, seed=seed,
                       progress=False, eval_every=a.iterations + 1)
        return {"test_error": h.test[-1]["error"], "train_loss_last50": float(np.mean(h.train["loss"][-50:]))}
    name = "bptt_sg" if arm.startswith("bptt") else "eprop_sg"
    rule = LearningRule(name, truncation=a.k, **base)
    if arm == "sg_random":
        from neurochip.learning.synthetic import SynthGrad
        if learnt is None:
            raise NeurochipError("arm sg_random needs the 'sg' arm of the same seed first (--arms ... sg sg_random)")
        w = np.random.default_rng(10_000 + seed).standard_normal(learnt.shape)
        net, sg, h = train_sg(net, rule, task, a.iterations, a.batch, seed=seed, learn_sg=False,
                              sg=SynthGrad(w * np.linalg.norm(learnt) / np.linalg.norm(w)))
    else:
        net, sg, h = train_sg(net, rule, task, a.iterations, a.batch, seed=seed, learn_sg=arm.endswith("sg"))
    e = h["train"]["sg_error"]
    return {"module": sg.w, "test_error": h["test"]["error"], "train_loss_last50": float(np.mean(h["train"]["loss"][-50:])),
            "sg_error_first50": float(np.nanmean(e[:50])), "sg_error_last50": float(np.nanmean(e[-50:]))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arms", nargs="+", default=["full", "trunc", "sg"],
                    choices=["full", "trunc", "sg", "sg_random", "bptt_trunc", "bptt_sg"])
    ap.add_argument("--k", type=int, default=100, help="truncation window, steps (ms)")
    ap.add_argument("--n-rec", type=int, default=30)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--reg-rate", type=float, default=1.0)
    ap.add_argument("--sg-lr", type=float, default=0.05)
    ap.add_argument("--sg-discount", type=float, default=1.0)
    ap.add_argument("--tau-a", type=float, default=500.0)
    ap.add_argument("--n-cues", type=int, default=3)
    ap.add_argument("--cue-ms", type=float, default=50.0)
    ap.add_argument("--gap-ms", type=float, default=25.0)
    ap.add_argument("--delay-ms", type=float, default=200.0)
    ap.add_argument("--recall-ms", type=float, default=50.0)
    ap.add_argument("--p-major", type=float, default=0.8)
    ap.add_argument("--out", default=None, help="JSON file for every run")
    a = ap.parse_args(argv)
    try:
        task = task_of(a)
        LearningRule("eprop_sg", truncation=a.k, lr=a.lr, sg_lr=a.sg_lr, sg_discount=a.sg_discount)
        if "sg_random" in a.arms and ("sg" not in a.arms or a.arms.index("sg") > a.arms.index("sg_random")):
            raise NeurochipError("arm sg_random needs the 'sg' arm before it (--arms ... sg sg_random)")
        if a.k >= task.n_steps:
            raise NeurochipError(f"--k {a.k} must be shorter than the trial ({task.n_steps} steps)")
    except NeurochipError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    runs = []
    for seed in a.seeds:
        learnt = None
        for arm in a.arms:
            r = {"seed": seed, "arm": arm, **run(a, seed, arm, task, learnt)}
            w = r.pop("module", None)
            if arm == "sg":
                learnt = w
            r["module_norm"] = float(np.linalg.norm(w)) if w is not None else 0.0
            runs.append(r)
            print(json.dumps(r), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"args": vars(a), "n_steps": task.n_steps, "runs": runs}, f, indent=1)
    print(f"\nevidence task: T = {task.n_steps} steps, truncation k = {a.k}, {len(a.seeds)} seeds\n")
    print("| arm | test error (mean +- std) | per seed | last-50 train loss | SG rel. error first/last 50 |")
    print("|---|---|---|---|---|")
    for arm in a.arms:
        rs = [r for r in runs if r["arm"] == arm]
        e = np.array([r["test_error"] for r in rs])
        sge = (f"{np.mean([r['sg_error_first50'] for r in rs]):.2f} / {np.mean([r['sg_error_last50'] for r in rs]):.2f}"
               if "sg_error_first50" in rs[0] else "-")
        print(f"| {arm} | {e.mean():.3f} +- {e.std(ddof=1) if len(e) > 1 else 0:.3f} | "
              f"{' '.join(f'{v:.3f}' for v in e)} | {np.mean([r['train_loss_last50'] for r in rs]):.3f} | {sge} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
