"""Float e-prop continued on an on-chip run's own trials: the reference an on-chip learning curve is read
against ("does the chip learn as well as float e-prop would have, from the same weights, on the same data?").

The float side starts from the chip's weights dequantised (mantissa x LSB, `neurochip.validate.dequantize`),
so a difference between the two curves is the chip's arithmetic, not the compile's rounding; it runs the
compiled rule as plain SGD at the chip's rate (`neurochip.validate._float_rule`: the rule, feedback,
regulariser and trained matrices exactly as lowered), on the mini-batches `neurochip.onchip.train_onchip`
draws for the same `OnchipPlan` (``task.batch(B, 'train', plan.first_index + i)``, ``plan.epochs`` passes),
and is scored on the same held-out trials at the same points (the first ``plan.curve_trials`` along the
curve, the whole set at both ends).
"""
from __future__ import annotations

from typing import Any


def float_continuation(compiled, task, plan, test) -> dict[str, Any]:
    """Float SGD of ``compiled``'s rule from its dequantised weights over ``plan``'s trials.

    compiled: a `CompiledNetwork` with a learning rule and its float network; task: the task it learns;
    plan: the `OnchipPlan` of the chip run; test: the held-out `Batch` the chip run was scored on.
    Returns ``{metric, lr, start, eval_trials, points: [{iteration, trials, heldout_<metric>, heldout_trials,
    heldout_all_<metric>?}], before, after, delta}``, points at the chip curve's iterations.

    Each float step is converted to the chip's as validate does (`neurochip.validate._chip_step_gain`: 1 for
    today's lowerings). Raises `ConfigError` for a rule lowered with ``lr_mode='adam_equivalent'``: its per-matrix
    gains are set by the chip's first batch at run time, so there is no float step to mirror before the run."""
    from .backend_contract import float_network
    from .errors import ConfigError
    from .learning.gradients import weight_change
    from .learning.optim import step_decay_lr
    from .onchip import chip_metrics, chunk_starts, curve_subset, train_index
    from .onchip_rule import compiled_lr_mode
    from .simulate import simulate
    from .validate import _chip_step_gain, _float_rule, dequantize

    if compiled_lr_mode(compiled) != "sgd":
        raise ConfigError(f"float continuation mirrors plain SGD on chip; this rule steps in lr_mode "
                          f"{compiled_lr_mode(compiled)!r} (recompile with lr_mode 'sgd')")
    rule = _float_rule(compiled)
    lr = float(rule.lr)
    net = float_network(compiled)
    net = net.with_weights(**{n: dequantize(compiled, n, getattr(compiled, n)) for n in ("w_in", "w_rec", "w_out")})
    key = "accuracy" if test.loss == "ce" else "nmse"
    n_all = int(test.x.shape[0])
    sub = curve_subset(test, plan)
    n_mid = int(sub.x.shape[0])

    def score(n, b) -> float:
        return float(chip_metrics(simulate(n, b.x).out, b)[key])

    before = score(net, test)
    points = [{"iteration": 0, "trials": 0, f"heldout_{key}": before if n_mid == n_all else score(net, sub),
               "heldout_trials": n_mid, f"heldout_all_{key}": before}]
    B, its = int(plan.batch_size), int(plan.iterations)
    done = 0
    for ep in range(int(plan.epochs)):
        ends = set(chunk_starts(plan, ep)[1:]) | {its}     # the chip curve's points (its calls' ends)
        for it in range(its):
            mb = task.batch(B, "train", train_index(plan, it))
            # the chip's step schedule (OnchipPlan.lr_decay), counted over passes as the chip counts it
            lr_it = step_decay_lr(lr, ep * its + it, plan.lr_decay, plan.lr_decay_every)
            g = weight_change(net, rule, mb, lr=lr_it * _chip_step_gain(compiled, mb))
            net = net.with_weights(w_in=net.w_in + g.w_in, w_rec=net.w_rec + g.w_rec, w_out=net.w_out + g.w_out,
                                   b_out=net.b_out + g.b_out)
            done += 1
            # the chip curve's points: every eval_every iterations within a pass, at each phase change of the
            # schedule, and the end of each pass
            if it + 1 in ends:
                pt = {"iteration": done, "trials": done * B, f"heldout_{key}": score(net, sub), "heldout_trials": n_mid}
                if ep == int(plan.epochs) - 1 and it + 1 == its:
                    pt[f"heldout_all_{key}"] = pt[f"heldout_{key}"] if n_mid == n_all else score(net, test)
                points.append(pt)
    after = points[-1][f"heldout_all_{key}"]
    return {"metric": key, "lr": lr, "start": "chip weights (dequantised)", "eval_trials": n_all, "points": points,
            "before": before, "after": after, "delta": after - before}


def continuation_series(fc: dict, offset: int = 0) -> list[tuple[str, list[float], list[float]]]:
    """Plot series (label, trials + offset, metric) of a `float_continuation` result: its curve on the held-out
    subset and its whole-set ends."""
    k, ka = f"heldout_{fc['metric']}", f"heldout_all_{fc['metric']}"
    n = fc["points"][0]["heldout_trials"]
    lab = f"float e-prop continued (SGD lr {fc['lr']:g}, same trials, from the chip's weights)"
    ends = [p for p in fc["points"] if ka in p]
    return [(lab + ("" if n == fc["eval_trials"] else f", first {n} held-out trials"),
             [offset + p["trials"] for p in fc["points"]], [p[k] for p in fc["points"]]),
            ("float continued, all held-out trials", [offset + p["trials"] for p in ends], [p[ka] for p in ends])]
