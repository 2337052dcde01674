"""Fidelity of a chip run against the float reference (`neurochip validate`).

`validate(compiled, ...)` runs the compiled network on a chip backend (native | lava) and the source
float network (the artifact's ``*_float`` fields) through `neurochip.simulate` (or brian2) on the same
held-out inputs, and reports:

- spike agreement: coincidence factor per neuron and overall (a chip spike matches a reference spike
  of the same neuron and trial within +-window steps, one-to-one; agreement = 2 matches / (n_chip +
  n_ref), 1 when both are silent) and the van Rossum distance (exponential kernel, tau = tau_m);
- readout error: RMS of (chip output - float output) and the RMS normalised by the float output's std;
- task metrics (accuracy / loss for 'ce', nmse / loss for 'mse') of both, and their deltas;
- weight quantisation drift: ||dequantised mantissas - float weights|| / ||float weights|| per projection;
- for learning runs (--learn): the on-chip weight update (dequantised learned - initial mantissas, one
  application over the batch) against the float e-prop update of the same rule (plain SGD, same lr,
  no regulariser) and against the BPTT gradient direction (cosine similarity), the norm ratio, and the
  learned-weight drift ||W_chip' - W_float'|| / ||W_float' - W_float|| (chip-learned vs float-learned
  weights, relative to the float step).

Dequantisation (docs/fixed_point.md, compiler/quantize.py): w_in/w_rec = m 2^(e+S) / (c_in scale_v),
w_out = m 2^(e_out+S) / (c_kappa scale_out).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ArtifactError, ConfigError, ValidationFailed
from .network import Network, NeuronParams

# metric -> 'min' (must be >= tolerance) or 'max' (must be <= tolerance)
TOLERANCE_KINDS = {
    "spike_agreement": "min", "van_rossum": "max", "readout_rms": "max", "readout_nrmse": "max",
    "accuracy_drop": "max", "loss_delta": "max", "weight_drift": "max",
    "cosine_eprop": "min", "cosine_bptt": "min", "learned_weight_drift": "max",
}


def _dense(a) -> np.ndarray:
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def float_network(compiled) -> Network:
    """The source float `Network` carried by a `CompiledNetwork` (its ``*_float`` fields)."""
    missing = [n for n in ("w_in_float", "w_rec_float", "w_out_float", "B_float", "beta_float")
               if getattr(compiled, n, None) is None]
    if missing or not compiled.float_params:
        raise ArtifactError(f"compiled network carries no float source network (missing {missing or ['float_params']}); "
                            f"recompile it with this version of the compiler")
    return Network(params=NeuronParams.from_dict(dict(compiled.float_params)), w_in=_dense(compiled.w_in_float),
                   w_rec=_dense(compiled.w_rec_float), w_out=_dense(compiled.w_out_float),
                   b_out=np.asarray(compiled.b_out, float), B=_dense(compiled.B_float),
                   beta=np.asarray(compiled.beta_float, float), rec_mask=_dense(compiled.rec_mask).astype(bool))


def _shift(compiled) -> int:
    return int(getattr(getattr(compiled.profile, "format", None), "threshold_shift", 6))


def dequantize(compiled, name: str, mant) -> np.ndarray:
    """Float weights represented by the mantissas ``mant`` of projection ``name`` ('w_in'|'w_rec'|'w_out')."""
    p = NeuronParams.from_dict(dict(compiled.float_params))
    S = _shift(compiled)
    m = _dense(mant).astype(np.float64)
    if name == "w_out":
        return m * 2.0 ** (int(compiled.e_out) + S) / (p.c_kappa * float(compiled.scale_out))
    e = int(compiled.e_in if name == "w_in" else compiled.e_rec)
    return m * 2.0 ** (e + S) / (p.c_in * float(compiled.scale_v))


# --------------------------------------------------------------------------------------------------
# spike-train metrics (pure functions over [B, T, N] 0/1 arrays)
# --------------------------------------------------------------------------------------------------
def coincidence(z_chip: np.ndarray, z_ref: np.ndarray, window: int = 1) -> dict[str, Any]:
    """One-to-one matching of spikes within +-window steps per (trial, neuron).

    Returns {'overall': float, 'per_neuron': [N] float, 'matched', 'n_chip', 'n_ref'}; agreement =
    2 matched / (n_chip + n_ref), 1.0 where both trains are empty.
    """
    a = np.asarray(z_chip) != 0
    b = np.asarray(z_ref) != 0
    if a.shape != b.shape or a.ndim != 3:
        raise ConfigError(f"spike arrays must both be [B, T, N]; got {a.shape} and {b.shape}")
    B, T, N = a.shape
    matched = np.zeros(N, np.int64)
    exact = a == b
    for bi in range(B):
        # only (trial, neuron) pairs that differ somewhere need the greedy matching
        diff_cols = np.nonzero(~exact[bi].all(axis=0))[0]
        same_cols = np.setdiff1d(np.arange(N), diff_cols)
        matched[same_cols] += a[bi][:, same_cols].sum(axis=0)
        for j in diff_cols:
            ta = np.nonzero(a[bi, :, j])[0]
            tb = np.nonzero(b[bi, :, j])[0]
            i = k = m = 0
            while i < len(ta) and k < len(tb):    # two-pointer greedy on sorted times: optimal for 1-D
                d = ta[i] - tb[k]
                if abs(d) <= window:
                    m += 1; i += 1; k += 1
                elif d < 0:
                    i += 1
                else:
                    k += 1
            matched[j] += m
    na = a.sum(axis=(0, 1)).astype(np.int64)
    nb = b.sum(axis=(0, 1)).astype(np.int64)
    tot = na + nb
    per = np.where(tot > 0, 2.0 * matched / np.maximum(tot, 1), 1.0)
    overall = 2.0 * matched.sum() / tot.sum() if tot.sum() > 0 else 1.0
    return {"overall": float(overall), "per_neuron": per, "matched": int(matched.sum()),
            "n_chip": int(na.sum()), "n_ref": int(nb.sum())}


def van_rossum(z_chip: np.ndarray, z_ref: np.ndarray, tau_steps: float) -> dict[str, Any]:
    """van Rossum distance D = sqrt(sum_t (f_a - f_b)^2 / tau) per (trial, neuron), f = spikes filtered with
    exp(-t/tau) (unit jump per spike, discrete time). Returns {'mean': float, 'per_neuron': [N] (trial mean)}.
    One isolated extra spike gives D ~ sqrt(1/2) for tau >> 1."""
    from scipy.signal import lfilter

    d = (np.asarray(z_chip, np.float64) - np.asarray(z_ref, np.float64))
    k = math.exp(-1.0 / tau_steps)
    f = lfilter([1.0], [1.0, -k], d, axis=1)                 # linear: filter the difference once
    D = np.sqrt((f ** 2).sum(axis=1) / tau_steps)            # [B, N]
    return {"mean": float(D.mean()), "per_neuron": D.mean(axis=0)}


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    return float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else float("nan")


def parse_tolerances(spec: str | None) -> dict[str, float]:
    """'spike_agreement=0.95,readout_rms=0.1' -> dict; unknown names or bad numbers raise ConfigError."""
    out: dict[str, float] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"--tolerance entry {part!r} must be name=value; names: {', '.join(TOLERANCE_KINDS)}")
        k, v = (s.strip() for s in part.split("=", 1))
        if k not in TOLERANCE_KINDS:
            raise ConfigError(f"unknown tolerance {k!r}; known: {', '.join(TOLERANCE_KINDS)}")
        try:
            out[k] = float(v)
        except ValueError:
            raise ConfigError(f"tolerance {k}={v!r} is not a number") from None
        if not math.isfinite(out[k]):
            raise ConfigError(f"tolerance {k}={v!r} must be finite")
    return out


def check_tolerances(metrics: dict[str, Any], tol: dict[str, float]) -> list[str]:
    """Messages for every metric outside its tolerance (a metric that was not measured fails too)."""
    bad = []
    for k, lim in tol.items():
        val = metrics.get(k)
        if val is None or (isinstance(val, float) and math.isnan(val)):
            bad.append(f"{k} was not measured (needs {'--learn' if k.startswith(('cosine', 'learned')) else '--task'})")
        elif TOLERANCE_KINDS[k] == "min" and val < lim:
            bad.append(f"{k} = {val:.4g} < {lim:.4g}")
        elif TOLERANCE_KINDS[k] == "max" and val > lim:
            bad.append(f"{k} = {val:.4g} > {lim:.4g}")
    return bad


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
    if reference == "float":
        from .simulate import simulate
        tr = simulate(net, x)
        return tr.z, tr.out, tr
    if reference == "brian2":
        from .backends import get_backend
        r = get_backend("brian2").run(net, x)
        return r.spikes, r.outputs, None
    raise ConfigError(f"unknown reference {reference!r}; known: float, brian2")


def _float_rule(compiled):
    from .rules import LearningRule
    prov = (compiled.provenance or {}).get("rule")
    if isinstance(prov, dict):
        d = dict(prov)
        d.update(optimizer="sgd", reg_rate=0.0)
        return LearningRule.from_dict(d)
    r = compiled.rule
    return LearningRule(name=r.name, lr=float(r.lr), optimizer="sgd", reg_rate=0.0, train_in=bool(r.train_in),
                        train_rec=bool(r.train_rec), train_out=bool(r.train_out))


def _learning_metrics(compiled, net, inputs: Inputs, backend_mod, seed: int) -> tuple[dict, dict]:
    """Run one on-chip weight application over the batch and compare with float e-prop and BPTT."""
    from .learning.gradients import bptt_gradient, weight_change

    if compiled.rule is None:
        raise ConfigError("--learn needs an artifact compiled with a learning rule (neurochip compile --rule ...)")
    if inputs.batch is None:
        raise ConfigError("--learn needs targets: pass --task")
    b = inputs.batch
    rule = _float_rule(compiled)
    names = [n for n, on in (("w_in", rule.train_in), ("w_rec", rule.train_rec), ("w_out", rule.train_out)) if on]
    if getattr(backend_mod, "NAME", "") == "lava":
        # lava's engine expresses only the x1*y2*y3 part of e-prop, on w_in (docs/backends.md): each trial
        # learns from the compiled weights with its own readout error; the changes are summed
        names = ["w_in", "w_rec"]
        w0 = {n: dequantize(compiled, n, getattr(compiled, n)) for n in names}
        d_chip = {n: np.zeros_like(w0[n]) for n in names}
        learned = {}
        for i in range(b.x.shape[0]):
            code, _ = backend_mod.eprop_learning_signal(compiled, b.x[i], b.target[i], b.mask[i], b.loss)
            xs = np.zeros((b.x.shape[1] + 2, compiled.n_in), np.uint8)
            xs[:b.x.shape[1]] = b.x[i]
            rr = backend_mod.run_eprop3f(compiled, xs, code, exp=-7, x1_impulse=20.0, x1_tau=20, rng_seed=seed + 1,
                                         learn_rec=True)
            for n in names:
                d_chip[n] += dequantize(compiled, n, rr[n]) - w0[n]
                learned[n] = rr[n]

        class _R:  # the learned weights of the last trial (for the drift metric)
            weights = learned
        r = _R()
    else:
        r = backend_mod.run(compiled, b.x, learn=True, targets=b, seed=seed, epochs=1, batch_size=b.x.shape[0])
        d_chip = {n: dequantize(compiled, n, r.weights[n]) - dequantize(compiled, n, getattr(compiled, n)) for n in names}
    g_ep = weight_change(net, rule, b, lr=rule.lr)
    g_bp = bptt_gradient(net, b, reset_grad=False)
    d_ep = {n: np.asarray(getattr(g_ep, n)) for n in names}
    d_bp = {n: -np.asarray(getattr(g_bp, n)) for n in names}
    flat = lambda d, ns: np.concatenate([d[n].ravel() for n in ns]) if ns else np.zeros(0)  # noqa: E731
    rec_names = [n for n in names if n != "w_out"]
    per = {n: {"cosine_eprop": _cos(d_chip[n].ravel(), d_ep[n].ravel()),
               "cosine_bptt": _cos(d_chip[n].ravel(), d_bp[n].ravel()),
               "norm_ratio": float(np.linalg.norm(d_chip[n]) / max(np.linalg.norm(d_ep[n]), 1e-300))} for n in names}
    dc, de = flat(d_chip, rec_names or names), flat(d_ep, rec_names or names)
    w_float_learned = {n: _dense(getattr(compiled, n + "_float")) + d_ep[n] for n in names}
    w_chip_learned = {n: dequantize(compiled, n, r.weights[n]) for n in names}
    drift = float(np.linalg.norm(flat(w_chip_learned, names) - flat(w_float_learned, names))
                  / max(np.linalg.norm(flat(d_ep, names)), 1e-300))
    m = {"cosine_eprop": _cos(dc, de), "cosine_bptt": _cos(dc, flat(d_bp, rec_names or names)),
         "cosine_float_eprop_vs_bptt": _cos(de, flat(d_bp, rec_names or names)),   # the float rule's own alignment
         "update_norm_ratio": float(np.linalg.norm(dc) / max(np.linalg.norm(de), 1e-300)),
         "learned_weight_drift": drift, "learning_per_projection": per,
         "learning_note": "cosines over " + "+".join(rec_names or names) + "; float update: plain SGD step of "
                          f"rule {rule.name} (lr {rule.lr}, no regulariser) over the whole batch; chip update: "
                          "one weight application over the batch (dequantised)"}
    if getattr(backend_mod, "NAME", "") == "lava":
        m["learning_note"] = ("lava: w_in and w_rec learned by lava's LearningDense/LearningSparse with dw = 2^-7 u0 x1 y2 y3 "
                              "(y2 = learning-signal code from the chip's readout error, y3 = psi code), one "
                              "run per trial from the compiled weights; " + m["learning_note"])
    plot = {"d_chip": flat(d_chip, names), "d_ep": flat(d_ep, names)}
    return m, plot


def validate(compiled, *, backend: str = "native", reference: str = "float", learn: bool = False,
             inputs: Inputs | None = None, window: int = 2, tolerances: dict[str, float] | None = None,
             seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compare ``compiled`` on ``backend`` with the float reference on ``inputs``.

    Returns (report JSON-able dict, plot data). Does not raise on exceeded tolerances: the report's
    'failures' lists them (the CLI turns them into `ValidationFailed`).
    """
    from .backends import get_backend
    from .learning.losses import task_metrics

    tol = dict(tolerances or {})
    inputs = inputs or make_inputs(compiled, seed=seed)
    net = float_network(compiled)
    mod = get_backend(backend)
    x = inputs.x
    chip = mod.run(compiled, x, record=("spikes", "outputs"))
    z_ref, out_ref, _ = _reference_run(compiled, net, x, reference)
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
            "w_deq": np.concatenate([dequantize(compiled, n, getattr(compiled, n)).ravel() for n in ("w_in", "w_rec", "w_out")]),
            "w_float": np.concatenate([_dense(getattr(compiled, n + "_float")).ravel() for n in ("w_in", "w_rec", "w_out")])}
    if learn:
        lm, lp = _learning_metrics(compiled, net, inputs, mod, seed)
        m.update(lm)
        plot.update(lp)
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
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_write_bytes

    fig, ax = plt.subplots(2, 2, figsize=(11, 7))
    for a, key, name in ((ax[0, 0], "z_chip", "chip"), (ax[0, 1], "z_ref", "float reference")):
        t, j = np.nonzero(plot[key])
        a.scatter(t, j, s=1.5, c="k", marker="|")
        a.set_title(f"{name} raster (trial 0)"); a.set_xlabel("step"); a.set_ylabel("neuron")
    a = ax[1, 0]
    for k in range(plot["out_chip"].shape[1]):
        a.plot(plot["out_ref"][:, k], lw=1.2, label=f"float o{k}")
        a.plot(plot["out_chip"][:, k], lw=0.8, ls="--", label=f"chip o{k}")
    a.set_title("readout (trial 0)"); a.set_xlabel("step"); a.legend(fontsize=7, ncol=2)
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def raise_if_failed(report: dict[str, Any]) -> None:
    if report["failures"]:
        raise ValidationFailed("validation failed: " + "; ".join(report["failures"]))
