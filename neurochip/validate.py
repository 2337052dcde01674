"""Fidelity of a chip run against the float reference (`neurochip validate`), as a gate.

`validate(compiled, ...)` runs the compiled network on a chip backend (any backend whose declared
capabilities say fixed-point arithmetic; learning runs also need a learning backend) and the source float
network (the artifact's ``*_float`` fields) through `neurochip.simulate` (or a float backend such as
brian2) on the same held-out inputs, and reports:

- spike agreement: coincidence factor per neuron and overall (a chip spike matches a reference spike
  of the same neuron and trial within +-window steps, one-to-one; agreement = 2 matches / (n_chip +
  n_ref), 1 when both are silent) and the van Rossum distance (exponential kernel, tau = tau_m);
- readout error: RMS of (chip output - float output) and the RMS normalised by the float output's std;
- task metrics (accuracy / loss for 'ce', nmse / loss for 'mse') of both, and their deltas;
- weight quantisation drift: ||dequantised mantissas - float weights|| / ||float weights|| per projection;
- for learning runs (--learn): the on-chip weight update accumulated over the held-out batch (mini-batches
  of the rule's batch size; the applied change, dequantised learned - initial mantissas, plus the part the
  chip still holds below the weight LSB when the backend reports it) per trained matrix, against float
  SGD of the same rule with the rates and regulariser the chip was lowered with, from the same (dequantised)
  weights along the same mini-batches: cosine, norm ratio, fraction of synapses moved; plus the cosine with
  the BPTT direction, and the cosine / norm ratio of the applied change alone (reported, not gated); and one
  weight application on the first mini-batch against the float rule's step on the float pass and on the
  chip's own pass (``learning_one_update``, `neurochip.chip_pass`; backends that run the compiled rule exactly and
  record the membrane; not gated).

`passed` means every tolerance held: the defaults (`DEFAULT_TOLERANCES`, `DEFAULT_LEARNING_TOLERANCES`,
justified in docs/backends.md) and any given ones; the gate itself is `neurochip.tolerances`. An undefined value (NaN: a matrix without update)
fails; each failing check is one line in ``failures``.

Dequantisation: mantissa x the float weight of one mantissa unit the quantiser decided and the artifact
saves (``compiled.w_lsb``; docs/fixed_point.md, compiler/quantize.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend_contract import float_network  # noqa: F401  (re-exported: the artifact's source float Network)
from .errors import ArtifactError, ConfigError
# the gate (tolerances, defaults, pass/fail) lives in neurochip.tolerances; re-exported here
from .tolerances import (DEFAULT_LEARNING_TOLERANCES, DEFAULT_TOLERANCES, OFF, PER_MATRIX,  # noqa: F401
                         TOLERANCE_KINDS, check_tolerances, effective_tolerances, learning_outcome_failures,
                         parse_tolerances, raise_if_failed)
from .spike_metrics import coincidence, van_rossum  # noqa: F401  (re-exported)

def _dense(a) -> np.ndarray:
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def dequantize(compiled, name: str, mant) -> np.ndarray:
    """Float weights represented by the mantissas ``mant`` of projection ``name`` ('w_in'|'w_rec'|'w_out'):
    mantissa x the quantiser's saved LSB (`CompiledNetwork.weight_lsb`)."""
    return _dense(mant).astype(np.float64) * compiled.weight_lsb(name)


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    return float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else float("nan")


# --------------------------------------------------------------------------------------------------
# the validation run
# --------------------------------------------------------------------------------------------------
@dataclass
class Inputs:
    x: np.ndarray                 # [B, T, n_in] uint8
    batch: Any = None             # neurochip.tasks.Batch when a task supplied the inputs
    source: str = ""


def make_inputs(compiled, *, task: str | None = None, trials: int = 8, steps: int = 500, rate_hz: float = 20.0,
                seed: int = 0) -> Inputs:
    """Held-out inputs: the task's 'test' split when ``task`` is given, else Poisson spikes at rate_hz."""
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if task:
        from .tasks import get_task
        t = get_task(task, seed=seed)
        if t.n_in != compiled.n_in or t.n_out != compiled.n_out:
            raise ConfigError(f"task {task!r} has n_in={t.n_in}, n_out={t.n_out} but the artifact has "
                              f"n_in={compiled.n_in}, n_out={compiled.n_out}")
        b = t.batch(trials, split="test", index=0)
        return Inputs(np.ascontiguousarray(b.x, np.uint8), b, f"task {task} test split, seed {seed}")
    if steps < 1 or rate_hz < 0:
        raise ConfigError(f"--steps must be >= 1 and --rate >= 0 Hz, got {steps}, {rate_hz}")
    from .tasks import poisson
    dt = float(compiled.float_params.get("dt", 1.0))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1, 99]))
    x = poisson(rng, rate_hz, (trials, steps, compiled.n_in), dt)
    return Inputs(x, None, f"Poisson {rate_hz} Hz, {trials} x {steps} steps, seed {seed}")


def _reference_run(compiled, net, x, reference: str):
    """(spikes, outputs) of the float reference: 'float' = `neurochip.simulate`, or any backend that declares
    float arithmetic and takes a float `Network` (brian2)."""
    if reference == "float":
        from .simulate import simulate
        tr = simulate(net, x)
        return tr.z, tr.out
    from .backends import require
    r = require(reference, arithmetic="float", accepts_network=True, purpose="as the float reference").run(net, x)
    return r.spikes, r.outputs


def _float_rule(compiled):
    """The float rule the chip's update is compared with: the artifact's rule (provenance) with the
    on-chip hyper-parameters exactly as lowered (``compiled.rule``: lr, regulariser, trained matrices),
    as plain SGD. The compiled rule is the truth; provenance only supplies what it does not carry
    (feedback kind, rule options)."""
    from .rules import LearningRule
    r = compiled.rule
    d = dict((compiled.provenance or {}).get("rule") or {})
    # a lowering that does not carry a field (e.g. a local rule's own lowering) keeps the provenance value
    for k in ("name", "lr", "train_in", "train_rec", "train_out"):
        if getattr(r, k, None) is not None:
            d[k] = getattr(r, k)
    if "name" not in d or "lr" not in d:
        raise ArtifactError("the artifact's compiled rule names no rule or learning rate; recompile it")
    d.update(lr=float(d["lr"]), optimizer="sgd", train_bias=False,
             # a rule lowered without the regulariser learns without it; one lowered with it uses its rate
             reg_rate=float(getattr(r, "reg_rate", 0.0) or 0.0))
    if getattr(r, "target_rate_hz", None) is not None:
        d["target_rate_hz"] = float(r.target_rate_hz)
    known = set(LearningRule.__dataclass_fields__)
    return LearningRule.from_dict({k: v for k, v in d.items() if k in known})


def _chip_step_gain(compiled, batch) -> float:
    """Float SGD steps -> chip steps for one weight application over ``batch``. Today's lowerings normalise as
    the float trainer does (per-batch gains ``ct``; local rules their own) and take exactly the float step (1.0);
    the earlier lowering summed the per-step error over the batch without normalising, i.e. the float
    step times the loss's normaliser (masked steps for 'ce', trials for 'mse', losses.task_loss)."""
    if not hasattr(compiled.rule, "lr_mant"):     # only the earlier e-prop lowering had lr_mant / lr_shift
        return 1.0
    return float(max(int(np.asarray(batch.mask).sum()), 1)) if batch.loss == "ce" else float(batch.x.shape[0])


def _slice(b, s: slice):
    from dataclasses import replace
    return replace(b, x=b.x[s], target=b.target[s], mask=b.mask[s])


def learn_batch_size(compiled, n_trials: int) -> int:
    """Trials per weight application in a validation learning run: the compiled rule's batch (the float
    trainer's), else 32, at most the number of trials."""
    return max(1, min(int(getattr(compiled.rule, "batch", 32) or 32), int(n_trials)))


def _learning_metrics(compiled, net, inputs: Inputs, backend_mod, seed: int, *, learn_batch=None,
                      epochs: int = 1, batch_size: int | None = None) -> tuple[dict, dict]:
    """On-chip learning over ``learn_batch`` (default: the held-out batch) in mini-batches of ``batch_size``
    (default `learn_batch_size`), ``epochs`` passes, against float SGD of the same rule with the same rates
    along the same mini-batches (float weights updated after each), and against the BPTT direction of the
    first pass's batch at the initial weights. Per trained matrix: cosine, norm ratio, fraction of synapses
    moved (accumulated over the whole run)."""
    from .chip_pass import one_update
    from .learning.gradients import bptt_gradient, weight_change
    from .simulate import simulate

    caps = backend_mod.CAPABILITIES
    if compiled.rule is None:
        raise ConfigError("--learn needs an artifact compiled with a learning rule (neurochip compile --rule ...)")
    if inputs.batch is None and learn_batch is None:
        raise ConfigError("--learn needs targets: pass --task")
    if getattr(compiled, "B_float", None) is None:
        raise ArtifactError("--learn needs the artifact's float feedback matrix (B_float) for the float rule")
    b = inputs.batch if learn_batch is None else learn_batch
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"learning epochs must be an integer >= 1, got {epochs!r}")
    rule = _float_rule(compiled)
    trained = [n for n, on in (("w_in", rule.train_in), ("w_rec", rule.train_rec), ("w_out", rule.train_out)) if on]
    names = [n for n in trained if n in caps.learned]
    skipped = [n for n in trained if n not in caps.learned]
    B = b.x.shape[0]
    bs = learn_batch_size(compiled, B) if batch_size is None else int(batch_size)
    if bs < 1:
        raise ConfigError(f"learning batch size must be >= 1 trials, got {batch_size!r}")
    r = backend_mod.run(compiled, b.x, learn=True, targets=b, seed=seed, epochs=int(epochs), batch_size=bs)
    # per-matrix rates as the chip applied them: the rule's lr x 2^gain_exp (a backend that calibrates a
    # power-of-two gain per matrix at run time, the 'adam_equivalent' lr mode, reports it in meta; 0 = plain SGD)
    ge = list(r.meta.get("gain_exp") or (0, 0, 0))
    mult = {n: 2.0 ** int(ge[i]) for i, n in enumerate(("w_in", "w_rec", "w_out"))}
    # the chip's starting weights, dequantised: the learned change is measured from them, and the float
    # reference below starts from them too
    start = {n: dequantize(compiled, n, getattr(compiled, n)) for n in ("w_in", "w_rec", "w_out")}
    w0 = {n: start[n] for n in names}

    def applied(res) -> dict[str, np.ndarray]:
        """The change a learning run applied to the weights (dequantised learned - initial mantissas)."""
        return {n: dequantize(compiled, n, res.weights[n]) - w0[n] for n in names}

    def accumulated(res) -> dict[str, np.ndarray]:
        """The whole accumulated update of a learning run: the applied change plus what the chip still holds
        below the weight LSB (a backend that reports it, meta['pending_lsb'])."""
        pend_ = res.meta.get("pending_lsb") or {}
        return {n: d + (np.asarray(_dense(pend_[n]), np.float64) * compiled.weight_lsb(n) if n in pend_ else 0.0)
                for n, d in applied(res).items()}

    d_chip = applied(r)
    io_mask = {"w_in": getattr(compiled, "in_mask", None), "w_out": getattr(compiled, "out_mask", None)}
    exists = {n: (_dense(compiled.rec_mask).astype(bool) if n == "w_rec" else
                  (np.ones(w0[n].shape, bool) if io_mask[n] is None else np.asarray(io_mask[n], bool))) for n in names}
    moved = {n: float(np.mean((_dense(r.weights[n]) != _dense(getattr(compiled, n)))[exists[n]])) if exists[n].any()
             else 0.0 for n in names}           # fraction of existing synapses whose mantissa changed
    d_acc = accumulated(r)             # the applied change alone (d_chip) is reported beside it
    # float SGD along the same mini-batches from the SAME weights, the chip's (dequantised), weights updated
    # after each (the chip's schedule): it isolates the learning from the quantisation of the starting point
    net = net.with_weights(**start)
    d_ref = {n: np.zeros_like(w0[n]) for n in names}
    cur = net
    first_pass = None                  # (trace, step) of the first mini-batch, for the one-update comparison
    for _ in range(int(epochs)):
        for g0 in range(0, B, bs):
            mb = _slice(b, slice(g0, min(B, g0 + bs)))
            tr = simulate(cur, mb.x)
            g = weight_change(cur, rule, mb, trace=tr, lr=rule.lr)
            if first_pass is None:
                first_pass = (tr, g)
            gain = _chip_step_gain(compiled, mb)
            step = {n: gain * mult[n] * np.asarray(getattr(g, n)) for n in ("w_in", "w_rec", "w_out")}
            for n in names:
                d_ref[n] += step[n]
            cur = cur.with_weights(**{n: getattr(cur, n) + step[n] for n in trained})
    # one weight application on the first mini-batch, against the float rule on the float pass and on the
    # chip's own pass (neurochip.chip_pass): separates the learning arithmetic from the forward pass
    first = _slice(b, slice(0, min(B, bs)))
    one = one_update(compiled, net, rule, first, backend_mod, seed, names, accumulated,
                     {n: _chip_step_gain(compiled, first) * mult[n] for n in names}, *first_pass)
    d_bp = bptt_gradient(net, b, reset_grad=False)
    d_bp = {n: -np.asarray(getattr(d_bp, n)) for n in names}
    label = f"{rule.name} SGD"
    per = {}
    for n in names:
        nc, nf = float(np.linalg.norm(d_acc[n])), float(np.linalg.norm(d_ref[n]))
        na = float(np.linalg.norm(d_chip[n]))
        per[n] = {"cosine": _cos(d_acc[n].ravel(), d_ref[n].ravel()),
                  "cosine_bptt": _cos(d_acc[n].ravel(), d_bp[n].ravel()),
                  "cosine_float_vs_bptt": _cos(d_ref[n].ravel(), d_bp[n].ravel()),
                  "norm_ratio": nc / nf if nf > 0 else float("nan"), "chip_norm": nc, "float_norm": nf,
                  "cosine_applied": _cos(d_chip[n].ravel(), d_ref[n].ravel()),
                  "norm_ratio_applied": na / nf if nf > 0 else float("nan"),
                  "moved_fraction": moved[n], "float_rule": label, "lr": rule.lr * mult[n]}
    flat = lambda d: np.concatenate([d[n].ravel() for n in names]) if names else np.zeros(0)  # noqa: E731
    dc, de, dbp = flat(d_acc), flat(d_ref), flat(d_bp)
    w_float_learned = flat({n: start[n] + d_ref[n] for n in names})
    w_chip_learned = flat({n: dequantize(compiled, n, r.weights[n]) for n in names})
    cos_min = min((p["cosine"] for p in per.values()), default=float("nan"),
                  key=lambda c: -math.inf if math.isnan(c) else c)
    m = {"cosine_eprop": _cos(dc, de), "cosine_eprop_min": cos_min, "cosine_bptt": _cos(dc, dbp),
         "cosine_float_eprop_vs_bptt": _cos(de, dbp),   # the float rule's own alignment with BPTT
         "update_norm_ratio": float(np.linalg.norm(dc) / np.linalg.norm(de)) if np.linalg.norm(de) > 0 else float("nan"),
         "learned_weight_drift": float(np.linalg.norm(w_chip_learned - w_float_learned) / np.linalg.norm(de))
         if np.linalg.norm(de) > 0 else float("nan"),
         "learning_per_projection": per, "learning_one_update": one, "learning_batch_size": bs, "learning_epochs": int(epochs),
         "learning_applications": int(epochs) * -(-B // bs), "learning_trials": B,
         "learning_note": (f"chip: {caps.learning_note}; {int(epochs) * -(-B // bs)} weight application(s) of "
                           f"{bs} trials ({B} trials x {int(epochs)} epoch(s)); float: plain SGD of rule {rule.name} (lr {rule.lr:g}, regulariser "
                           f"{rule.reg_rate:g}) on the same mini-batches, weights updated after each"
                           + (f"; not learned by this backend: {', '.join(skipped)}" if skipped else ""))}
    plot = {"d_chip": dc, "d_ep": de}
    return m, plot


def validate(compiled, *, backend: str = "native", reference: str = "float", learn: bool = False,
             inputs: Inputs | None = None, window: int = 2, tolerances: dict[str, float] | None = None,
             seed: int = 0, learn_batch=None, learn_epochs: int = 1, learn_batch_size: int | None = None
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compare ``compiled`` on ``backend`` (any backend that declares fixed-point arithmetic) with the float
    reference on ``inputs``.

    learn: also run on-chip learning on ``learn_batch`` (a task Batch; default the held-out inputs' batch),
    ``learn_epochs`` passes in mini-batches of ``learn_batch_size`` trials (default: the rule's batch), and
    compare the accumulated update per trained matrix with float SGD on the same schedule.

    Tolerances: the defaults of `effective_tolerances` (accuracy drop; per-matrix update cosine and norm
    ratio on learning runs) overridden by ``tolerances``. Returns (report JSON-able dict, plot data);
    ``report['passed']`` is True only when every tolerance held, ``report['failures']`` has one line
    per failed check. Does not raise on exceeded tolerances (the CLI turns them into `ValidationFailed`).
    """
    from .backends import require
    from .learning.losses import task_metrics

    mod = require(backend, arithmetic="fixed", learns=learn, purpose="as the chip side of a validation"
                  + (" with --learn" if learn else ""))
    plastic = getattr(compiled, "plasticity", None) is not None
    if learn and compiled.rule is None and not plastic:
        raise ConfigError("--learn needs an artifact compiled with a learning rule (neurochip compile --rule ...)")
    if learn and learn_batch is None and (inputs is None or inputs.batch is None):
        raise ConfigError("--learn needs targets: pass --task")
    inputs = inputs or make_inputs(compiled, seed=seed)
    net = float_network(compiled)
    x = inputs.x
    chip = mod.run(compiled, x, record=("spikes", "outputs"))
    z_ref, out_ref = _reference_run(compiled, net, x, reference)
    co = coincidence(chip.spikes, z_ref, window=window)
    tau_steps = net.params.tau_m / net.params.dt
    vr = van_rossum(chip.spikes, z_ref, tau_steps)
    diff = chip.outputs - out_ref
    rms = float(np.sqrt(np.mean(diff ** 2)))
    sd = float(np.std(out_ref))
    T = x.shape[1]
    dt_s = net.params.dt * 1e-3
    m: dict[str, Any] = {
        "spike_agreement": co["overall"], "spike_agreement_window_steps": window,
        "spike_agreement_exact": coincidence(chip.spikes, z_ref, window=0)["overall"],
        "van_rossum": vr["mean"], "van_rossum_tau_steps": tau_steps,
        "spikes_chip": co["n_chip"], "spikes_ref": co["n_ref"],
        "rate_chip_hz": co["n_chip"] / (x.shape[0] * T * net.n_rec * dt_s),
        "rate_ref_hz": co["n_ref"] / (x.shape[0] * T * net.n_rec * dt_s),
        "readout_rms": rms, "readout_nrmse": rms / sd if sd > 0 else float("nan"),
        "weight_drift": None,
    }
    drift = {}
    for n in ("w_in", "w_rec", "w_out"):
        wf = _dense(getattr(compiled, n + "_float"))
        nf = float(np.linalg.norm(wf))
        drift[n] = float(np.linalg.norm(dequantize(compiled, n, getattr(compiled, n)) - wf) / nf) if nf > 0 else 0.0
    m["weight_drift"] = max(drift.values())
    m["weight_drift_per_projection"] = drift
    b = inputs.batch
    mc = None
    if b is not None:
        mc = task_metrics(chip.outputs, b.target, b.mask, b.loss)
        mr = task_metrics(out_ref, b.target, b.mask, b.loss)
        m["task_chip"], m["task_ref"] = mc, mr
        if "accuracy" in mc:
            m["accuracy_chip"], m["accuracy_ref"] = mc["accuracy"], mr["accuracy"]
            m["accuracy_drop"] = mr["accuracy"] - mc["accuracy"]
        if "loss" in mc:
            m["loss_delta"] = mc["loss"] - mr["loss"]
    plot = {"z_chip": chip.spikes[0], "z_ref": z_ref[0], "out_chip": chip.outputs[0], "out_ref": out_ref[0],
            "dt_ms": float(net.params.dt),
            "w_deq": np.concatenate([dequantize(compiled, n, getattr(compiled, n)).ravel() for n in ("w_in", "w_rec", "w_out")]),
            "w_float": np.concatenate([_dense(getattr(compiled, n + "_float")).ravel() for n in ("w_in", "w_rec", "w_out")])}
    if learn and plastic:
        # an STDP-family rule (Loihi's plasticity engine): the chip's W_in change vs the float rule's on the
        # chip's own spikes and rewards (neurochip.validate_plasticity)
        from .validate_plasticity import plasticity_learning_metrics
        lm, lp = plasticity_learning_metrics(compiled, learn_batch if learn_batch is not None else inputs.batch, mod,
                                             seed, epochs=learn_epochs)
        m.update(lm)
        plot.update(lp)
    elif learn:
        lm, lp = _learning_metrics(compiled, net, inputs, mod, seed, learn_batch=learn_batch, epochs=learn_epochs,
                                   batch_size=learn_batch_size)
        m.update(lm)
        plot.update(lp)
    tol = effective_tolerances(tolerances, learn=learn, task_metrics=mc)
    report = {
        "backend": backend, "reference": reference, "learn": learn, "inputs": inputs.source,
        "shape": list(x.shape), "profile": compiled.profile_name,
        "metrics": m, "per_neuron_agreement": co["per_neuron"].tolist(),
        "tolerances": tol, "failures": check_tolerances(m, tol),
        "chip_counts": chip.counts.scalars(), "chip_meta": {k: v for k, v in chip.meta.items()
                                                            if isinstance(v, (int, float, str, bool))},
    }
    report["passed"] = not report["failures"]
    return report, plot


def plot_validation(plot: dict[str, Any], path, title: str = "") -> None:
    """Side-by-side figure: rasters (chip | float), readout traces, weight scatter. Written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import save_figure

    dt = float(plot.get("dt_ms", 1.0))                   # time axis in ms (step x dt)
    fig, ax = plt.subplots(2, 2, figsize=(11, 7))
    for a, key, name in ((ax[0, 0], "z_chip", "chip"), (ax[0, 1], "z_ref", "float reference")):
        t, j = np.nonzero(plot[key])
        a.scatter(t * dt, j, s=1.5, c="k", marker="|")
        a.set_title(f"{name} raster (trial 0)"); a.set_xlabel("time (ms)"); a.set_ylabel("neuron")
    a = ax[1, 0]
    tt = np.arange(plot["out_chip"].shape[0]) * dt
    for k in range(plot["out_chip"].shape[1]):
        a.plot(tt, plot["out_ref"][:, k], lw=1.2, label=f"float o{k}")
        a.plot(tt, plot["out_chip"][:, k], lw=0.8, ls="--", label=f"chip o{k}")
    a.set_title("readout (trial 0)"); a.set_xlabel("time (ms)"); a.legend(fontsize=7, ncol=2)
    a = ax[1, 1]
    if "d_chip" in plot:
        # each change normalised by its own norm: the scatter shows direction (the cosine), not the lr scale
        de = plot["d_ep"] / max(float(np.linalg.norm(plot["d_ep"])), 1e-300)
        dc = plot["d_chip"] / max(float(np.linalg.norm(plot["d_chip"])), 1e-300)
        a.scatter(de, dc, s=3, alpha=0.5)
        a.set_xlabel("float e-prop weight change / its norm"); a.set_ylabel("on-chip weight change / its norm")
        a.set_title("weight-change scatter (direction)")
        lim = float(np.max(np.abs(np.concatenate([de, dc])))) if de.size else 1.0
    else:
        a.scatter(plot["w_float"], plot["w_deq"], s=3, alpha=0.5)
        a.set_xlabel("float weight"); a.set_ylabel("dequantised chip weight"); a.set_title("weights: chip vs float")
        lim = float(np.max(np.abs(plot["w_float"]))) if plot["w_float"].size else 1.0
    a.plot([-lim, lim], [-lim, lim], c="r", lw=0.6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
