"""On-chip learning from random weights: the main job's "learn from scratch" stage.

The main job's other learning stage continues a float-trained network on chip (fine-tuning), which at the
demo's budget moves held-out accuracy by about its own standard error. This stage shows the other half of
the question "will my network learn on this chip?": an untrained network, compiled for the chip, learns
a task with the chip's rule alone, next to float e-prop with the same rule, rate and trials.

Setup (`SETUP`, the one-cue study of docs/onchip_learning.md): evidence accumulation with one cue (30 ms
cue, 10 ms gap, 20 ms delay, 20 ms recall: T = 80 steps, 20 inputs), 24 LIF neurons (n_ref 2), random
e-prop without the rate regulariser, random initialisation from the config's seed. Both sides train on the
same draws (float trainer's stream: batch i = ``task.batch(B, 'train', seed * 10^6 + i)``) and are scored on
the same held-out draw (``task.batch(eval_trials, 'test', 0)``). Chip: plain SGD at ``lr`` in the chosen
eligibility form (`neurochip.onchip.train_onchip`); float: `neurochip.train.train` with SGD at the same lr.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from .errors import ConfigError

SETUP: dict[str, dict[str, Any]] = {
    "task": {"name": "evidence", "n_cues": 1, "cue_ms": 30.0, "gap_ms": 10.0, "delay_ms": 20.0, "recall_ms": 20.0,
             "group_size": 5},
    "network": {"kind": "lif", "n_ref": 2, "n_rec": 24},
    "rule": {"name": "eprop_random", "reg_rate": 0.0},
}
SETUP_NAME = "evidence, 1 cue (T = 80 steps, 20 inputs), 24 LIF neurons, random init"


@dataclass(frozen=True)
class ScratchPlan:
    """iterations x batch_size training trials (one weight application per batch), SGD rate ``lr``
    (dimensionless, the float rule's), on-chip ``eligibility`` ('per_synapse' | 'factorised'), held-out
    ``eval_trials``, evaluated every ``eval_every`` iterations."""

    iterations: int = 40
    batch_size: int = 8
    lr: float = 0.5
    eligibility: str = "per_synapse"
    eval_trials: int = 128
    eval_every: int = 10

    def __post_init__(self) -> None:
        for k in ("iterations", "batch_size", "eval_trials", "eval_every"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"[scratch] {k} must be an integer >= 1, got {v!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < float(self.lr) < float("inf"):
            raise ConfigError(f"[scratch] lr must be a finite number > 0, got {self.lr!r}")
        if self.eligibility not in ("per_synapse", "factorised"):
            raise ConfigError(f"[scratch] eligibility must be 'per_synapse' or 'factorised', got {self.eligibility!r}")


def learn_from_scratch(chip, plan: ScratchPlan, seed: int = 0, *, progress: bool = False) -> dict[str, Any]:
    """Train the `SETUP` network from random weights on ``chip`` (name, path or profile) and in float with the
    same rule, rate and trials. Returns a JSON-able dict: setup, chip, trials, the chip's learning curve
    (``curve``, `neurochip.onchip.train_onchip`'s), ``before`` / ``after`` / ``delta`` / ``delta_se`` (paired
    standard error over the held-out decisions), ``float_sgd_after`` and ``float_points`` (held-out accuracy
    of float e-prop along the same trials), wall times. Raises the compiler's error when the chip cannot hold
    the network or the rule (the main job records it instead of failing)."""
    from .compiler import compile as compile_net
    from .compiler.pipeline import CompileOptions
    from .onchip import OnchipPlan, chip_metrics, heldout, prepare_rule, train_onchip
    from .simulate import simulate
    from .train import build, train

    t0 = time.perf_counter()
    task, net, rule, _, _ = build({**{k: dict(v) for k, v in SETUP.items()}, "train": {"seed": int(seed)}})
    test = heldout(task, plan.eval_trials)
    first = int(seed) * 10**6                           # the float trainer's training stream
    crule = replace(rule, optimizer="sgd", lr=float(plan.lr), eligibility=plan.eligibility)
    cn = compile_net(net, chip, crule, options=CompileOptions.make(seed=int(seed)))
    cn = prepare_rule(cn, lr=float(plan.lr), eligibility=plan.eligibility, batch_size=plan.batch_size)
    op = OnchipPlan(iterations=plan.iterations, batch_size=plan.batch_size, eval_every=plan.eval_every,
                    eval_trials=plan.eval_trials, seed=int(seed), first_index=first)
    res = train_onchip(cn, task, op, test=test, progress=progress)
    cv = res.curve
    t_chip = time.perf_counter() - t0
    key = cv["metric"]

    def held(n) -> float:
        return float(chip_metrics(simulate(n, test.x).out, test)[key])

    fpts = [{"trials": 0, f"heldout_{key}": held(net)}]

    def cb(it, n, m):
        if (it + 1) % plan.eval_every == 0 or it + 1 == plan.iterations:
            fpts.append({"trials": (it + 1) * plan.batch_size, f"heldout_{key}": held(n)})
    train(net, crule, task, plan.iterations, plan.batch_size, int(seed), progress=False, callback=cb,
          eval_every=10**9, eval_batches=1)
    return {"setup": SETUP_NAME, "chip": cn.profile_name, "seed": int(seed), "metric": key,
            "trials": plan.iterations * plan.batch_size, "batch_size": plan.batch_size, "lr": float(plan.lr),
            "eligibility": plan.eligibility, "rounding": cv["rounding"], "eval_trials": plan.eval_trials,
            "before": cv["before"], "after": cv["after"], "delta": cv["delta"], "delta_se": cv.get("delta_se"),
            "float_sgd_after": fpts[-1][f"heldout_{key}"], "float_points": fpts, "curve": cv,
            "wall_s": {"chip": round(t_chip, 3), "total": round(time.perf_counter() - t0, 3)}}


def scratch_series(r: dict) -> list[tuple[str, list[float], list[float]]]:
    """(label, trials, held-out metric) series of a `learn_from_scratch` result for `onchip_curve.plot_curves`."""
    key = r["metric"]
    pts = r["curve"]["points"]
    return [(f"chip ({r['chip']}, {r['eligibility']}, from random weights)", [p["trials"] for p in pts],
             [p[f"heldout_{key}"] for p in pts]),
            (f"float e-prop, SGD lr {r['lr']:g}, same trials", [p["trials"] for p in r["float_points"]],
             [p[f"heldout_{key}"] for p in r["float_points"]])]


def scratch_line(r: dict) -> str:
    """One line for the log and the report."""
    se = r.get("delta_se")
    pm = f" +- {100 * se:.1f}" if se is not None and se == se else ""
    return (f"on-chip learning from random weights ({r['setup']}; {r['chip']}, {r['eligibility']}, SGD lr "
            f"{r['lr']:g}, {r['trials']} trials): held-out {r['metric']} {r['before']:.3f} -> {r['after']:.3f} "
            f"({100 * r['delta']:+.1f}{pm} points); float e-prop on the same trials: {r['float_sgd_after']:.3f}")
