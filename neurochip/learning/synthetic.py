"""Synthetic gradients for truncated e-prop / truncated BPTT (e-prop 3: Bellec et al. 2020, Nat. Commun.
11:3625; decoupled neural interfaces: Jaderberg et al. 2017, ICML).

The backward scan of `neurochip.learning.scan` is cut into k-step windows counted from the end of the
trial (``LearningRule.truncation`` = k). Plain truncation zeroes the carried adjoint (dv, da) at every
window boundary, so no credit from a later window reaches an earlier one. Here a linear module predicts
that carried adjoint from the forward state at the boundary and the scan is seeded with the prediction:

    boundary m = 0 .. n_b-1 (n_b = (T-1) // k) carries the adjoint of step t_m = T - (m+1) k
    h_m  = [zbar^{t_m} (N), a^{t_m} (N), 1]       state features, [2N+1]
             zbar^t = kappa zbar^{t-1} + z^t: the readout-filtered spikes (what the output sees)
             a^t: the ALIF threshold adaptation (zero for LIF neurons)
    pred_m = W h_m = [dv_hat (N), da_hat (N)]      the predicted future credit, [2N]
    seed_m = gamma pred_m                           injected into the scan at the boundary

gamma = ``LearningRule.sg_discount`` (1 = Jaderberg's plain bootstrap). The scan is linear in its seed,
so the adjoint it carries INTO boundary m, before the seed replaces it, is

    target_m = (credit of the errors inside the window after t_m) + (that window's seed at boundary m-1)

(boundary 0 is the last window: its target is exact). target_m is the bootstrapped training target of
pred_m (treated as a constant), exactly as in Jaderberg et al. 2017 sec. 2. The module learns online,
one normalised-LMS step per batch (scale free in h, stable for 0 < sg_lr < 2):

    W <- W - sg_lr * mean_{b,m} (pred - target) h^T / mean_{b,m} |h|^2

Units: dv, da are dE/dv (1/unit of v) and dE/da; zbar is dimensionless (spike counts), a in units of v.

Everything else (feedback F, learning signal, readout and bias gradients, rate regulariser) is the
gradient of the base rule (`neurochip.learning.gradients.adjoint_grads`), so:
- k >= T (or truncation None): no boundary, the result equals the untruncated base rule exactly;
- a zero module: the result equals the plain truncated base rule exactly.

The module's weights are extra trainable state: the frozen dataclass `SynthGrad`. The rules declare it in
the registry (``RuleSpec.carried`` = `CARRIED`), so ``neurochip.train.train`` (and ``neurochip train``)
carry it across updates with `sg_step` and return it in ``History.rule_state``; ``neurochip train``
writes it as the bundle ``synthetic_gradient.npz`` + ``.json`` (`save_module` / `load_module`: checksummed,
no pickle). `train_sg` is the same loop with the option of a frozen module (``learn_sg=False``: plain
truncated training). ``grads`` alone (no carried state: validate, on-chip comparisons) uses a zero module,
i.e. plain truncated e-prop / BPTT. Not lowered to a chip (see docs/synthetic_gradients.md for the cost).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .. import rulebook
from ..errors import InvalidNetworkError
from ..network import Network
from ..rules import LearningRule
from ..simulate import FloatTrace, check_inputs, simulate
from ..tasks.base import Batch
from .gradients import Grads, feedback_matrix, loss_terms, _threads
from .losses import task_metrics
from .optim import OptState, apply_update
from .scan import _scan_step, _signal, _update, accumulate_events, new_out, readout_adjoint


@dataclass(frozen=True)
class SynthGrad:
    """A linear synthetic-gradient module: w [2N, 2N+1] maps h = [zbar, a, 1] to [dv_hat, da_hat]."""

    w: np.ndarray

    @property
    def n_rec(self) -> int:
        return self.w.shape[0] // 2

    def __post_init__(self) -> None:
        w = np.asarray(self.w)
        if w.ndim != 2 or w.shape[0] % 2 or w.shape[1] != w.shape[0] + 1 or not np.isfinite(w).all():
            raise InvalidNetworkError(f"synthetic-gradient weights must be a finite [2N, 2N+1] array, got shape "
                                      f"{w.shape}")


def zero_module(n_rec: int) -> SynthGrad:
    """The untrained module (Jaderberg et al. initialise to zero): predicts no future credit."""
    return SynthGrad(np.zeros((2 * n_rec, 2 * n_rec + 1)))


def boundary_steps(T: int, k: int | None) -> np.ndarray:
    """Steps t_m = T - (m+1) k whose adjoint crosses boundary m (m = 0 .. (T-1)//k - 1); [] if no truncation."""
    if k is None or k >= T:
        return np.zeros(0, dtype=np.int64)
    return np.array([T - (m + 1) * k for m in range((T - 1) // k)], dtype=np.int64)


def features(net: Network, trace: FloatTrace, steps: np.ndarray) -> np.ndarray:
    """h [B, n_b, 2N+1] = [zbar, a, 1] at each boundary step (trace needs ``a``: simulate(record_v=True))."""
    B, T, N = trace.z.shape
    h = np.zeros((B, len(steps), 2 * N + 1))
    h[..., -1] = 1.0
    if len(steps) == 0:
        return h
    kappa = net.params.kappa
    zb = np.zeros((B, N))
    last = int(steps.max())
    want = {int(t): m for m, t in enumerate(steps)}
    for t in range(last + 1):   # forward filter up to the latest boundary (the readout's own filter)
        zb = kappa * zb + trace.z[:, t]
        if t in want:
            h[:, want[t], :N] = zb
    if trace.a is not None:
        h[:, :, N:2 * N] = trace.a[:, steps]
    return h


@njit(cache=True, parallel=True)
def scan_local_sg(psi, dy, fct, reg, beta, alpha, rho, c_a, v_th, reset, adapt, trunc, seed_v, seed_a,
                  carry_v, carry_a, out):
    """`scan.scan_local` with the carried adjoint at boundary m replaced by (seed_v, seed_a)[b, m] [B, n_b, N]
    instead of zero; the adjoint carried into the boundary is written to carry_v, carry_a [B, n_b, N].
    Writes and returns dv in ``out`` [B, T, N] (`scan.new_out`). With zero seeds the arithmetic is exactly scan_local's."""
    B, T, N = psi.shape
    for b in prange(B):
        dv = np.zeros(N)
        da = np.zeros(N)
        L = np.empty(N)
        rec = np.zeros(0)
        for t in range(T - 1, -1, -1):
            if trunc > 0 and t != T - 1 and (T - 1 - t) % trunc == 0:
                m = (T - 1 - t) // trunc - 1   # boundary index: carries the adjoint of step t + 1
                for j in range(N):
                    carry_v[b, m, j] = dv[j]
                    carry_a[b, m, j] = da[j]
                    dv[j] = seed_v[b, m, j]
                    da[j] = seed_a[b, m, j]
            _signal(dy, fct, reg, b, t, L)
            _update(psi, L, rec, t, b, dv, da, out, beta, alpha, rho, 0.0, c_a, v_th, reset, adapt, False)
    return out


@njit(cache=True)
def scan_full_sg(psi, dy, fct, reg, w_rec, beta, alpha, rho, c_in, c_a, v_th, reset, adapt, trunc, seed_v, seed_a,
                 carry_v, carry_a, out):
    """`scan.scan_full` (network path, BPTT) with seeded boundaries as `scan_local_sg`."""
    B, T, N = psi.shape
    dv = np.zeros((B, N))
    da = np.zeros((B, N))
    rec = np.zeros((B, N))
    for t in range(T - 1, -1, -1):
        if trunc > 0 and t != T - 1 and (T - 1 - t) % trunc == 0:
            m = (T - 1 - t) // trunc - 1
            carry_v[:, m, :] = dv
            carry_a[:, m, :] = da
            dv[:, :] = seed_v[:, m, :]
            da[:, :] = seed_a[:, m, :]
        np.dot(dv, w_rec, rec)
        _scan_step(psi, dy, fct, reg, t, rec, dv, da, out, beta, alpha, rho, c_in, c_a, v_th, reset, adapt)
    return out


@dataclass(frozen=True)
class SGStep:
    """What one seeded scan tells the module: features h, predictions pred (unscaled) and bootstrapped
    targets, each [B, n_b, .] (pred, target: [B, n_b, 2N])."""

    h: np.ndarray
    pred: np.ndarray
    target: np.ndarray

    def error(self) -> float:
        """Relative prediction error |pred - target|^2 / |target|^2 over the batch (nan without boundaries)."""
        d = float(((self.pred - self.target) ** 2).sum())
        s = float((self.target ** 2).sum())
        return d / s if s > 0 else float("nan")


def sg_grads(net: Network, rule: LearningRule, batch: Batch, sg: SynthGrad, trace: FloatTrace | None = None
             ) -> tuple[Grads, float, dict[str, float], SGStep]:
    """Gradient of the synthetic-gradient rule ``rule`` (eprop_sg / bptt_sg) on ``batch`` with module ``sg``:
    (Grads, task loss, metrics, SGStep). ``trace`` is reused if it carries the adaptation ``a``."""
    spec = rulebook.get(rule.name)
    if sg.n_rec != net.n_rec:
        raise InvalidNetworkError(f"synthetic-gradient module is for {sg.n_rec} neurons, the network has {net.n_rec}")
    if trace is None or trace.a is None:
        trace = simulate(net, batch.x, record_v=True)
    p = net.params
    xf = check_inputs(net, batch.x)
    Bn, T, N = trace.z.shape
    loss, err, reg_loss, reg_sig, rates = loss_terms(net, rule, batch, trace)
    err = np.ascontiguousarray(err, dtype=np.float64)
    k = rule.truncation if rule.truncation is not None and rule.truncation < T else 0
    steps = boundary_steps(T, k or None)
    h = features(net, trace, steps)
    pred = h @ sg.w.T                                   # [B, n_b, 2N]
    seed = rule.sg_discount * pred
    seed_v = np.ascontiguousarray(seed[..., :N])
    seed_a = np.ascontiguousarray(seed[..., N:])
    carry_v = np.zeros((Bn, len(steps), N))
    carry_a = np.zeros((Bn, len(steps), N))
    dy = readout_adjoint(err, p.kappa)
    fct = np.ascontiguousarray(p.c_kappa * feedback_matrix(net, rule).T)
    reg = np.ascontiguousarray(reg_sig, dtype=np.float64) if rule.reg_rate > 0 else np.zeros(N)
    psi = np.ascontiguousarray(trace.psi)
    beta = np.ascontiguousarray(net.beta)
    reset = rule.differentiates_reset
    if spec.recurrent:
        d = scan_full_sg(psi, dy, fct, reg, np.ascontiguousarray(net.w_rec), beta, p.alpha, p.rho, p.c_in, p.c_a,
                         p.v_th, reset, spec.adapt, k, seed_v, seed_a, carry_v, carry_a, new_out(psi.shape))
    else:
        d = scan_local_sg(psi, dy, fct, reg, beta, p.alpha, p.rho, p.c_a, p.v_th, reset, spec.adapt, k,
                          seed_v, seed_a, carry_v, carry_a, new_out(psi.shape))
    nt = _threads()
    g_in = accumulate_events(xf, d, 0, nt).T * p.c_in
    g_rec = accumulate_events(trace.z, d, 1, nt).T * p.c_in
    g_out = accumulate_events(trace.z, dy, 0, nt).T * p.c_kappa
    net.zero_absent(w_in=g_in, w_rec=g_rec, w_out=g_out)
    g = Grads(w_in=np.ascontiguousarray(g_in), w_rec=np.ascontiguousarray(g_rec),
              w_out=np.ascontiguousarray(g_out), b_out=err.sum((0, 1)))
    step = SGStep(h=h, pred=pred, target=np.concatenate([carry_v, carry_a], axis=-1))
    metrics = {"loss": loss, "reg_loss": reg_loss, "rate_hz": float(rates.mean()), "sg_error": step.error()}
    metrics.update(task_metrics(trace.out, batch.target, batch.mask, batch.loss))
    return g, loss, metrics, step


def sg_update(sg: SynthGrad, step: SGStep, lr: float) -> SynthGrad:
    """One normalised-LMS step of the module towards the bootstrapped targets (targets held constant)."""
    if step.h.shape[1] == 0:
        return sg
    H = step.h.reshape(-1, step.h.shape[-1])
    E = (step.pred - step.target).reshape(-1, step.pred.shape[-1])
    norm = float((H ** 2).sum(1).mean())
    if norm <= 0:
        return sg
    return SynthGrad(sg.w - lr * (E.T @ H) / (H.shape[0] * norm))


def zero_module_update(net: Network, rule: LearningRule, batch: Batch, trace: FloatTrace) -> Grads:
    """The registry's ``float_update`` for the synthetic-gradient rules: the update with an untrained
    (zero) module, i.e. plain truncated e-prop / BPTT (the trainer does not carry the module)."""
    return sg_grads(net, rule, batch, zero_module(net.n_rec), trace)[0]


def sg_step(net: Network, rule: LearningRule, batch: Batch, sg: SynthGrad
            ) -> tuple[Grads, float, dict[str, float], SynthGrad]:
    """One update of a synthetic-gradient rule carrying its module: the seeded scan with ``sg`` (`sg_grads`),
    then one NLMS step of the module (``rule.sg_lr``). Returns (Grads, loss, metrics, updated module);
    the registry's ``carried.step`` (the trainer applies the Grads to the network)."""
    g, loss, m, step = sg_grads(net, rule, batch, sg)
    return g, loss, m, sg_update(sg, step, rule.sg_lr)


SG_KIND = "synthetic_gradient"   # bundle kind of a saved module
SG_SCHEMA = 1


def save_module(sg: SynthGrad, stem) -> None:
    """Save the module as ``<stem>.npz`` + ``<stem>.json`` (`neurochip.io.save_bundle`: per-array sha256,
    manifest digest, atomic, no pickle). The weights are float64 [2N, 2N+1], h = [zbar, a, 1]."""
    from ..io import save_bundle
    save_bundle(stem, SG_KIND, SG_SCHEMA, {"w": np.ascontiguousarray(sg.w, dtype=np.float64)},
                {"n_rec": sg.n_rec, "features": "zbar (N), a (N), 1", "predicts": "dv (N), da (N)"})


def load_module(stem, n_rec: int | None = None) -> SynthGrad:
    """Load a module saved by `save_module`; ``ArtifactError`` naming the file on anything wrong (missing,
    altered or truncated file, another kind, a shape other than [2N, 2N+1], non-finite weights, n_rec not
    the recorded one or, if given, not ``n_rec``)."""
    from ..errors import ArtifactError
    from ..io import load_bundle
    arrays, meta = load_bundle(stem, SG_KIND, SG_SCHEMA)
    if set(arrays) != {"w"}:
        raise ArtifactError(f"{stem}: synthetic-gradient bundle holds arrays {sorted(arrays)}, expected ['w']")
    w = arrays["w"]
    if w.dtype != np.float64:
        raise ArtifactError(f"{stem}: synthetic-gradient weights are {w.dtype}, expected float64")
    try:
        sg = SynthGrad(w)
    except InvalidNetworkError as e:
        raise ArtifactError(f"{stem}: {e}") from None
    if meta.get("n_rec") != sg.n_rec:
        raise ArtifactError(f"{stem}: manifest n_rec {meta.get('n_rec')!r} does not match the weights' {sg.n_rec}")
    if n_rec is not None and sg.n_rec != n_rec:
        raise ArtifactError(f"{stem}: synthetic-gradient module is for {sg.n_rec} neurons, the network has {n_rec}")
    return sg


def train_sg(net: Network, rule: LearningRule, task, iterations: int, batch_size: int, seed: int = 0, *,
             sg: SynthGrad | None = None, learn_sg: bool = True, eval_batches: int = 4
             ) -> tuple[Network, SynthGrad, dict]:
    """Train ``net`` with a synthetic-gradient rule, carrying the module: per iteration one fresh
    'train' batch (the same draws as ``neurochip.train.train``), one seeded scan, one optimiser step on
    the network (``rule.optimizer``, ``rule.lr``) and, if ``learn_sg``, one NLMS step on the module
    (``rule.sg_lr``). ``learn_sg=False`` keeps ``sg`` fixed (a zero module: plain truncated training).
    Returns (network, module, history) with history = {"train": {metric: [per iteration]}, "test": {...}}
    (test: the fixed held-out draws test/0 .. test/eval_batches-1). With ``learn_sg`` this is the loop
    ``neurochip.train.train`` runs for these rules (tests/test_synthetic_gradients.py checks they agree)."""
    from ..train import evaluate
    from ..rulebook import _synthetic
    if rulebook.get(rule.name).carried is not _synthetic.CARRIED:
        raise InvalidNetworkError(f"train_sg needs a synthetic-gradient rule (eprop_sg, bptt_sg), got {rule.name!r}")
    if not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise InvalidNetworkError(f"iterations must be an integer >= 0, got {iterations!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidNetworkError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    sg = zero_module(net.n_rec) if sg is None else sg
    st = OptState()
    hist: dict = {"train": {}}
    t0 = time.perf_counter()
    for it in range(iterations):
        b = task.batch(batch_size, "train", int(seed) * 10**6 + it)
        g, loss, m, step = sg_grads(net, rule, b, sg)
        if not math.isfinite(loss):
            raise InvalidNetworkError(f"training diverged at iteration {it}: loss = {loss} (lower lr={rule.lr})")
        net = apply_update(net, rule, g, st)
        if learn_sg:
            sg = sg_update(sg, step, rule.sg_lr)
        for key, v in m.items():
            hist["train"].setdefault(key, []).append(float(v))
    hist["test"] = evaluate(net, task, batch_size, eval_batches)
    hist["seconds"] = time.perf_counter() - t0
    return net, sg, hist
