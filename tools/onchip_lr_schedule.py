"""Exploratory (issue 13): a step learning-rate schedule on chip (SGD 0.2 for 150 updates, then 0.05 for 150)
against a constant 0.2, on the reduced 3-cue evidence task (ALIF 100, loihi2, per-synapse eligibility,
300 x 16 trials, 256 held-out trials), and float SGD on the same trials with the same two schedules
(`neurochip.train.train`'s lr_decay). The chip's second phase re-lowers the rule at the new rate from the
first phase's learned weights (its residual accumulators start at zero) and continues the same trial stream.

    python tools/onchip_lr_schedule.py MODE SEED      # MODE: float_const | float_sched | chip_const | chip_sched

Prints one JSON line (held-out accuracy). Results of 3 seeds: session 9's closing note.
"""
import json, sys, time
from neurochip.train import build, train
from neurochip.compiler.pipeline import CompileOptions, compile
from neurochip.compiler.lower_rule import LowerRuleOptions
from neurochip.onchip import OnchipPlan, heldout, prepare_rule, train_onchip, chip_metrics
from neurochip.simulate import simulate
from dataclasses import replace

mode, seed = sys.argv[1], int(sys.argv[2])
TASK = {"name": "evidence", "n_cues": 3, "cue_ms": 50.0, "gap_ms": 25.0, "delay_ms": 200.0, "recall_ms": 50.0}
task, net, rule, tr, _ = build({"task": TASK, "train": {"seed": seed}})
test = heldout(task, 256)
N, B = 300, 16
base = seed * 10**6
out = {"mode": mode, "seed": seed}
t0 = time.perf_counter()
if mode.startswith("float"):
    r = replace(rule, optimizer="sgd", lr=0.2)
    decay = 0.25 if mode == "float_sched" else 1.0
    # float trainer draws task.batch(B, 'train', seed*10^6 + it); step decay every 150 iterations
    n2, _ = train(net, r, task, N, B, seed, progress=False, eval_every=10**9, eval_batches=1,
                  lr_decay=decay, lr_decay_every=150)
    tr_ = simulate(n2, test.x)
    out["acc"] = chip_metrics(tr_.out, test)["accuracy"]
else:
    c = compile(net, "loihi2", replace(rule, optimizer="sgd", lr=0.2),
                options=CompileOptions.make(learn=LowerRuleOptions(eligibility="per_synapse", lr=0.2, batch=B)))
    phases = [(0.2, N)] if mode == "chip_const" else [(0.2, N // 2), (0.05, N // 2)]
    first = base
    for lr, its in phases:
        c = prepare_rule(c, lr=lr, eligibility="per_synapse", batch_size=B)
        res = train_onchip(c, task, OnchipPlan(iterations=its, batch_size=B, eval_every=its, eval_trials=256,
                                               seed=seed, first_index=first), test=test, progress=False)
        c, first = res.compiled, first + its
        out.setdefault("phases", []).append({"lr": lr, "after": res.curve["after"]})
    from neurochip.backends import native
    out["acc"] = chip_metrics(native.run(c, test.x).outputs, test)["accuracy"]
out["wall_s"] = time.perf_counter() - t0
print(json.dumps(out), flush=True)
