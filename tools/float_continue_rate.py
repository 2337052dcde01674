"""Is the chip's lead over float e-prop continued its larger step? (issue 13, fine-tuning target, session 11)

The demo's validate stage measures the chip's accumulated update at ~1.1x the norm of float SGD's from the same
weights (norm ratio 1.04-1.12). This runs the demo's stages 1-3 for each train seed (as
`benchmarks/demo_onchip_seeds.py` does, without the chip's learning run, whose results are in
docs/demo_onchip_seeds.json) and float e-prop continued from the chip's dequantised weights at the chip's rate
x SCALE for each SCALE, on the same trials:

    python tools/float_continue_rate.py [SEEDS...] [--scales 1.0 1.1 1.2]

Prints one JSON line per seed: float continued held-out accuracy after the 512 trials per scale, and the chip's
result from docs/demo_onchip_seeds.json beside it.
"""
import argparse
import json
import warnings
from dataclasses import replace
from pathlib import Path

warnings.simplefilter("ignore")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.1, 1.2])
    a = ap.parse_args()
    from neurochip.config import DEFAULT, merge
    from neurochip.float_continue import float_continuation
    from neurochip.pipeline import compile_for_learning
    from neurochip.train import build, train_from_config
    chip = {r["seed"]: r for r in json.loads(Path("docs/demo_onchip_seeds.json").read_text())["rows"]}
    for seed in a.seeds:
        cfg = merge(DEFAULT, {"train": {"seed": seed}})
        tcfg = {k: cfg[k] for k in ("task", "network", "rule", "train")}
        net, _, _ = train_from_config(tcfg, progress=False)
        task, _, rule, _, _ = build(tcfg)
        test = task.batch(int(cfg["validate"]["trials"]), "test", 0)
        cn, plan = compile_for_learning(cfg, net, rule, task, test.x.shape[0])
        row = {"seed": seed, "chip_before": chip.get(seed, {}).get("chip_before"),
               "chip_after": chip.get(seed, {}).get("chip_after"), "float_continued": {}}
        for s in a.scales:
            fc = float_continuation(replace(cn, rule=replace(cn.rule, lr=cn.rule.lr * s)), task, plan, test)
            row["float_continued"][str(s)] = {"before": fc["before"], "after": fc["after"]}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
