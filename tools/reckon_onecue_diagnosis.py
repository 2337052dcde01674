"""Why some reckon runs of the one-cue Liu setup do not learn (issue 18): reads the finished points of
`neurochip sweep docs/sweeps/liu2022_onecue.toml -o OUT` (the reckon table at on-chip rate 0.2, 1,600 updates).

    python tools/reckon_onecue_diagnosis.py OUT rates               # float firing rate at init vs the chip's test error, 20 seeds
    python tools/reckon_onecue_diagnosis.py OUT weights RULE SEED   # one point replayed for its 1,600 updates (no early stop):
                                                                    # mantissa sizes before / after, rates, logit differences
"""
from __future__ import annotations

import glob
import json
import sys
import warnings
from dataclasses import replace

import numpy as np


def _points(out):
    pts = [json.load(open(f)) for f in glob.glob(f"{out}/points/*.json")]
    return [d for d in pts if d["point"]["values"].get("chip.name") == "reckon"
            and d["point"]["values"].get("train.iterations") == 1600]


def _point(pts, rule, seed):
    return [d for d in pts if d["point"]["values"]["rule.name"] == rule and d["point"]["values"]["train.seed"] == seed][0]


def rates(out) -> None:
    from scipy import stats

    from neurochip.simulate import simulate
    from neurochip.sweep.point import TRAIN_SECTIONS
    from neurochip.train import build
    pts, rows = _points(out), []
    for seed in range(20):
        cfg = _point(pts, "eprop_random", seed)["point"]["config"]
        task, net, *_ = build({k: cfg[k] for k in TRAIN_SECTIONS if k in cfg})
        z = np.asarray(simulate(net, task.batch(64, "test", 0).x).z)
        errs = [_point(pts, r, seed)["result"]["test"]["error"] for r in ("eprop_symmetric", "eprop_random")]
        rows.append((seed, float(z.mean() * 1000), *errs))
        print(f"seed {seed}: float rate at init {rows[-1][1]:.1f} Hz, chip test error symmetric {errs[0]:.3f}, random {errs[1]:.3f}")
    r = np.array(rows)
    for k, n in ((2, "symmetric"), (3, "random")):
        s = stats.spearmanr(r[:, 1], r[:, k])
        print(f"{n}: Spearman(rate at init, test error) = {s.statistic:.2f} (p = {s.pvalue:.3f}, n = 20)")


def weights(out, rule, seed) -> None:
    from neurochip.backends import get_backend
    from neurochip.compiler import compile as compile_net
    from neurochip.compiler.pipeline import CompileOptions
    from neurochip.onchip import OnchipPlan, prepare_rule, train_onchip
    from neurochip.sweep.onchip_point import _FiniteTrain
    from neurochip.sweep.point import TRAIN_SECTIONS
    from neurochip.tasks.base import Batch
    from neurochip.tasks.finite import finite_set
    from neurochip.train import build
    cfg = _point(_points(out), rule, seed)["point"]["config"]
    oc = cfg["onchip"]
    task, net, rl, tr, _ = build({k: cfg[k] for k in TRAIN_SECTIONS if k in cfg})
    B, its = int(tr["batch_size"]), int(tr["iterations"])
    cn = compile_net(net, cfg["chip"]["name"], replace(rl, eligibility=oc.get("eligibility") or rl.eligibility),
                     options=CompileOptions.make(seed=seed))
    cn = prepare_rule(cn, lr=float(oc["lr"]), eligibility=oc.get("eligibility"), rounding=oc.get("rounding"), batch_size=B)
    fset = finite_set(task, int(tr["train_set_size"]), seed)
    tests = [task.batch(B, "test", k) for k in range(16)]
    test = Batch(x=np.concatenate([b.x for b in tests]), target=np.concatenate([b.target for b in tests]),
                 loss=tests[0].loss, mask=np.concatenate([b.mask for b in tests]), meta=tests[0].meta)
    res = train_onchip(cn, _FiniteTrain(task, fset), OnchipPlan(iterations=its, batch_size=B, eval_every=its,
                       eval_trials=test.x.shape[0], seed=seed, curve_trials=16), test=test, progress=False)
    c = res.compiled
    for name in ("w_in", "w_rec", "w_out"):
        a0, a1 = (np.abs(np.asarray(m.toarray() if hasattr(m, "toarray") else m)) for m in (getattr(cn, name), getattr(c, name)))
        print(f"{name}: |mantissa| mean {a0.mean():.1f} -> {a1.mean():.1f}, max {a0.max()} -> {a1.max()} (limit 127)")
    print("events", res.curve["events"])
    nb = get_backend("native")
    for tag, net_c in (("before", cn), ("after", c)):
        r = nb.run(net_c, test.x, record=("spikes", "outputs"))
        o = np.asarray(r.outputs)[np.asarray(test.mask, bool)]
        d = np.abs(o[:, 0] - o[:, 1])
        print(f"{tag}: rate {float(np.asarray(r.spikes).mean() * 1000):.1f} Hz, |logit difference| mean {d.mean():.2f} "
              f"(min {d.min():.2f}, max {d.max():.2f}) over the recall steps")
    print("held-out accuracy", res.curve["before"], "->", res.curve["after"])


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    a = sys.argv[1:]
    if len(a) >= 2 and a[1] == "rates":
        rates(a[0])
    elif len(a) == 4 and a[1] == "weights":
        weights(a[0], a[2], int(a[3]))
    else:
        raise SystemExit(__doc__)
