"""Fine-tuning probe: the demo's float-trained network (evidence, 150 float e-prop iterations at batch 32,
training seed 2, as `neurochip demo` trains it) compiled for loihi2, then trained on chip at a few learning
rates; prints the held-out curve (first 64 of 256 'test' trials along the way) and the whole-set figures.

    python tools/onchip_finetune_probe.py ELIGIBILITY ITERATIONS BATCH LRS [EPOCHS]
    TRAIN=w_out python tools/onchip_finetune_probe.py factorised 16 16 0.2,1.0 2     # readout only

LRS: comma-separated on-chip SGD rates, or 'none' for the compiled rule's chip setting (its rate and mode).
The float network is cached in /tmp/onchip_finetune_probe/network.*.
"""
import os
import sys
from pathlib import Path

from neurochip.compiler import compile as compile_net
from neurochip.compiler.pipeline import CompileOptions
from neurochip.network import Network
from neurochip.onchip import OnchipPlan, compiled_lr_mode, prepare_rule, train_onchip
from neurochip.train import build, train_from_config

stem = Path("/tmp/onchip_finetune_probe/network")
cfg = {"task": {"name": "evidence", "seed": 0}, "train": {"iterations": 150, "batch_size": 32, "seed": 2}}
task, _, rule, _, _ = build(cfg)
if stem.with_suffix(".json").is_file():
    net = Network.load(stem)
else:
    net, hist, m = train_from_config(cfg, progress=False)
    stem.parent.mkdir(parents=True, exist_ok=True)
    net.save(stem)
    print("float held-out (16 x 32 test trials)", m["test"], flush=True)
elig, its, B = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
epochs = int(sys.argv[5]) if len(sys.argv) > 5 else 1
train = tuple(os.environ.get("TRAIN", "w_in,w_rec,w_out").split(","))
cn = compile_net(net, "loihi2", rule, options=CompileOptions.make(seed=2))
for lr in [None if v == "none" else float(v) for v in sys.argv[4].split(",")]:
    c = prepare_rule(cn, lr=lr, eligibility=elig, rounding="nearest", batch_size=B, train=train)
    r = train_onchip(c, task, OnchipPlan(iterations=its, batch_size=B, epochs=epochs, eval_every=max(1, its // 2),
                                         eval_trials=256, curve_trials=64, seed=0), progress=False)
    cv = r.curve
    print(elig, "train", ",".join(train), "lr", c.rule.lr, compiled_lr_mode(c), "whole set", cv["before"], "->",
          cv["after"], "curve (trials, first 64)", [(p["trials"], round(p["heldout_accuracy"], 3)) for p in cv["points"]],
          cv["events"], flush=True)
