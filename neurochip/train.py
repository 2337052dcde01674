"""Training loop of the float reference, and `train_from_config` (used by `neurochip train` / `demo`).

``train(net, rule, task, iterations, batch_size, seed)`` draws training batch ``i`` as
``task.batch(batch_size, 'train', index=seed * 10**6 + i)`` (so a training seed picks its own data
stream) and evaluates on the task's fixed held-out draws ``task.batch(batch_size, 'test', index=k)``,
k < eval_batches (the same for every training seed, so runs are comparable).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable

import numpy as np

from . import rulebook
from .errors import ConfigError, InvalidNetworkError
from .learning import OptState, apply_update, grads, loss_terms, task_metrics
from .learning.optim import step_decay_lr
from .network import Network, NeuronParams, init_network
from .rules import LearningRule
from .simulate import simulate


@dataclass
class History:
    """Per-iteration training record, periodic validation and the final held-out test.

    train: lists keyed by metric ('loss', 'reg_loss', 'rate_hz', 'accuracy'/'error' or 'nmse'),
    one entry per iteration; val: {'iteration', metric: value} dicts of the periodic validations on
    fresh 'val' draws (these drive early stopping); test: the same on the fixed held-out test set
    (never used for a decision), evaluated at the end; train_set: the same on the finite training set
    (only with ``train_set_size``); seconds: wall time; rule_state: the rule's carried state after the last
    update (``RuleSpec.carried``: the synthetic-gradient module of eprop_sg / bptt_sg), None for other rules
    (not in `to_dict`: saved by the rule's own ``carried.save``).
    """

    train: dict[str, list[float]] = field(default_factory=dict)
    val: list[dict[str, float]] = field(default_factory=list)
    test: list[dict[str, float]] = field(default_factory=list)
    train_set: list[dict[str, float]] = field(default_factory=list)
    iterations: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    rule_state: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"train": self.train, "val": self.val, "test": self.test, "train_set": self.train_set,
                "iterations": self.iterations,
                "stopped_early": self.stopped_early, "seconds": self.seconds}


def evaluate(net: Network, task, batch_size: int, n_batches: int = 4, rule: LearningRule | None = None, *,
             split: str = "test", first: int = 0) -> dict[str, float]:
    """Mean loss and task metric over the draws split/first .. split/first+n_batches-1
    (default: the fixed held-out test set test/0 .. test/n_batches-1)."""
    return evaluate_batches(net, (task.batch(batch_size, split, k) for k in range(first, first + n_batches)), rule)


def evaluate_batches(net: Network, batches, rule: LearningRule | None = None) -> dict[str, float]:
    """Mean over ``batches`` (an iterable of `Batch`) of the loss, rate and task metrics of ``net``
    (each batch weighs the same: pass equal-sized batches for a per-trial mean)."""
    rule = rule or LearningRule("bptt", reg_rate=0.0)
    acc: dict[str, list[float]] = {}
    for b in batches:
        tr = simulate(net, b.x)
        loss, _, _, _, rates = loss_terms(net, rule, b, tr)
        m = {"loss": loss, "rate_hz": float(rates.mean())}
        m.update(task_metrics(tr.out, b.target, b.mask, b.loss))
        for key, v in m.items():
            acc.setdefault(key, []).append(v)
    return {k: float(np.mean(v)) for k, v in acc.items()}


def _score(m: dict[str, float]) -> float:
    """The early-stopping figure: classification error ('ce') or normalised MSE ('mse')."""
    return m["error"] if "error" in m else m["nmse"]


def train(net: Network, rule: LearningRule, task, iterations: int, batch_size: int, seed: int = 0,
          progress: bool = True, callback: Callable[[int, Network, dict], bool | None] | None = None, *,
          eval_every: int = 50, val_batches: int = 1, eval_batches: int = 4, early_stop: float | None = None,
          confirm_batches: int = 8, lr_decay: float = 1.0, lr_decay_every: int = 100,
          train_set_size: int | None = None, stop_loss: float | None = None,
          rule_state: Any = None) -> tuple[Network, History]:
    """Train ``net`` with ``rule`` on ``task`` for up to ``iterations`` updates of ``batch_size`` trials.

    Every ``eval_every`` iterations the network is validated on ``val_batches`` fresh draws of the
    'val' split. Early stopping (the reference code's protocol): when ``early_stop`` is set and the
    validation error ('ce') or nmse ('mse') is below it, ``confirm_batches`` further fresh 'val'
    batches are drawn and training stops if their mean is below it too. At the end the network is
    tested on the fixed held-out set test/0 .. test/eval_batches-1, which no decision has seen.
    Learning-rate schedule: update ``it`` (0-based) uses ``rule.lr * lr_decay ** (it // lr_decay_every)``
    (lr_decay = 1: constant rate).
    ``callback(iteration, net, metrics)`` runs after each update; a true return value stops
    training. Returns (trained network, History).

    ``train_set_size`` = M: train on a finite set of M fixed 'train' trials revisited in shuffled epochs
    (`neurochip.tasks.finite`) instead of a fresh draw per iteration; the History then also holds
    ``train_set``: the final metrics on those M trials, so test - train_set is the generalization gap
    (Liu et al. 2022). None (default): a fresh draw every iteration, as before.
    ``stop_loss``: stop once the mean task loss of the last epoch's minibatches (the last ceil(M / batch)
    updates with a finite set, else the last 10) is below it - training to a matched training loss, so
    that rules are compared at the same fit rather than after the same time (Liu et al. 2022).
    Rules with carried state (``RuleSpec.carried``: eprop_sg / bptt_sg carry their synthetic-gradient
    module): each update is ``carried.step`` with the state, which learns online alongside the network;
    ``rule_state`` is the starting state (None: ``carried.init``, a zero module) and ``History.rule_state``
    the final one. Other rules: ``rule_state`` must be None.
    """
    if not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise InvalidNetworkError(f"iterations must be an integer >= 0, got {iterations!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidNetworkError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if (net.n_in, net.n_out) != (task.n_in, task.n_out):
        raise InvalidNetworkError(f"network has n_in={net.n_in}, n_out={net.n_out} but task '{task.name}' needs "
                                  f"n_in={task.n_in}, n_out={task.n_out}")
    if eval_every < 1 or eval_batches < 1 or val_batches < 1 or confirm_batches < 0:
        raise InvalidNetworkError(f"eval_every, val_batches, eval_batches must be >= 1 and confirm_batches >= 0, got "
                                  f"{eval_every}, {val_batches}, {eval_batches}, {confirm_batches}")
    _check_schedule(lr_decay, lr_decay_every, InvalidNetworkError)
    carried = rulebook.get(rule.name).carried
    if carried is None and rule_state is not None:
        raise InvalidNetworkError(f"rule {rule.name!r} carries no state; rule_state must be None")
    state = (carried.init(net, rule) if rule_state is None else rule_state) if carried is not None else None
    fset = None
    if train_set_size is not None:
        from .tasks.finite import finite_set
        fset = finite_set(task, train_set_size, seed)
    if stop_loss is not None and (isinstance(stop_loss, bool) or not isinstance(stop_loss, (int, float))
                                  or not math.isfinite(stop_loss) or stop_loss <= 0):
        raise InvalidNetworkError(f"stop_loss must be a finite number > 0 (task loss), got {stop_loss!r}")
    window = max(1, -(-fset.size // int(batch_size))) if fset is not None else 10
    hist = History()
    st = OptState()
    t0 = time.perf_counter()
    n_val = 0  # fresh validation draws used so far (index into the 'val' split of this seed)
    val_base = int(seed) * 10**6
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=iterations, desc=f"train {task.name}/{rule.name}", unit="it", leave=True)
    try:
        for it in range(iterations):
            b = fset.minibatch(it, batch_size) if fset is not None else task.batch(batch_size, "train",
                                                                                   int(seed) * 10**6 + it)
            if carried is not None:
                g, loss, m, state = carried.step(net, rule, b, state)
            else:
                g, loss, m = grads(net, rule, b)
            if not math.isfinite(loss):
                raise InvalidNetworkError(f"training diverged at iteration {it}: loss = {loss} (lower lr={rule.lr})")
            net = apply_update(net, rule, g, st, step_decay_lr(rule.lr, it, lr_decay, lr_decay_every))
            for k, v in m.items():
                hist.train.setdefault(k, []).append(float(v))
            hist.iterations = it + 1
            stop = bool(callback(it, net, m)) if callback else False
            if stop_loss is not None and it + 1 >= window and \
                    float(np.mean(hist.train["loss"][-window:])) < float(stop_loss):
                hist.stopped_early = True
                stop = True
            if (it + 1) % eval_every == 0 or it + 1 == iterations:
                em = evaluate(net, task, batch_size, val_batches, rule, split="val", first=val_base + n_val)
                n_val += val_batches
                hist.val.append({"iteration": it + 1, **em})
                if early_stop is not None and _score(em) < early_stop:
                    ok = True
                    if confirm_batches:
                        cm = evaluate(net, task, batch_size, confirm_batches, rule, split="val", first=val_base + n_val)
                        n_val += confirm_batches
                        hist.val[-1]["confirm"] = _score(cm)
                        ok = _score(cm) < early_stop
                    if ok:
                        hist.stopped_early = True
                        stop = True
            if bar is not None:
                post = {"loss": f"{loss:.3g}"}
                if "error" in m:
                    post["acc"] = f"{m['accuracy']:.2f}"
                else:
                    post["nmse"] = f"{m['nmse']:.3g}"
                if hist.val:
                    post["val"] = f"{_score(hist.val[-1]):.3g}"
                bar.set_postfix(post, refresh=False)
                bar.update(1)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    hist.rule_state = state
    hist.test.append({"iteration": hist.iterations, **evaluate(net, task, batch_size, eval_batches, rule)})
    if fset is not None:
        hist.train_set.append({"iteration": hist.iterations, "trials": fset.size,
                               **evaluate_batches(net, fset.chunks(batch_size), rule)})
    hist.seconds = time.perf_counter() - t0
    return net, hist


def _check_schedule(lr_decay, lr_decay_every, err=ConfigError) -> None:
    """lr_decay must be a number in (0, 1] and lr_decay_every an integer >= 1 (raises ``err``)."""
    if isinstance(lr_decay, bool) or not isinstance(lr_decay, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(lr_decay)) or not (0.0 < float(lr_decay) <= 1.0):
        raise err(f"train.lr_decay must be a number in (0, 1] (1 = constant learning rate), got {lr_decay!r}")
    if isinstance(lr_decay_every, bool) or not isinstance(lr_decay_every, (int, np.integer)) or lr_decay_every < 1:
        raise err(f"train.lr_decay_every must be an integer >= 1 (iterations), got {lr_decay_every!r}")


# --- configuration --------------------------------------------------------------------------------
# Reference settings per task (eprop_spec 1.6). Sections: task, network, rule, train.
TASK_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "evidence": {
        "network": {"n_rec": 100, "kind": "alif", "adaptive_fraction": 0.5, "tau_m": 20.0, "tau_a": 2000.0, "tau_out": 20.0,
                    "v_th": 0.6, "n_ref": 5, "feedback_scale": "unit", "w_out_init": "glorot"},
        "rule": {"name": "eprop_random", "lr": 5e-3, "optimizer": "adam", "reg_rate": 1.0, "target_rate_hz": 10.0,
                 "train_bias": False},  # the reference readout has no bias
        # validate on one fresh batch every 10 iterations; stop when < 7 % and 8 more batches agree (S1)
        # held-out test: 16 x 32 = 512 fixed trials (a 128-trial set drawn 43 % hard 4:3 trials vs ~30 %)
        "train": {"iterations": 800, "batch_size": 32, "early_stop": 0.07, "eval_every": 10, "val_batches": 1,
                  "confirm_batches": 8, "eval_batches": 16},
    },
    "pattern": {
        # LightLIF convention of the S1 tutorial: scaled input, v_th 0.03, tau 30 ms, no refractoriness;
        # its loss (1/2) 300 sum (f - f0)^2 is reg_rate 150 in our unhalved form.
        "network": {"n_rec": 100, "kind": "lif", "tau_m": 30.0, "tau_out": 30.0, "v_th": 0.03, "n_ref": 1,
                    "scaled_input": True, "feedback_scale": "sqrt_n", "w_out_init": "normal"},
        # Optimiser: Adam 3e-3 for 1000 iterations instead of the tutorial's plain SGD 1e-4 for 2000 (same
        # fixed point, reached in fewer updates; set optimizer='sgd', lr=1e-4 for the original).
        "rule": {"name": "eprop_random", "lr": 3e-3, "optimizer": "adam", "reg_rate": 150.0, "target_rate_hz": 10.0},
        "train": {"iterations": 1000, "batch_size": 1, "early_stop": None, "eval_every": 100, "eval_batches": 1,
                  "confirm_batches": 0},
    },
    "store_recall": {
        "network": {"n_rec": 100, "kind": "alif", "adaptive_fraction": 0.4, "tau_m": 20.0, "tau_a": 1200.0, "tau_out": 20.0,
                    "v_th": 0.6, "n_ref": 5, "feedback_scale": "unit", "w_out_init": "glorot"},
        "rule": {"name": "eprop_random", "lr": 2e-3, "optimizer": "adam", "reg_rate": 1.0, "target_rate_hz": 10.0,
                 "train_bias": False},
        "train": {"iterations": 400, "batch_size": 32, "early_stop": 0.05, "eval_every": 10, "val_batches": 1,
                  "confirm_batches": 8, "eval_batches": 16},
    },
}

_NET_INIT_KEYS = ("n_rec", "n_adaptive", "adaptive_fraction", "beta", "p_rec", "feedback_scale", "w_out_init", "seed")
_TRAIN_KEYS = ("iterations", "batch_size", "seed", "early_stop", "eval_every", "val_batches", "confirm_batches",
               "eval_batches", "progress", "lr_decay", "lr_decay_every", "train_set_size", "stop_loss")


def resolve_config(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fill a partial config ({'task': {'name': ...}, 'network': ..., 'rule': ..., 'train': ...})
    with the task's reference defaults; raises ConfigError on unknown sections or keys."""
    unknown = set(cfg) - {"task", "network", "rule", "train"}
    if unknown:
        raise ConfigError(f"unknown config section(s) {sorted(unknown)}; known: task, network, rule, train")
    task = dict(cfg.get("task", {}))
    name = task.get("name", "evidence")
    if name not in TASK_DEFAULTS:
        raise ConfigError(f"task.name = {name!r}: unknown task; known: {', '.join(TASK_DEFAULTS)}")
    d = TASK_DEFAULTS[name]
    out = {"task": {**task, "name": name}}
    for sec in ("network", "rule", "train"):
        out[sec] = {**d[sec], **{k: v for k, v in dict(cfg.get(sec, {})).items() if v is not None or sec == "train"}}
    neuron_keys = {f.name for f in fields(NeuronParams)}
    bad = set(out["network"]) - neuron_keys - set(_NET_INIT_KEYS) - {"layers"}
    if bad:
        raise ConfigError(f"unknown network option(s) {sorted(bad)}; known: {sorted(neuron_keys | set(_NET_INIT_KEYS) | {'layers'})}")
    bad = set(out["rule"]) - {f.name for f in fields(LearningRule)}
    if bad:
        raise ConfigError(f"unknown rule option(s) {sorted(bad)}; known: {sorted(f.name for f in fields(LearningRule))}")
    bad = set(out["train"]) - set(_TRAIN_KEYS)
    if bad:
        raise ConfigError(f"unknown train option(s) {sorted(bad)}; known: {sorted(_TRAIN_KEYS)}")
    for k, dflt in (("lr_decay", 1.0), ("lr_decay_every", 100)):  # None = the default (constant rate)
        if out["train"].get(k, None) is None:
            out["train"][k] = dflt
    _check_schedule(out["train"]["lr_decay"], out["train"]["lr_decay_every"])
    if out["network"].get("kind") == "lif":
        out["network"].pop("n_adaptive", None)
        out["network"].pop("adaptive_fraction", None)
    return out


def build(cfg: dict[str, Any]):
    """(task, network, rule, train options) from a resolved config."""
    from .tasks import get_task
    c = resolve_config(cfg)
    tk = {k: v for k, v in c["task"].items() if k != "name"}
    tr = dict(c["train"])
    seed = int(tr.get("seed", 0))
    task = get_task(c["task"]["name"], **tk)
    net_cfg = dict(c["network"])
    params = NeuronParams(**{k: v for k, v in net_cfg.items() if k in {f.name for f in fields(NeuronParams)}})
    init = {k: v for k, v in net_cfg.items() if k in _NET_INIT_KEYS}
    init.setdefault("seed", seed)
    layers = net_cfg.get("layers")
    if layers is not None:
        # a stack of recurrent populations (neurochip.layers): n_rec is their sum; adaptation per layer
        from .layers import check_sizes
        sizes = check_sizes(layers)
        if "n_rec" in cfg.get("network", {}) and int(cfg["network"]["n_rec"]) != sum(sizes):
            raise ConfigError(f"network.layers = {sizes} sum to {sum(sizes)} neurons, but network.n_rec = "
                              f"{cfg['network']['n_rec']}; give one of them")
        init["n_rec"] = sum(sizes)
    n_rec = init.pop("n_rec")
    frac = init.pop("adaptive_fraction", None)
    if params.kind == "alif" and "n_adaptive" not in init and frac is not None:
        if not (0.0 <= float(frac) <= 1.0):
            raise ConfigError(f"network.adaptive_fraction must be in [0, 1], got {frac!r}")
        init["n_adaptive"] = int(round(float(frac) * int(n_rec)))
    net = init_network(task.n_in, int(n_rec), task.n_out, params, **init)
    if layers is not None:
        from .layers import stack_layers
        net = stack_layers(net, sizes, adaptive_fraction=frac if params.kind == "alif" and frac is not None else None)
    rule = LearningRule.from_dict(c["rule"])
    return task, net, rule, tr, c


def train_from_config(cfg: dict[str, Any], progress: bool = True,
                      callback: Callable[[int, Network, dict], bool | None] | None = None
                      ) -> tuple[Network, History, dict[str, Any]]:
    """Build task, network and rule from ``cfg`` (see `resolve_config`), train, evaluate.

    Returns (trained net, History, metrics) where metrics holds the resolved config, final train and
    held-out figures, iterations, wall time and ms per training sample (JSON-able)."""
    task, net, rule, tr, c = build(cfg)
    net, hist = train(net, rule, task, int(tr["iterations"]), int(tr["batch_size"]), int(tr.get("seed", 0)),
                      progress=tr.get("progress", progress), callback=callback,
                      eval_every=int(tr.get("eval_every", 50)), val_batches=int(tr.get("val_batches", 1)),
                      eval_batches=int(tr.get("eval_batches", 4)), early_stop=tr.get("early_stop"),
                      confirm_batches=int(tr.get("confirm_batches", 8)), lr_decay=float(tr.get("lr_decay", 1.0)),
                      lr_decay_every=int(tr.get("lr_decay_every", 100)),
                      train_set_size=tr.get("train_set_size"), stop_loss=tr.get("stop_loss"))
    final_test = {k: v for k, v in hist.test[-1].items() if k != "iteration"}
    last = {k: v[-1] for k, v in hist.train.items()} if hist.train else {}
    n_samples = max(1, hist.iterations * int(tr["batch_size"]))
    metrics = {"config": c, "task": task.name, "rule": rule.name, "iterations": hist.iterations,
               "stopped_early": hist.stopped_early, "seconds": hist.seconds,
               "ms_per_sample": 1e3 * hist.seconds / n_samples, "train_last": last, "test": final_test,
               "val_history": hist.val}
    carried = rulebook.get(rule.name).carried
    if carried is not None:       # the rule's extra learnt state (synthetic-gradient module): its artifact name
        metrics["rule_state_artifact"] = carried.artifact
    if hist.train_set:
        ts = {k: v for k, v in hist.train_set[-1].items() if k != "iteration"}
        metrics["train_set"] = ts
        metrics["gap"] = {k: final_test[k] - ts[k] for k in ("loss", "error", "nmse") if k in ts and k in final_test}
    return net, hist, metrics


def plot_learning_curve(hist: History, path, title: str = "") -> None:
    """Write the learning curve (train loss per iteration, held-out metric) as a PNG, atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .io import save_figure
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    loss = hist.train.get("loss", [])
    ax[0].plot(np.arange(1, len(loss) + 1), loss, lw=0.8, label="train loss")
    ax[0].set_xlabel("iteration"); ax[0].set_ylabel("loss"); ax[0].set_yscale("log"); ax[0].legend()
    key = "error" if hist.test and "error" in hist.test[0] else "nmse"
    if key in hist.train:
        ax[1].plot(np.arange(1, len(hist.train[key]) + 1), hist.train[key], lw=0.6, alpha=0.6, label=f"train {key}")
    if hist.val:
        ax[1].plot([h["iteration"] for h in hist.val], [h[key] for h in hist.val], ".-", label=f"validation {key}")
    if hist.test:
        ax[1].plot([h["iteration"] for h in hist.test], [h[key] for h in hist.test], "o", ms=8, label=f"held-out test {key}")
    ax[1].set_xlabel("iteration"); ax[1].set_ylabel(key); ax[1].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
