"""On-chip training loop: a compiled network learns a task with its compiled (fixed-point) rule.

``train_onchip(compiled, task, plan)`` draws a fresh training batch per iteration (batch ``i`` is
``task.batch(B, 'train', plan.first_index + i)``, like the float trainer `neurochip.train.train`),
runs it through the native backend's on-chip e-prop (``run(..., learn=True, batch_size=B)``: one
weight application per batch of B trials) and evaluates the learned integer weights every
``plan.eval_every`` iterations on a fixed held-out set ``task.batch(plan.eval_trials, 'test', 0)``
(the 'test' split has its own seed stream, so held-out trials are never trained on; the same draw as
``neurochip run|validate|bench --trials N``). Returns the learned `CompiledNetwork` and a learning
curve (plain dict, JSON-able).

The loop is a sequence of pure steps over data: `check_plan` (all bad input refused before any work),
`prepare_rule` (the on-chip learning rate / rounding / eligibility lowered and checked representable),
`train_onchip`, `plot_curves`, `write_curve`. Iterations between two evaluations run as ONE backend
call (K x B trials, weights applied every B trials); the backend's learning state (weights and the
per-synapse residual accumulators below the weight LSB, ``RunResult.meta['learn_state']``) is carried
from call to call when the backend returns one, so nothing below an LSB is dropped at an evaluation.
Chunks are seeded from ``plan.seed`` and the index of their first iteration, so a run repeats exactly.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from .errors import ConfigError
# the rule side and the curve side of a run live in their own modules; re-exported as this module's API
from .onchip_curve import (curve_series, ends_series, float_curve_points, is_worse, plot_curves,  # noqa: F401
                           summary_points, verdict, write_curve)
from .onchip_rule import (check_learnable, compiled_lr_mode, default_lr, prepare_plasticity,  # noqa: F401
                          prepare_rule, rule_info)

CURVE_SCHEMA = 1


@dataclass(frozen=True)
class OnchipPlan:
    """What to train on chip.

    iterations:   weight applications per pass (each on a fresh batch of ``batch_size`` trials)
    batch_size:   trials per weight application (B)
    epochs:       passes over the same ``iterations`` draws (1: every trial is seen once)
    eval_every:   iterations between held-out evaluations (the curve also has iteration 0 and the end)
    eval_trials:  held-out trials, ``task.batch(eval_trials, 'test', 0)``
    seed:         stochastic-rounding seed of the on-chip rule (mixed with the iteration index)
    first_index:  index of the first training draw (to continue a float run's stream on the same trials)
    curve_trials: held-out trials scored at the intermediate points (the first ones of the held-out set;
                  None: all); the first and the last point always score the whole set
    lr_decay:     step learning-rate schedule, as the float trainer's (`neurochip.train.train`): iteration
                  ``it`` learns at ``lr * lr_decay ** (it // lr_decay_every)``. The chip scales its rate by
                  powers of two (one more right shift of the batch sums per phase, `kernels.eprop_fixed`
                  ``gain_exp``), so lr_decay is 1, 1/2, 1/4, ... (1: constant rate)
    lr_decay_every: iterations per phase of the schedule
    """

    iterations: int
    batch_size: int = 16
    epochs: int = 1
    eval_every: int = 10
    eval_trials: int = 256
    seed: int = 0
    first_index: int = 0
    curve_trials: int | None = None
    lr_decay: float = 1.0
    lr_decay_every: int = 100

    def __post_init__(self) -> None:
        d = self.lr_decay
        if not is_chip_decay(d):
            raise ConfigError(f"on-chip lr_decay must be 1, 1/2, 1/4, ... (the chip scales its learning rate by "
                              f"powers of two), got {d!r}")
        if self.curve_trials is not None and (isinstance(self.curve_trials, bool) or
                                              not isinstance(self.curve_trials, (int, np.integer)) or self.curve_trials < 1):
            raise ConfigError(f"on-chip curve_trials must be an integer >= 1 or None, got {self.curve_trials!r}")
        for name, lo in (("iterations", 1), ("batch_size", 1), ("epochs", 1), ("eval_every", 1), ("eval_trials", 1),
                         ("seed", 0), ("first_index", 0), ("lr_decay_every", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ConfigError(f"on-chip {name} must be an integer >= {lo}, got {v!r}")

    @property
    def trials(self) -> int:
        """Training trials run on chip (iterations x batch x epochs)."""
        return int(self.iterations) * int(self.batch_size) * int(self.epochs)


def is_chip_decay(d) -> bool:
    """d is a learning-rate decay the chip can apply: 1, 1/2, 1/4, ... (a number, not a bool)."""
    return isinstance(d, (int, float, np.integer, np.floating)) and not isinstance(d, bool) and \
        math.isfinite(float(d)) and 0.0 < float(d) <= 1.0 and float(d) == 2.0 ** -lr_decay_shift(float(d))


def lr_decay_shift(lr_decay: float) -> int:
    """k with lr_decay = 2^-k (rounded; `OnchipPlan` refuses a decay that is not a power of two)."""
    return int(round(-math.log2(lr_decay))) if lr_decay > 0 else 0


def chunk_starts(plan: OnchipPlan, epoch: int = 0) -> list[int]:
    """First iteration (within the pass) of every backend call of pass ``epoch``: every ``eval_every``
    iterations, and at every phase change of the learning-rate schedule, which counts iterations over all
    passes as the float trainer does (a call runs at one rate)."""
    its, ev = int(plan.iterations), int(plan.lr_decay_every)
    cuts = set(range(0, its, int(plan.eval_every)))
    if lr_decay_shift(float(plan.lr_decay)) > 0:
        g0 = int(epoch) * its                    # global index of the pass's first iteration
        cuts |= {g - g0 for g in range(-(-g0 // ev) * ev, g0 + its, ev)}
    return sorted(cuts)


def scheduled_state(state, plan: OnchipPlan, it: int, phase_of_state: int):
    """The learning state for a call starting at iteration ``it`` of a pass: the batch sums' power-of-two
    gains (``gain_exp``) lowered by the schedule's shift for every phase since ``phase_of_state``. Returns
    (state, phase). A state that is None (first call) or has no gains (another backend) is returned as is.
    With ``lr_mode = 'adam_equivalent'`` a matrix's gain is set by its first batch with products; a phase
    change before that batch is overwritten by it (that matrix then starts the schedule one phase late)."""
    k = lr_decay_shift(float(plan.lr_decay))
    phase = it // int(plan.lr_decay_every) if k > 0 else 0
    if state is None or phase == phase_of_state or not hasattr(state, "gain_exp"):
        return state, phase
    # a new phase: one more right shift of k bits per phase on every matrix (exact powers of two; the
    # residual accumulators below the weight LSB carry over unchanged)
    return state._replace(gain_exp=np.asarray(state.gain_exp, np.int64) - k * (phase - phase_of_state)), phase


def check_plan(compiled, task, plan: OnchipPlan) -> None:
    """All checks that need no simulation: learnable artifact, task sizes, batch vs the accumulator."""
    check_learnable(compiled)
    if (task.n_in, task.n_out) != (compiled.n_in, compiled.n_out):
        raise ConfigError(f"task {task.name!r} has n_in={task.n_in}, n_out={task.n_out}; the artifact has "
                          f"n_in={compiled.n_in}, n_out={compiled.n_out}")
    cr = compiled.rule
    # The accumulator sums one batch of per-step products before one application; a batch larger than the
    # accumulator's headroom bits allow cannot be represented without systematic saturation.
    acc_bits = int(getattr(cr, "acc_bits", 0) or 0)
    if acc_bits and plan.batch_size > (1 << max(0, acc_bits - 1)):
        raise ConfigError(f"on-chip batch_size = {plan.batch_size} trials cannot be accumulated in the "
                          f"{acc_bits}-bit accumulator of {compiled.profile_name}: at most {1 << (acc_bits - 1)}")


def check_onchip_config(oc: dict) -> OnchipPlan:
    """Validate a config's ``[onchip]`` table (before any training starts); returns its plan (eval_trials
    and seed are placeholders the caller replaces)."""
    def _int(k, lo=1):
        v = oc.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ConfigError(f"[onchip] {k} must be an integer >= {lo}, got {v!r}")
        return int(v)
    trials, epochs, bs = _int("trials"), _int("epochs"), _int("batch_size")
    lr = oc.get("lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(float(lr))
                           or float(lr) <= 0):
        raise ConfigError(f"[onchip] lr must be a finite number > 0 (or absent: the compiled rule's chip rate), "
                          f"got {lr!r}")
    if oc.get("eligibility") not in (None, "per_synapse", "factorised"):
        raise ConfigError(f"[onchip] eligibility must be 'per_synapse' or 'factorised', got {oc.get('eligibility')!r}")
    if oc.get("rounding") not in (None, "nearest", "stochastic"):
        raise ConfigError(f"[onchip] rounding must be 'nearest' or 'stochastic', got {oc.get('rounding')!r}")
    its = -(-trials // bs)
    return OnchipPlan(iterations=its, batch_size=bs, epochs=epochs, eval_every=default_eval_every(its),
                      lr_decay=oc.get("lr_decay", 1.0), lr_decay_every=oc.get("lr_decay_every", 100))


def default_curve_trials(eval_trials: int) -> int:
    """Held-out trials scored at intermediate curve points: at most 64 (the ends score the whole set)."""
    return min(int(eval_trials), 64)


def default_eval_every(iterations: int) -> int:
    """About 4 held-out evaluations per pass (at least every iteration for short runs)."""
    return max(1, -(-int(iterations) // 4))


def check_output_dir(path, force: bool = False) -> None:
    """Refuse an occupied output directory up front (the same rule `io.staged_output_dir` applies at the end)."""
    from pathlib import Path

    from .errors import ArtifactError
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ArtifactError(f"output path {p} exists and is not a directory")
    if p.is_dir() and any(p.iterdir()) and not force:
        raise ArtifactError(f"output directory {p} exists and is not empty; choose another -o or pass --force "
                            "to replace it whole")


def heldout(task, n: int):
    """The held-out set: ``task.batch(n, 'test', 0)`` (the 'test' split never feeds training)."""
    return task.batch(int(n), "test", 0)


def curve_subset(test, plan: OnchipPlan):
    """The held-out trials scored at a curve's intermediate points: the first ``plan.curve_trials`` of ``test``
    (all of it when None or larger)."""
    n_all = int(test.x.shape[0])
    n = min(n_all, int(plan.curve_trials or n_all))
    return test if n == n_all else test.__class__(x=test.x[:n], target=test.target[:n], loss=test.loss,
                                                  mask=test.mask[:n], meta=test.meta)


def train_index(plan: OnchipPlan, it: int) -> int:
    """Draw index of training iteration ``it`` (0-based within a pass)."""
    return int(plan.first_index) + int(it)


def chip_metrics(outputs, batch) -> dict[str, float]:
    from .learning.losses import task_metrics
    return task_metrics(outputs, batch.target, batch.mask, batch.loss)


def _key(batch) -> str:
    return "accuracy" if batch.loss == "ce" else "nmse"


def with_weights(compiled, weights: dict):
    """``compiled`` with a learning run's weights (integer mantissas; ``b_out`` float when it learns)."""
    kw = {k: np.asarray(v.toarray() if hasattr(v, "toarray") else v) for k, v in weights.items()
          if k in ("w_in", "w_rec", "w_out", "b_out")}
    if "w_rec" in kw and hasattr(compiled.w_rec, "toarray"):
        kw["w_rec"] = weights["w_rec"]
    return replace(compiled, **kw)


@dataclass(frozen=True)
class OnchipResult:
    """compiled: the network with its learned weights; curve: the learning curve (see `train_onchip`)."""

    compiled: Any
    curve: dict


def train_onchip(compiled, task, plan: OnchipPlan, *, backend: str = "native", progress: bool = True,
                 test=None, callback: Callable[[dict], None] | None = None) -> OnchipResult:
    """Train ``compiled`` on ``task`` with its compiled on-chip rule (see the module docstring).

    ``test``: the held-out `Batch` (default `heldout(task, plan.eval_trials)`). ``callback(point)`` is called
    with every curve point; a True return before the last chunk ends training there (e.g. at a matched
    training loss: the curve then says ``stopped_early``). The curve dict:
    ``{schema, task, profile, metric, lr, rounding, eligibility, batch_size, iterations, epochs,
    points: [{iteration, trials, heldout_<metric>, heldout_loss?, train_loss?, train_<metric>?, wall_s}],
    before, after, delta, lowered, wall_s}`` where ``trials`` counts training trials seen so far."""
    from .backends import get_backend

    check_plan(compiled, task, plan)
    if plan.lr_decay != 1 and backend != "native":
        raise ConfigError(f"on-chip lr_decay = {plan.lr_decay} needs the native backend (it lowers the rate of "
                          f"the learning state it carries between calls); backend {backend!r} has none")
    be = get_backend(backend)
    test = test if test is not None else heldout(task, plan.eval_trials)
    key = _key(test)
    B, K = int(plan.batch_size), int(plan.eval_every)
    t_start = time.perf_counter()

    n_all = int(test.x.shape[0])
    sub = curve_subset(test, plan)
    n_mid = int(sub.x.shape[0])

    right = {}                                   # whole-set per-decision correctness, before / after ('ce')

    def evaluate(c, b=test, tag=None) -> dict:
        r = be.run(c, b.x)
        if tag is not None and b.loss == "ce":
            from .learning.losses import decisions
            p_, t_ = decisions(np.asarray(r.outputs), np.asarray(b.target), np.asarray(b.mask, bool))
            right[tag] = (p_ == t_).astype(np.float64)
        return chip_metrics(r.outputs, b)

    m0 = evaluate(compiled, tag="before")
    s0 = m0 if n_mid == n_all else evaluate(compiled, sub)
    m_last = m0
    # every point scores the same n_mid held-out trials (a consistent curve); the first and the last point
    # also score the whole held-out set (heldout_all_<metric>, the run's before / after figures)
    points = [{"iteration": 0, "trials": 0, f"heldout_{key}": s0[key], "heldout_trials": n_mid,
               f"heldout_all_{key}": m0[key], "wall_s": 0.0}]
    if callback:
        callback(points[-1])
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=plan.iterations * plan.epochs, desc=f"on-chip {task.name} ({compiled.profile_name})",
                   unit="it", leave=True, dynamic_ncols=True)
    c = compiled
    done = 0
    state = None
    phase = 0                                    # lr schedule phase of `state` (see scheduled_state)
    events = {"weight_updates": 0, "weight_clips": 0, "learning_saturations": 0}
    kernel = None                                # the learning kernel's source digest (provenance)
    stopped = False
    try:
        for ep in range(int(plan.epochs)):
            if stopped:
                break
            starts = chunk_starts(plan, ep)
            for ci, start in enumerate(starts):
                n_it = (starts[ci + 1] if ci + 1 < len(starts) else int(plan.iterations)) - start
                bs = [task.batch(B, "train", train_index(plan, start + i)) for i in range(n_it)]
                x = np.concatenate([b.x for b in bs])
                tg = {"target": np.concatenate([b.target for b in bs]), "mask": np.concatenate([b.mask for b in bs]),
                      "loss": bs[0].loss}
                # one seed per chunk: distinct stochastic-rounding streams across chunks and passes
                seed = (int(plan.seed) * 1_000_003 + ep * 100_003 + start) & 0x7FFFFFFF
                # continue the previous chunk's learning state (residual accumulators) when the backend returns one
                state, phase = scheduled_state(state, plan, ep * int(plan.iterations) + start, phase)
                kw = {"state": state} if state is not None else {}
                r = be.run(c, x, learn=True, targets=tg, batch_size=B, epochs=1, seed=seed, **kw)
                state = r.meta.get("learn_state")
                kernel = r.meta.get("kernel_digest", kernel)
                c = with_weights(c, r.weights)
                events["weight_updates"] += int(r.counts.weight_updates)
                events["weight_clips"] += int(r.meta.get("weight_clips", 0) or 0)
                events["learning_saturations"] += int(r.meta.get("learning_saturations", 0) or 0)
                done += n_it
                tr = chip_metrics(r.outputs, bs[0].__class__(x=x, target=tg["target"], loss=tg["loss"],
                                                             mask=tg["mask"]))
                hist = (r.meta.get("epochs") or [{}])[-1]
                last = ep == int(plan.epochs) - 1 and start + n_it == int(plan.iterations)
                m = evaluate(c, sub, tag="after" if (last and n_mid == n_all) else None)
                pt = {"iteration": done, "trials": done * B, f"heldout_{key}": m[key], "heldout_trials": n_mid,
                      f"train_{key}": tr[key], "wall_s": round(time.perf_counter() - t_start, 3)}
                if "loss" in hist:
                    pt["train_loss"] = float(hist["loss"])
                if last:
                    m_last = m if n_mid == n_all else evaluate(c, tag="after")
                    pt[f"heldout_all_{key}"] = m_last[key]
                points.append(pt)
                if bar is not None:
                    bar.set_postfix({f"held-out {key}": f"{m[key]:.3f}"}, refresh=False)
                    bar.update(n_it)
                if callback and callback(pt) and not last:
                    stopped = True
                    break
    finally:
        if bar is not None:
            bar.close()
    if stopped:                 # the whole held-out set, scored after the early end (the run's "after")
        m_last = evaluate(c, tag="after")
        points[-1][f"heldout_all_{key}"] = m_last[key]
    before, after = points[0][f"heldout_all_{key}"], points[-1][f"heldout_all_{key}"]
    worse = is_worse(key, before, after)
    curve = {"schema": CURVE_SCHEMA, "task": task.name, "profile": compiled.profile_name, "metric": key,
             **rule_info(c), "batch_size": B, "iterations": int(plan.iterations), "epochs": int(plan.epochs),
             "lr_decay": float(plan.lr_decay), "lr_decay_every": int(plan.lr_decay_every),
             "eval_every": K, "eval_trials": int(test.x.shape[0]), "seed": int(plan.seed),
             "first_index": int(plan.first_index), "points": points, "before": before, "after": after,
             "before_metrics": m0, "after_metrics": m_last,
             "delta": after - before, "lowered": bool(worse), "events": events, "stopped_early": stopped,
             "kernel_digest": kernel, "wall_s": round(time.perf_counter() - t_start, 3)}
    if "before" in right and "after" in right:
        # paired standard error of the accuracy change: the same held-out decisions scored before and after
        d = right["after"] - right["before"]
        curve["delta_se"] = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
        curve["decisions"] = int(d.size)
    return OnchipResult(c, curve)
