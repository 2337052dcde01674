"""`grads(net, rule, batch)`: the float gradient (BPTT) or pseudo-gradient (e-prop family, RFLO)
of a batch, computed offline: forward pass, one backward scan (`scan`), sparse per-sequence sums.

Rules (all share the scan of `neurochip.learning.scan`; F is the feedback matrix [n_rec, n_out]):

| rule            | F        | network path | reset path      | adaptation eligibility |
|-----------------|----------|--------------|-----------------|------------------------|
| bptt            | W_out^T  | yes          | rule (def. yes) | yes                    |
| truncated_bptt  | W_out^T  | yes, k steps | rule (def. yes) | yes, k steps           |
| eprop_symmetric | W_out^T  | no           | rule (def. no)  | yes (eps^a)            |
| eprop_random    | B        | no           | rule (def. no)  | yes (eps^a)            |
| eprop_adaptive  | B        | no           | rule (def. no)  | yes (eps^a)            |
| rflo            | B        | no           | rule (def. no)  | no                     |

RFLO for spiking neurons (after Murray 2019, eLife 8:e43299): Murray's trace
p_ij^t = (1-1/tau) p_ij^{t-1} + (1/tau) phi'(u_i^t) h_j^{t-1} keeps only the leak of the RTRL
Jacobian and uses a fixed random feedback B. Our spiking version keeps only the membrane leak alpha:
e_ji^t = psi_j^t zbar_i^t (phi' -> the pseudo-derivative psi, h -> the alpha-filtered presynaptic
spikes zbar), with no adaptation eligibility eps^a (the threshold-adaptation path is a non-leak
Jacobian term), learning signal B (dE/dy filtered by kappa as in e-prop). For LIF neurons RFLO and
random e-prop coincide; they differ for ALIF.

Readout and bias gradients are exact for every rule: dE/dW_out = c_kappa sum_t dy^t z^t^T,
dE/db_out = sum_t dE/do^t (bias added after the readout filter). Gradients of w_rec are zero on the
diagonal and outside ``net.rec_mask``. The rate regulariser's term enters the scan as a constant
per-neuron learning signal after the kappa filter (pairs with the unfiltered trace, pitfall P6).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numba

from .. import rulebook
from ..errors import InvalidNetworkError
from ..network import Network
from ..rules import LearningRule
from ..simulate import FloatTrace, check_inputs, simulate
from ..tasks.base import Batch
from .losses import rate_regulariser, task_loss, task_metrics
from .scan import accumulate_events, new_out, readout_adjoint, scan_full, scan_local

GRAD_FIELDS = ("w_in", "w_rec", "w_out", "b_out")


@dataclass(frozen=True)
class Grads:
    """Gradient (or weight change) per trainable array, same shapes as the `Network` fields:
    w_in [n_rec, n_in], w_rec [n_rec, n_rec], w_out [n_out, n_rec], b_out [n_out]."""

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray

    def scale(self, s: float) -> "Grads":
        return Grads(*(getattr(self, f) * s for f in GRAD_FIELDS))

    def __add__(self, other: "Grads") -> "Grads":
        return Grads(*(getattr(self, f) + getattr(other, f) for f in GRAD_FIELDS))

    def flat(self, names: tuple[str, ...] = GRAD_FIELDS) -> np.ndarray:
        return np.concatenate([getattr(self, n).ravel() for n in names])

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ScanConfig:
    """How the backward scan treats each path (see the table in this module's docstring)."""

    recurrent: bool
    reset: bool
    adapt: bool
    trunc: int  # 0 = no truncation


def scan_config(rule: LearningRule) -> ScanConfig:
    """The scan's paths as the rule's registry entry declares them (`neurochip.rulebook`)."""
    spec = rulebook.get(rule.name)
    return ScanConfig(recurrent=spec.recurrent, reset=rule.differentiates_reset, adapt=spec.adapt,
                      trunc=int(rule.truncation) if spec.truncated else 0)


def feedback_matrix(net: Network, rule: LearningRule) -> np.ndarray:
    """F [n_rec, n_out] from the rule's registry entry (W_out^T for exact gradients and symmetric
    e-prop, B for random feedback, ...)."""
    return np.ascontiguousarray(rulebook.get(rule.name).feedback(net), dtype=np.float64)


def _threads() -> int:
    return max(1, numba.get_num_threads())


def adjoint_grads(net: Network, x: np.ndarray, trace: FloatTrace, err: np.ndarray, F: np.ndarray,
                  cfg: ScanConfig, reg_signal: np.ndarray | None = None) -> Grads:
    """Gradients from the output error ``err`` = dE/do [B, T, n_out] and per-neuron regulariser
    signal ``reg_signal`` = dE_reg/dz [n_rec] (or None), for feedback F [n_rec, n_out] and scan ``cfg``.
    ``x`` [B, T, n_in] must be the inputs ``trace`` was simulated with."""
    p = net.params
    xf = check_inputs(net, x)
    Bn, T, N = trace.z.shape
    if err.shape != (Bn, T, net.n_out):
        raise InvalidNetworkError(f"err has shape {err.shape}, expected {(Bn, T, net.n_out)}")
    if F.shape != (N, net.n_out):
        raise InvalidNetworkError(f"feedback F has shape {F.shape}, expected {(N, net.n_out)} [n_rec, n_out]")
    err = np.ascontiguousarray(err, dtype=np.float64)
    dy = readout_adjoint(err, p.kappa)
    fct = np.ascontiguousarray(p.c_kappa * F.T)  # Lhat^t = fct^T dy^t + reg, formed inside the scan
    reg = np.zeros(N) if reg_signal is None else np.ascontiguousarray(reg_signal, dtype=np.float64)
    psi = np.ascontiguousarray(trace.psi)
    beta = np.ascontiguousarray(net.beta)
    if cfg.recurrent:
        d = scan_full(psi, dy, fct, reg, np.ascontiguousarray(net.w_rec), beta, p.alpha, p.rho, p.c_in, p.c_a,
                      p.v_th, cfg.reset, cfg.adapt, cfg.trunc, new_out(psi.shape))
    else:
        d = scan_local(psi, dy, fct, reg, beta, p.alpha, p.rho, p.c_a, p.v_th, cfg.reset, cfg.adapt, cfg.trunc,
                       new_out(psi.shape))
    nt = _threads()
    g_in = accumulate_events(xf, d, 0, nt).T * p.c_in
    g_rec = accumulate_events(trace.z, d, 1, nt).T * p.c_in
    g_out = accumulate_events(trace.z, dy, 0, nt).T * p.c_kappa
    net.zero_absent(w_in=g_in, w_rec=g_rec, w_out=g_out)   # no gradient for absent synapses or the diagonal
    g_b = err.sum((0, 1))
    return Grads(w_in=np.ascontiguousarray(g_in), w_rec=np.ascontiguousarray(g_rec),
                 w_out=np.ascontiguousarray(g_out), b_out=g_b)


def loss_terms(net: Network, rule: LearningRule, batch: Batch, trace: FloatTrace):
    """(task loss, dE/do, reg loss, dE_reg/dz, rates Hz) of a simulated batch."""
    loss, err = task_loss(trace.out, batch.target, batch.mask, batch.loss)
    reg_loss, reg_sig, rates = rate_regulariser(trace.z, net.params.dt, rule.reg_rate, rule.target_rate_hz)
    return loss, err, reg_loss, reg_sig, rates


def grads(net: Network, rule: LearningRule, batch: Batch, trace: FloatTrace | None = None
          ) -> tuple[Grads, float, dict[str, float]]:
    """Gradient of E = E_task + E_reg for ``rule`` on ``batch``: returns (Grads, task loss, metrics).

    BPTT rules return the exact gradient (with the pseudo-derivative); the e-prop family and RFLO
    return their approximation. ``trace`` (a `simulate` result for ``batch.x``) is reused if given.
    metrics: loss, reg_loss, rate_hz (mean firing rate), and accuracy/error ('ce') or nmse ('mse').
    """
    if trace is None:
        trace = simulate(net, batch.x)
    loss, err, reg_loss, reg_sig, rates = loss_terms(net, rule, batch, trace)
    local_update = rulebook.get(rule.name).float_update
    if local_update is not None:          # a local plasticity rule (STDP family): no adjoint scan
        g = local_update(net, rule, batch, trace)
    else:
        g = adjoint_grads(net, batch.x, trace, err, feedback_matrix(net, rule), scan_config(rule),
                          reg_sig if rule.reg_rate > 0 else None)
    metrics = {"loss": loss, "reg_loss": reg_loss, "rate_hz": float(rates.mean())}
    metrics.update(task_metrics(trace.out, batch.target, batch.mask, batch.loss))
    return g, loss, metrics


def bptt_gradient(net: Network, batch: Batch, trace: FloatTrace | None = None, *, reset_grad: bool = True,
                  reg_rate: float = 0.0, target_rate_hz: float = 10.0) -> Grads:
    """Exact BPTT gradient dE/dW (reset path differentiated unless ``reset_grad=False``)."""
    rule = LearningRule("bptt", reset_grad=reset_grad, reg_rate=reg_rate, target_rate_hz=target_rate_hz)
    return grads(net, rule, batch, trace)[0]


def weight_change(net: Network, rule: LearningRule, batch: Batch, trace: FloatTrace | None = None,
                  lr: float | None = None) -> Grads:
    """The float weight change of one plain-SGD step for ``batch``: -lr * grads (lr = rule.lr).
    Arrays a rule does not train (rule.train_in/rec/out) are zero. This is what on-chip learning
    is compared against (cosine similarity with `cosine`)."""
    g = grads(net, rule, batch, trace)[0].scale(-(rule.lr if lr is None else lr))
    z = {f: getattr(g, f) for f in GRAD_FIELDS}
    if not rule.train_in:
        z["w_in"] = np.zeros_like(z["w_in"])
    if not rule.train_rec:
        z["w_rec"] = np.zeros_like(z["w_rec"])
    if not rule.train_out:
        z["w_out"] = np.zeros_like(z["w_out"])
    if not (rule.train_out and rule.train_bias):
        z["b_out"] = np.zeros_like(z["b_out"])
    return Grads(**z)


def cosine(a: Grads, b: Grads, names: tuple[str, ...] = ("w_in", "w_rec")) -> float:
    """Cosine similarity of two gradients/weight changes over the named arrays (nan if one is 0)."""
    u, v = a.flat(names), b.flat(names)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    return float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else float("nan")
