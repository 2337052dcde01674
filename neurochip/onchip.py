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

from .errors import ChipConstraintError, ConfigError, Violation

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
    """

    iterations: int
    batch_size: int = 16
    epochs: int = 1
    eval_every: int = 10
    eval_trials: int = 256
    seed: int = 0
    first_index: int = 0
    curve_trials: int | None = None

    def __post_init__(self) -> None:
        if self.curve_trials is not None and (isinstance(self.curve_trials, bool) or
                                              not isinstance(self.curve_trials, (int, np.integer)) or self.curve_trials < 1):
            raise ConfigError(f"on-chip curve_trials must be an integer >= 1 or None, got {self.curve_trials!r}")
        for name, lo in (("iterations", 1), ("batch_size", 1), ("epochs", 1), ("eval_every", 1), ("eval_trials", 1),
                         ("seed", 0), ("first_index", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ConfigError(f"on-chip {name} must be an integer >= {lo}, got {v!r}")

    @property
    def trials(self) -> int:
        """Training trials run on chip (iterations x batch x epochs)."""
        return int(self.iterations) * int(self.batch_size) * int(self.epochs)


def check_learnable(compiled) -> None:
    """Refuse an artifact that cannot learn on chip (no rule lowered, or a profile without learning)."""
    prof = getattr(compiled, "profile", None)
    if prof is not None and not prof.learning.supported:
        raise ChipConstraintError(Violation("learning_supported", f"chip {prof.name}", "on-chip learning", "none"),
                                  prof.name)
    if compiled.rule is None and getattr(compiled, "plasticity", None) is None:
        raise ConfigError("on-chip learning needs an artifact compiled with a learning rule "
                          "(neurochip compile --rule eprop_random | rstdp | stdp ...)")


def default_lr(compiled) -> float:
    """The on-chip rate a learning run uses when none is given: the compiled rule's chip setting (with
    its mode, `compiled_lr_mode`: plain SGD at the rule's rate unless the artifact was compiled with
    ``lr_mode='adam_equivalent'``, which is opt-in, docs/onchip_learning.md). The compiler's ``report['rule']['lr']['chip_default']`` wins when it
    provides one; otherwise the rate the rule was lowered with (``compiled.rule.lr``)."""
    check_learnable(compiled)
    if getattr(compiled, "plasticity", None) is not None:
        return float(compiled.plasticity["lr"])
    rep = (getattr(compiled, "report", None) or {}).get("rule") or {}
    lr = rep.get("lr") if isinstance(rep, dict) else None
    if isinstance(lr, dict) and lr.get("chip_default"):
        return float(lr["chip_default"])
    return float(compiled.rule.lr)


def prepare_rule(compiled, *, lr: float | None = None, rounding: str | None = None, eligibility: str | None = None,
                 batch_size: int | None = None, train: tuple[str, ...] | None = None, lr_mode: str | None = None):
    """``compiled`` with its on-chip rule lowered again at ``lr`` / ``rounding`` / ``eligibility`` /
    ``batch_size`` / ``train`` (the matrices that learn, a subset of ('w_in', 'w_rec', 'w_out')) / ``lr_mode``
    ('sgd': the chip steps -lr * grad of the batch, float SGD; 'adam_equivalent': each matrix's first update
    is scaled to an rms step of lr, Adam's first step, then SGD); None: keep the compiled choice, so without
    ``lr`` the compiled rule's chip setting (its rate and mode) is kept. An explicit ``lr`` without
    ``lr_mode`` is an SGD rate. Raises `ConfigError` for a rate that is not a finite
    number > 0, and `ConfigError` / `ChipConstraintError` (from the compiler) for a rate or batch the
    chip cannot represent for a trained matrix (its update rounds to zero, or overflows), with the numbers."""
    from dataclasses import fields as _fields

    check_learnable(compiled)
    if getattr(compiled, "plasticity", None) is not None:
        return prepare_plasticity(compiled, lr=lr, rounding=rounding, eligibility=eligibility, train=train,
                                  lr_mode=lr_mode)
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating))
                           or not math.isfinite(float(lr)) or float(lr) <= 0):
        raise ConfigError(f"on-chip lr must be a finite number > 0, got {lr!r}")
    if rounding is not None and rounding not in ("nearest", "stochastic"):
        raise ConfigError(f"on-chip rounding must be 'nearest' or 'stochastic', got {rounding!r}")
    if eligibility is not None and eligibility not in ("per_synapse", "factorised"):
        raise ConfigError(f"on-chip eligibility must be 'per_synapse' or 'factorised', got {eligibility!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ConfigError(f"on-chip batch_size must be an integer >= 1 (trials per weight application), "
                          f"got {batch_size!r}")
    names = ("w_in", "w_rec", "w_out")
    if train is not None:
        train = tuple(train)
        if not train or any(t not in names for t in train):
            raise ConfigError(f"on-chip train must name one or more of {', '.join(names)}, got {train!r}")
    from .compiler.lower_rule import LowerRuleOptions, relower
    cr = compiled.rule
    cur = tuple(n for n, f in zip(names, ("train_in", "train_rec", "train_out")) if getattr(cr, f, True))
    opt_names = {f.name for f in _fields(LowerRuleOptions)}
    has_batch = "batch" in opt_names
    cur_mode = compiled_lr_mode(compiled)
    if lr_mode is not None and lr_mode not in ("sgd", "adam_equivalent"):
        raise ConfigError(f"on-chip lr_mode must be 'sgd' or 'adam_equivalent', got {lr_mode!r}")
    if lr_mode is not None and "lr_mode" not in opt_names:
        raise ConfigError("on-chip lr_mode needs a compiler with learning-rate modes; this one steps plain SGD")
    want_mode = lr_mode or (cur_mode if lr is None else "sgd")
    same = ((lr is None or float(lr) == float(cr.lr)) and (rounding in (None, cr.rounding))
            and (want_mode == cur_mode or "lr_mode" not in opt_names)
            and (eligibility in (None, cr.eligibility))
            and (batch_size is None or not has_batch or int(batch_size) == int(getattr(cr, "batch", batch_size)))
            and (train is None or set(train) == set(cur)))
    if not same:
        from .rules import LearningRule
        prov = dict((getattr(compiled, "provenance", None) or {}).get("rule") or {})
        known = {f.name for f in _fields(LearningRule)}
        base = {k: v for k, v in prov.items() if k in known}
        base.update(name=cr.name, eligibility=eligibility or cr.eligibility, lr=float(lr or cr.lr))
        for k in ("reg_rate", "target_rate_hz", "train_in", "train_rec", "train_out", "train_bias"):
            if hasattr(cr, k) and k not in prov:
                base[k] = getattr(cr, k)
        if train is not None:
            base.update(train_in="w_in" in train, train_rec="w_rec" in train, train_out="w_out" in train)
        rule = LearningRule.from_dict(base)
        kw = dict(lr=float(lr or cr.lr), rounding=rounding or cr.rounding, eligibility=eligibility or cr.eligibility,
                  seed=cr.seed)
        if "lr_mode" in opt_names:
            kw["lr_mode"] = want_mode
        if has_batch:
            kw["batch"] = int(batch_size if batch_size is not None else getattr(cr, "batch", 32))
        compiled = relower(compiled, rule, LowerRuleOptions(**kw))
    _check_lr_codes(compiled)
    return compiled


def prepare_plasticity(compiled, *, lr=None, rounding=None, eligibility=None, train=None, lr_mode=None):
    """`prepare_rule` for an STDP-family artifact: only the rate can change (the amplitudes lr A+-, lowered
    again from the saved settings and checked representable on the engine); the e-prop choices do not
    apply and are refused by name. The engine writes weights back trial by trial, so a batch size only
    groups the training draws."""
    from .compiler.lower_stdp import lowering_from_settings
    name = compiled.plasticity["rule"]
    given = [k for k, v in (("rounding", rounding), ("eligibility", eligibility), ("train", train),
                            ("lr_mode", lr_mode)) if v is not None]
    if given:
        raise ConfigError(f"on-chip {', '.join(given)} do(es) not apply to the plasticity rule {name!r} (Loihi's "
                          f"engine on W_in, amplitudes lr A+-); only the lr can change")
    if lr is None or float(lr) == float(compiled.plasticity["lr"]):
        return compiled
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not math.isfinite(float(lr)) \
            or float(lr) <= 0:
        raise ConfigError(f"on-chip lr must be a finite number > 0, got {lr!r}")
    from .compiler.serial import jsonable
    st = {**compiled.plasticity, "lr": float(lr)}
    low = lowering_from_settings(st)           # ConfigError when lr A+- is not representable on the engine
    st = jsonable({**st, "lava": low.strings})
    rep = {**(compiled.report or {}), "plasticity": {**(compiled.report or {}).get("plasticity", {}),
                                                      "constants": jsonable(low.report), "lava": low.strings}}
    prov = dict(compiled.provenance or {})
    if isinstance(prov.get("rule"), dict):
        prov["rule"] = {**prov["rule"], "lr": float(lr)}
    return replace(compiled, plasticity=st, report=rep, provenance=prov)


def rule_info(compiled) -> dict:
    """The learning curve's description of the artifact's rule: name, lr, lr_mode, rounding, eligibility."""
    if getattr(compiled, "plasticity", None) is not None:
        return {"rule": compiled.plasticity["rule"], "lr": float(compiled.plasticity["lr"]), "lr_mode": "engine",
                "rounding": "engine", "eligibility": "engine"}
    r = compiled.rule
    return {"rule": r.name, "lr": float(r.lr), "lr_mode": compiled_lr_mode(compiled), "rounding": r.rounding,
            "eligibility": r.eligibility}


def compiled_lr_mode(compiled) -> str:
    """How the compiled rule turns its lr into steps: 'sgd' or 'adam_equivalent' (older compilers: 'sgd')."""
    rep = ((getattr(compiled, "report", None) or {}).get("rule") or {}).get("lr") or {}
    return str(rep.get("mode", "sgd")) if isinstance(rep, dict) else "sgd"


def _check_lr_codes(compiled) -> None:
    """Every trained matrix needs a nonzero gain mantissa and a right shift (>= 0)."""
    cr = compiled.rule
    if not hasattr(cr, "lr_mant"):       # the compiler checks the representable range itself
        return
    mant = np.asarray(cr.lr_mant).ravel()
    shift = np.asarray(cr.lr_shift).ravel()
    trained = (bool(cr.train_in), bool(cr.train_rec), bool(cr.train_out))
    names = ("w_in", "w_rec", "w_out")
    lr = float(cr.lr)
    rep = ((getattr(compiled, "report", None) or {}).get("rule") or {}).get("lr") or {}
    wanted = rep.get("wanted") if isinstance(rep, dict) else None
    bad_small, bad_big = [], []
    for p in range(min(3, mant.size)):
        if not trained[p]:
            continue
        if int(mant[p]) == 0 or int(shift[p]) > 62:     # a right shift past 62 bits of int64 is zero
            bad_small.append(names[p])
        elif int(shift[p]) < 0:
            bad_big.append(names[p])
    if not (bad_small or bad_big):
        return
    rng = ""
    if wanted and len(wanted) >= 3:
        # gain g_p = lr * k_p must lie in [2^-62, 1] (a right shift of at most 62 bits, no left shift)
        ks = [float(wanted[p]) / lr for p in range(3) if trained[p] and float(wanted[p]) > 0]
        if ks:
            lo, hi = max(2.0 ** -62 / k for k in ks), min(1.0 / k for k in ks)
            rng = f"; representable on {compiled.profile_name}: {lo:.3g} <= lr <= {hi:.3g}"
    which = "too small (the update gain rounds to zero for " + ", ".join(bad_small) + ")" if bad_small else \
        "too large (the update gain needs a left shift for " + ", ".join(bad_big) + ")"
    raise ConfigError(f"on-chip lr = {lr:g} is {which}{rng}")


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
    return OnchipPlan(iterations=its, batch_size=bs, epochs=epochs, eval_every=default_eval_every(its))


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

    ``test``: the held-out `Batch` (default `heldout(task, plan.eval_trials)`). The curve dict:
    ``{schema, task, profile, metric, lr, rounding, eligibility, batch_size, iterations, epochs,
    points: [{iteration, trials, heldout_<metric>, heldout_loss?, train_loss?, train_<metric>?, wall_s}],
    before, after, delta, lowered, wall_s}`` where ``trials`` counts training trials seen so far."""
    from .backends import get_backend

    check_plan(compiled, task, plan)
    be = get_backend(backend)
    test = test if test is not None else heldout(task, plan.eval_trials)
    key = _key(test)
    B, K = int(plan.batch_size), int(plan.eval_every)
    t_start = time.perf_counter()

    n_all = int(test.x.shape[0])
    n_mid = min(n_all, int(plan.curve_trials or n_all))
    sub = test if n_mid == n_all else test.__class__(x=test.x[:n_mid], target=test.target[:n_mid], loss=test.loss,
                                                         mask=test.mask[:n_mid], meta=test.meta)

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
    events = {"weight_updates": 0, "weight_clips": 0, "learning_saturations": 0}
    try:
        for ep in range(int(plan.epochs)):
            for start in range(0, int(plan.iterations), K):
                n_it = min(K, int(plan.iterations) - start)
                bs = [task.batch(B, "train", train_index(plan, start + i)) for i in range(n_it)]
                x = np.concatenate([b.x for b in bs])
                tg = {"target": np.concatenate([b.target for b in bs]), "mask": np.concatenate([b.mask for b in bs]),
                      "loss": bs[0].loss}
                # one seed per chunk: distinct stochastic-rounding streams across chunks and passes
                seed = (int(plan.seed) * 1_000_003 + ep * 100_003 + start) & 0x7FFFFFFF
                # continue the previous chunk's learning state (residual accumulators) when the backend returns one
                kw = {"state": state} if state is not None else {}
                r = be.run(c, x, learn=True, targets=tg, batch_size=B, epochs=1, seed=seed, **kw)
                state = r.meta.get("learn_state")
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
                if callback:
                    callback(pt)
                if bar is not None:
                    bar.set_postfix({f"held-out {key}": f"{m[key]:.3f}"}, refresh=False)
                    bar.update(n_it)
    finally:
        if bar is not None:
            bar.close()
    before, after = points[0][f"heldout_all_{key}"], points[-1][f"heldout_all_{key}"]
    worse = is_worse(key, before, after)
    curve = {"schema": CURVE_SCHEMA, "task": task.name, "profile": compiled.profile_name, "metric": key,
             **rule_info(c), "batch_size": B, "iterations": int(plan.iterations), "epochs": int(plan.epochs),
             "eval_every": K, "eval_trials": int(test.x.shape[0]), "seed": int(plan.seed),
             "first_index": int(plan.first_index), "points": points, "before": before, "after": after,
             "before_metrics": m0, "after_metrics": m_last,
             "delta": after - before, "lowered": bool(worse), "events": events, "wall_s": round(time.perf_counter() - t_start, 3)}
    if "before" in right and "after" in right:
        # paired standard error of the accuracy change: the same held-out decisions scored before and after
        d = right["after"] - right["before"]
        curve["delta_se"] = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
        curve["decisions"] = int(d.size)
    return OnchipResult(c, curve)


def is_worse(metric: str, before: float, after: float) -> bool:
    """True when ``after`` is a worse held-out figure than ``before`` (accuracy lower, nmse/error higher)."""
    return after < before if metric == "accuracy" else after > before


def verdict(curve: dict) -> str:
    """One line: what on-chip learning did to the held-out metric."""
    k = curve["metric"]
    b, a = curve["before"], curve["after"]
    se = curve.get("delta_se")
    noise = ""
    if se is not None and np.isfinite(se):
        # how large the change is against the held-out set's resolution (paired over the same decisions)
        if se > 0:
            noise = (f"; change {100 * (a - b):+.1f} +- {100 * se:.1f} points, the paired standard error over "
                     f"{curve.get('decisions')} held-out decisions: {abs(a - b) / se:.1f} SE")
        else:
            noise = f"; none of the {curve.get('decisions')} held-out decisions changed"
    if curve.get("lowered"):
        return (f"WARNING: on-chip learning LOWERED held-out {k} from {b:.4f} to {a:.4f} "
                f"(lr {curve['lr']:.3g}, {curve['iterations'] * curve['epochs']} updates of {curve['batch_size']} trials"
                f"{noise})")
    return f"on-chip learning: held-out {k} {b:.4f} -> {a:.4f}" + (f" ({noise[2:]})" if noise else "")


def float_curve_points(hist, batch_size: int) -> list[dict]:
    """Float training history (`neurochip.train.History`) as curve points on the same axes: validation
    draws during training and the final held-out test, with ``trials`` = iteration x batch."""
    pts = []
    for h in hist.val:
        key = "accuracy" if "accuracy" in h else "nmse"
        pts.append({"iteration": h["iteration"], "trials": h["iteration"] * batch_size, f"val_{key}": h[key]})
    for h in hist.test:
        key = "accuracy" if "accuracy" in h else "nmse"
        pts.append({"iteration": h["iteration"], "trials": h["iteration"] * batch_size, f"heldout_{key}": h[key]})
    return pts


def plot_curves(series: list[tuple[str, list[float], list[float]]], path, *, metric: str, title: str = "",
                xlabel: str = "training trials") -> None:
    """Write a PNG (atomically) with one line per (label, x, y) series."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import save_figure
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for label, x, y in series:
        ends = label.startswith("chip, all") or "held-out (" in label      # whole-set scores: markers only
        ax.plot(x, y, "o" if ends else ".-", ms=8 if ends else 5, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"held-out {metric}")
    if metric == "accuracy":
        ax.axhline(0.5, color="0.7", lw=0.8, ls=":", label="chance (2 classes)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def curve_series(curve: dict, label: str | None = None) -> tuple[str, list[float], list[float]]:
    """(label, trials, held-out metric on the curve's held-out subset) of a chip curve."""
    k = f"heldout_{curve['metric']}"
    pts = [p for p in curve["points"] if k in p]
    n = pts[0].get("heldout_trials", curve.get("eval_trials")) if pts else 0
    lab = label or f"chip ({curve['profile']}, lr {curve['lr']:.3g})"
    if n != curve.get("eval_trials"):
        lab += f", first {n} held-out trials"
    return lab, [p["trials"] for p in pts], [p[k] for p in pts]


def ends_series(curve: dict, label: str | None = None) -> tuple[str, list[float], list[float]]:
    """(label, trials, metric) of the whole-held-out-set scores at the first and last points."""
    k = f"heldout_all_{curve['metric']}"
    pts = [p for p in curve["points"] if k in p]
    return (label or f"chip, all {curve.get('eval_trials')} held-out trials", [p["trials"] for p in pts],
            [p[k] for p in pts])


def summary_points(curve: dict) -> list[dict]:
    """The curve's points without wall times (summaries must be identical between identical runs)."""
    return [{k: v for k, v in p.items() if k != "wall_s"} for p in curve["points"]]


def write_curve(d, curve: dict, stem: str = "onchip_curve", series: list | None = None, title: str = "") -> None:
    """``d/<stem>.json`` (the curve) and ``d/<stem>.png`` (held-out metric vs training trials; ``series``
    replaces the default single chip line)."""
    from pathlib import Path

    from .io import write_json
    d = Path(d)
    write_json(d / f"{stem}.json", curve)
    plot_curves(list(series) if series else [curve_series(curve), ends_series(curve)], d / f"{stem}.png",
                metric=curve["metric"],
                title=title or f"{curve['task']}: on-chip {curve['rule']} on {curve['profile']}")
