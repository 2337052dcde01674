"""R-STDP vs e-prop on the reward task (neurochip.tasks.reward, chance 50 %): float R-STDP, on-chip
R-STDP (backends.native_stdp: fixed-point forward + Loihi 3-factor engine, bit-exact with lava's), and
e-prop (random feedback) with the same trial budget. Writes out/rstdp_reward.json.

Network: 20 LIF neurons in two groups of 10 (group k drives output k: W_out pools each group),
cross-group inhibition in W_rec (fixed), W_in learnt. Usage: python benchmarks/rstdp_reward.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from neurochip.network import Network, NeuronParams
from neurochip.rules import LearningRule
from neurochip.tasks import get_task
from neurochip.train import evaluate, train

N_GROUP = 10


def reward_network(task, seed: int, w_scale: float = 0.35, inhibition: float = 0.3) -> Network:
    """Two groups of N_GROUP LIF neurons; W_in >= 0 random, W_rec = -inhibition between groups, W_out pools."""
    rng = np.random.default_rng(seed)
    n = 2 * N_GROUP
    p = NeuronParams(kind="lif", tau_m=20.0, tau_out=20.0, v_th=0.6, n_ref=2)
    w_in = rng.random((n, task.n_in)) * w_scale
    grp = np.repeat([0, 1], N_GROUP)
    cross = grp[:, None] != grp[None, :]
    w_rec = np.where(cross, -inhibition, 0.0)
    w_out = np.zeros((2, n))
    w_out[0, grp == 0] = 1.0 / N_GROUP
    w_out[1, grp == 1] = 1.0 / N_GROUP
    return Network(params=p, w_in=w_in, w_rec=w_rec, w_out=w_out, b_out=np.zeros(2),
                   B=rng.standard_normal((n, 2)), beta=np.zeros(n), rec_mask=cross)


def rstdp_rule(lr: float = 0.03) -> LearningRule:
    # A- = A+ (balanced, representable on chip as the same mantissa); tau_e = 128 ms = 2^7 steps, the
    # chip's slowest tag decay (2^-7 per epoch); lr 0.03: the float weights stay inside the chip's
    # 8-bit range (lr 1 reached 100 % in float with weights far outside it, and the chip, whose
    # per-trial changes then saturate at 256 units, fell to 29 %)
    return LearningRule("rstdp", optimizer="sgd", lr=lr, reg_rate=0.0, train_rec=False, train_out=False,
                        train_bias=False, stdp_a_plus=0.1, stdp_a_minus=0.1, stdp_tau_plus=20.0,
                        stdp_tau_minus=20.0, reward_tau_e=128.0)


def eprop_rule() -> LearningRule:
    return LearningRule("eprop_random", optimizer="adam", lr=5e-3, reg_rate=0.0)


def onchip(net0, task, iters, batch, seed, eval_batches):
    """R-STDP on chip (loihi2 profile): the same number of trials, one at a time; held-out accuracy of the
    fixed-point network with the learnt W_in on the same test draw as the float evaluation."""
    import warnings
    from neurochip.backends.native_stdp import evaluate_onchip, run_onchip
    from neurochip.compiler import compile as compile_net
    from neurochip.compiler.lower_stdp import lower_stdp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # register-overflow notes of the compiler (reported in its report)
        c = compile_net(net0, "loihi2")
    bs = [task.batch(batch, "train", 10**6 * seed + it) for it in range(iters)]       # the float run's trials
    x = np.concatenate([b.x for b in bs])
    labels = np.concatenate([b.target[:, 0] for b in bs])
    mask = np.concatenate([b.mask for b in bs])
    low = lower_stdp(net0, rstdp_rule(), c, calib_x=task.batch(16, "val", 999).x, rng_seed=seed)
    r = run_onchip(c, low, x, labels, mask, seed=seed)
    tests = [task.batch(batch, "test", i) for i in range(eval_batches)]                # the float run's test set
    from neurochip.cost.memory import learning_state_bits
    fmt = c.profile.format
    n_syn = c.n_in * c.n_rec                                  # plastic synapses: W_in only in this study
    traces = (c.n_in + c.n_rec) * 7                           # x1 per input, y1 per neuron (lava W_TRACE)
    mem = {"plastic_synapses": n_syn,
           "stdp_learning_bits": traces, "rstdp_learning_bits": traces + n_syn * 9,   # + tag_1 (8 + sign)
           "eprop_per_synapse_learning_bits": learning_state_bits(c.n_in, c.n_rec, n_syn, fmt,
                                                                  eligibility="per_synapse", n_out=c.n_out)["total"],
           "eprop_factorised_learning_bits": learning_state_bits(c.n_in, c.n_rec, n_syn, fmt,
                                                                 eligibility="factorised", n_out=c.n_out)["total"]}
    return {"test_accuracy": float(np.mean([evaluate_onchip(c, r.w_in, te) for te in tests])),
            "untrained_test_accuracy": float(np.mean([evaluate_onchip(c, c.w_in, te) for te in tests])),
            "train_reward_last_100": float(r.rewards[-100:].mean()), "events": r.events, "memory": mem,
            "lowering": {k: (list(v) if isinstance(v, tuple) else v) for k, v in low.report.items()},
            "lava_strings": low.strings}


def run(seeds, iters, batch, eval_batches, quick=False):
    task = get_task("reward_pattern")
    res = {"task": "reward_pattern", "chance": task.CHANCE, "trials_per_rule": iters * batch, "batch": batch,
           "test_trials": eval_batches * batch, "seeds": list(seeds), "float_rstdp": [], "eprop_random": [],
           "untrained": []}
    for s in seeds:
        net0 = reward_network(task, s)
        res["untrained"].append(evaluate(net0, task, batch, eval_batches)["accuracy"])
        t0 = time.time()
        net, h = train(net0, rstdp_rule(), task, iters, batch, seed=s, progress=False, eval_every=max(1, iters))
        res["float_rstdp"].append(h.test[-1]["accuracy"])
        res.setdefault("onchip_rstdp", []).append(onchip(net0, task, iters, batch, s, eval_batches))
        net_e, he = train(net0, eprop_rule(), task, iters, batch, seed=s, progress=False, eval_every=max(1, iters))
        res["eprop_random"].append(he.test[-1]["accuracy"])
        print(f"seed {s}: untrained {res['untrained'][-1]:.3f} rstdp {res['float_rstdp'][-1]:.3f} "
              f"onchip {res['onchip_rstdp'][-1]['test_accuracy']:.3f} "
              f"eprop {res['eprop_random'][-1]:.3f} ({time.time() - t0:.0f} s)", flush=True)
    return res


def use_committed_kernels() -> None:
    """Run the committed kernels/fixed_forward.py + fixed_ops.py (git HEAD) instead of the working tree's:
    for a run made while another change to them is in progress in the shared tree."""
    import importlib
    import subprocess
    import sys
    import tempfile
    d = Path(tempfile.mkdtemp()) / "kernels_head"
    d.mkdir()
    names = subprocess.check_output(["git", "ls-tree", "--name-only", "HEAD", "kernels/"], text=True).split()
    for f in names:
        if f.endswith(".py"):
            (d / Path(f).name).write_text(subprocess.check_output(["git", "show", f"HEAD:{f}"], text=True))
    sys.path.insert(0, str(d.parent))
    import neurochip.kernels  # noqa: F401
    for m in ("fixed_ops", "fixed_forward"):
        sys.modules[f"neurochip.kernels.{m}"] = importlib.import_module(f"kernels_head.{m}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--committed-kernels", action="store_true", help="fixed-point forward from git HEAD")
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    if a.committed_kernels:
        use_committed_kernels()
    seeds = [0] if a.quick else [0, 1, 2]
    r = run(seeds, a.iters, a.batch, eval_batches=8)
    out = Path("out")
    out.mkdir(exist_ok=True)
    (out / "rstdp_reward.json").write_text(json.dumps(r, indent=1))
    print(json.dumps(r))
