"""Exploratory (issue 13, session 10): the demo's float stage for N iterations -> compile to loihi2 -> on-chip
learning, one setting, one train seed; prints one JSON line (float held-out, chip before / after on the demo's
256 held-out trials, the intermediate curve on its first 64, wall times). The numbers of docs/onchip_learning.md
"The demo's on-chip step" that are not in benchmarks/demo_onchip_seeds.py come from this.

    python tools/demo_step_explore.py FLOAT_ITERATIONS LR ELIGIBILITY TRIALS EPOCHS BATCH [TRAIN_SEED [TASK_SEED]]
"""
import sys, json, numpy as np
from neurochip.config import DEFAULT, merge
from neurochip.train import build, train_from_config
from neurochip.compiler import compile as compile_net
from neurochip.compiler.pipeline import CompileOptions
from neurochip.chips import load_profile
from neurochip.simulate import simulate
from neurochip.onchip import OnchipPlan, prepare_rule, train_onchip, default_eval_every, chip_metrics
its_f = int(sys.argv[1]); lr = float(sys.argv[2]); elig = sys.argv[3]; trials = int(sys.argv[4]); epochs = int(sys.argv[5]); bs = int(sys.argv[6]); tseed = int(sys.argv[7]) if len(sys.argv) > 7 else 2; kseed = int(sys.argv[8]) if len(sys.argv) > 8 else 0
import time; T0 = time.time()
cfg = merge(DEFAULT, {"train": {"iterations": its_f, "seed": tseed}, "task": {"name": "evidence", "seed": kseed}})
tcfg = {k: cfg[k] for k in ("task", "network", "rule", "train")}
net, hist, tm = train_from_config(tcfg, progress=False)
task, _, rule, _, _ = build(tcfg)
test = task.batch(256, "test", 0)
fl = chip_metrics(simulate(net, test.x).out, test)
cn = compile_net(net, load_profile("loihi2"), rule, options=CompileOptions.make(rounding="nearest", seed=2))
its = -(-trials // bs)
plan = OnchipPlan(iterations=its, batch_size=bs, epochs=epochs, eval_every=default_eval_every(its), eval_trials=256, seed=0, curve_trials=64)
cn = prepare_rule(cn, lr=lr, eligibility=elig, rounding=None, batch_size=bs)
T1 = time.time(); r = train_onchip(cn, task, plan, test=test, progress=False)
cv = r.curve
print(json.dumps({"float_its": its_f, "float": fl["accuracy"], "lr": lr, "elig": elig, "trials": trials, "epochs": epochs, "bs": bs, "tseed": tseed, "kseed": kseed, "t_float": round(T1 - T0, 1), "t_chip": round(time.time() - T1, 1),
  "before": cv["before"], "after": cv["after"], "curve": [p.get("heldout_accuracy") for p in cv["points"]]}), flush=True)
