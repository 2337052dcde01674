"""Loss-landscape curvature: the dominant eigenvalue of the surrogate Hessian (Liu et al., NeurIPS 2022).

Which Hessian (eprop_spec 3.4 and pitfall P13)
-----------------------------------------------
Spikes z = H(v - A) are piecewise constant in the weights, so the Hessian of the true spiking loss is zero
almost everywhere (and undefined where a spike flips). What we measure instead is the **surrogate
Hessian**: the Jacobian J(theta) = d g(theta) / d theta of the *exact surrogate gradient* g, i.e. the
BPTT gradient of the task loss with the pseudo-derivative psi (`neurochip.learning.bptt_gradient`,
``reset_grad=True``, no rate regulariser), whatever rule trained the weights. The rule's truncation is
never part of it: a network trained by e-prop is analysed with the same exact g as one trained by BPTT.

J is taken within the *spike-pattern cell* of theta (the set of weights giving the same raster on the
batch): Hv is a central difference of g whose step is small enough that no spike flips (checked; the
step is shrunk when one does). Inside a cell the raster is fixed, so with theta = (w_in, w_rec | w_out):

    J = [[A, C],        A = d g_rec / d theta_rec   (psi's dependence on v, the W_rec path of the scan)
         [0, H_oo]]     H_oo = d g_out / d w_out    (the exact Hessian of the loss in w_out, PSD for ce/mse)

g_out does not depend on (w_in, w_rec) while the raster is fixed, hence the zero block: J is not symmetric.
Its eigenvalues are those of A and of H_oo. Power iteration on J with the Rayleigh quotient v.Jv (v of
unit norm) returns the largest-|lambda| real eigenvalue *with its sign* (S6's ||Hv|| has no sign);
when the dominant eigenvalues are a complex pair or a +-lambda pair it does not converge, and says so.
``names=('w_out',)`` restricts the operator to the principal block H_oo: the curvature of the true loss
in the readout weights, exact and symmetric (w_out never changes the raster).

Parameter vector theta (`flatten`): w_in [n_rec, n_in] row-major, then the existing recurrent synapses
w_rec[rec_mask] (row-major order of the mask; the diagonal and absent synapses are not parameters),
then w_out [n_out, n_rec]. b_out is not included (it is not a synaptic weight on chip). With a layer map
(`Network.in_mask` / `out_mask`) only the existing input / readout synapses are parameters, in the same
row-major order of their masks.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from ..errors import ConfigError, InvalidNetworkError
from ..network import Network
from ..simulate import simulate
from ..tasks.base import Batch

WEIGHTS = ("w_in", "w_rec", "w_out")
EPS_REL = 1e-6      # default central-difference step, relative to ||theta|| (see `hvp`)
MAX_SHRINK = 4      # times the step is divided by 10 when a spike flips


# --------------------------------------------------------------------------------------------------
# theta <-> Network
# --------------------------------------------------------------------------------------------------
def _check_names(names) -> tuple[str, ...]:
    names = tuple(names)
    bad = [n for n in names if n not in WEIGHTS]
    if bad or not names or len(set(names)) != len(names):
        raise ConfigError(f"curvature weights must be a non-empty subset of {WEIGHTS} without repeats, got {names}")
    return tuple(n for n in WEIGHTS if n in names)  # canonical order


def _exists(net: Network, n: str) -> np.ndarray | None:
    """The synapses of weight array ``n`` that are parameters (absent ones are not), or None when all are:
    rec_mask for w_rec, the layer map's in_mask / out_mask for w_in / w_out."""
    if n == "w_rec":
        return net.rec_mask
    m = net.in_mask if n == "w_in" else net.out_mask
    return None if m.all() else m


def flatten(net: Network, names=WEIGHTS) -> np.ndarray:
    """theta [P]: the named weight arrays of ``net`` in the order of the module docstring."""
    parts = []
    for n in _check_names(names):
        a, m = getattr(net, n), _exists(net, n)
        parts.append(a.ravel() if m is None else a[m])
    return np.concatenate(parts)


def unflatten(net: Network, theta: np.ndarray, names=WEIGHTS) -> Network:
    """Copy of ``net`` whose named weights are taken from ``theta`` (inverse of `flatten`)."""
    names = _check_names(names)
    theta = np.asarray(theta, np.float64)
    kw, i = {}, 0
    for n in names:
        a, m = getattr(net, n), _exists(net, n)
        k = a.size if m is None else int(m.sum())
        if i + k > theta.size:
            break
        if m is None:
            w = theta[i:i + k].reshape(a.shape)
        else:
            w = np.zeros_like(a)
            w[m] = theta[i:i + k]
        kw[n] = w
        i += k
    if i != theta.size or len(kw) != len(names):
        raise InvalidNetworkError(f"theta has {theta.size} entries, the weights {names} of this network have "
                                  f"{flatten(net, names).size}")
    return net.with_weights(**kw)


def grad_flat(g, net: Network, names=WEIGHTS) -> np.ndarray:
    """Flatten a `Grads` (or any object with w_in/w_rec/w_out) in `flatten`'s order."""
    parts = []
    for n in _check_names(names):
        a, m = np.asarray(getattr(g, n)), _exists(net, n)
        parts.append(a.ravel() if m is None else a[m])
    return np.concatenate(parts)


# --------------------------------------------------------------------------------------------------
# gradient and Hessian-vector products
# --------------------------------------------------------------------------------------------------
def exact_gradient(net: Network, batch: Batch, names=WEIGHTS, trace=None) -> tuple[np.ndarray, np.ndarray]:
    """(g [P], z [B, T, n_rec] raster): the exact surrogate BPTT gradient of the task loss (reset path
    differentiated, no regulariser) w.r.t. the named weights, and the spikes it was computed on."""
    from ..learning import bptt_gradient
    tr = simulate(net, batch.x) if trace is None else trace
    g = bptt_gradient(net, batch, tr, reset_grad=True, reg_rate=0.0)
    return grad_flat(g, net, names), tr.z


@dataclass(frozen=True)
class HVP:
    """One Hessian-vector product: hv [P] = J v, the step eps (absolute, along the unit vector v),
    the number of tries (1 + shrinks) and the spike flips (entries of z that differ from the
    unperturbed raster, summed over +eps and -eps) of the accepted step (0 unless every try flipped)."""

    hv: np.ndarray
    eps: float
    tries: int
    flips: int


def hvp(net: Network, batch: Batch, v: np.ndarray, names=WEIGHTS, *, eps: float | None = None,
        z0: np.ndarray | None = None, max_shrink: int = MAX_SHRINK) -> HVP:
    """J v by central differences of the exact surrogate gradient: (g(theta + e u) - g(theta - e u)) / (2 e) * ||v||
    with u = v / ||v||.

    Step: e = EPS_REL * max(||theta||, 1) by default. Why: g is piecewise smooth with jumps where a spike
    flips; a flip changes g by O(||g||), which divided by 2e swamps J v, so e must be small enough that
    the raster stays in its cell; float64 round-off in g (~1e-13 relative after ~1e6 summed terms) divided
    by e ~ 1e-6 ||theta|| leaves ~1e-7 relative noise, and the O(e^2) truncation error is negligible.
    If a flip is seen at +-e the step is divided by 10 (at most ``max_shrink`` times); ``z0`` is the
    unperturbed raster (computed when not given). Checked against a full finite-difference Jacobian in
    tests/analysis/test_curvature.py.
    """
    names = _check_names(names)
    v = np.asarray(v, np.float64)
    nv = float(np.linalg.norm(v))
    theta = flatten(net, names)
    if v.shape != theta.shape:
        raise InvalidNetworkError(f"v has shape {v.shape}, theta has {theta.shape}")
    if nv == 0.0:
        return HVP(np.zeros_like(v), 0.0, 0, 0)
    u = v / nv
    if z0 is None:
        z0 = simulate(net, batch.x).z
    e = EPS_REL * max(float(np.linalg.norm(theta)), 1.0) if eps is None else float(eps)
    if not (e > 0 and np.isfinite(e)):
        raise ConfigError(f"finite-difference step must be > 0, got {e!r}")
    if max_shrink < 0:
        raise ConfigError(f"max_shrink must be >= 0, got {max_shrink}")
    k = 0
    while True:
        gp, zp = exact_gradient(unflatten(net, theta + e * u, names), batch, names)
        gm, zm = exact_gradient(unflatten(net, theta - e * u, names), batch, names)
        flips = int((zp != z0).sum() + (zm != z0).sum())
        if flips == 0 or k == max_shrink:  # accepted (or out of shrinks: the flips are reported)
            return HVP((gp - gm) / (2.0 * e) * nv, e, k + 1, flips)
        e /= 10.0
        k += 1


def fd_hessian(net: Network, batch: Batch, names=WEIGHTS, eps: float | None = None) -> np.ndarray:
    """The full finite-difference Jacobian J [P, P] (column i = J e_i), for tiny networks and tests."""
    names = _check_names(names)
    P = flatten(net, names).size
    z0 = simulate(net, batch.x).z
    J = np.empty((P, P))
    for i in range(P):
        e_i = np.zeros(P)
        e_i[i] = 1.0
        J[:, i] = hvp(net, batch, e_i, names, eps=eps, z0=z0).hv
    return J


# --------------------------------------------------------------------------------------------------
# power iteration
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Eigen:
    """Dominant (largest |lambda|) eigenvalue estimate.

    value: the Rayleigh quotient v.Av of the last unit iterate (units of the loss per weight^2);
    sign: +1 / -1 / 0; iterations: operator applications; residual: ||A v - value v|| / |value|
    (0 = exact eigenpair); converged: the stopping test of `power_iteration` passed; history: value per
    iteration; vector: the last unit iterate (the eigenvector estimate, `flatten` order)."""

    value: float
    sign: int
    iterations: int
    residual: float
    converged: bool
    history: tuple[float, ...]
    vector: np.ndarray

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("vector")
        d["history"] = list(self.history)
        return d


def power_iteration(apply: Callable[[np.ndarray], np.ndarray], dim: int, *, seed: int = 0, tol: float = 1e-4,
                    max_iter: int = 100, res_tol: float | None = None) -> Eigen:
    """Power iteration for the largest-|lambda| eigenvalue of the linear operator ``apply`` on R^dim.

    Start: a seeded N(0, I) vector, normalised. Each step w = A v, value = v.w (deflation-free Rayleigh
    quotient; it keeps the sign, unlike ||A v||), residual = ||w - value v|| / |value|, v <- w / ||w||.
    Stops when |value_k - value_{k-1}| <= tol |value_k| and residual <= res_tol (default 10 sqrt(tol):
    the eigenvector converges like the square root of the Rayleigh quotient for symmetric A), or after
    ``max_iter`` applications (converged=False). For a +-lambda pair or a complex dominant pair the
    iterates never settle and converged stays False.
    """
    if dim < 1 or max_iter < 1 or not (tol > 0):
        raise ConfigError(f"power iteration needs dim >= 1, max_iter >= 1, tol > 0; got {dim}, {max_iter}, {tol}")
    res_tol = 10.0 * np.sqrt(tol) if res_tol is None else res_tol
    v = np.random.default_rng(seed).standard_normal(dim)
    v /= np.linalg.norm(v)
    hist: list[float] = []
    value, res, conv = 0.0, float("inf"), False
    for _ in range(max_iter):
        w = np.asarray(apply(v), np.float64)
        value = float(v @ w)
        nw = float(np.linalg.norm(w))
        res = float(np.linalg.norm(w - value * v) / abs(value)) if value != 0 else float("inf")
        hist.append(value)
        if nw == 0.0:  # A v = 0: v is in the null space; the operator (restricted to the start) is 0
            res, conv = 0.0, True
            break
        if len(hist) > 1 and abs(hist[-1] - hist[-2]) <= tol * abs(value) and res <= res_tol:
            conv = True
            break
        v = w / nw
    return Eigen(value=value, sign=int(np.sign(value)), iterations=len(hist), residual=res, converged=conv,
                 history=tuple(hist), vector=v)


def arnoldi(apply: Callable[[np.ndarray], np.ndarray], dim: int, *, k: int = 2, seed: int = 0, tol: float = 1e-6,
            max_iter: int = 300) -> dict:
    """Cross-check for power iteration when it does not converge (a +-lambda or complex dominant pair of the
    non-symmetric J): the ``k`` largest-|lambda| eigenvalues by implicitly restarted Arnoldi (ARPACK,
    scipy.sparse.linalg.eigs) on the same operator, seeded start vector. Returns {'eigenvalues': [[re, im],
    ...] sorted by |lambda| descending, 'matvecs': operator applications, 'converged': bool}."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs
    if dim < k + 2:
        raise ConfigError(f"Arnoldi needs dim >= k + 2; got dim {dim}, k {k} (use power_iteration)")
    n = [0]

    def mv(v):
        n[0] += 1
        return np.asarray(apply(np.asarray(v, np.float64).ravel()), np.float64)

    op = LinearOperator((dim, dim), matvec=mv, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(dim)
    try:
        vals, conv = eigs(op, k=k, which="LM", v0=v0, tol=tol, maxiter=max_iter, return_eigenvectors=False), True
    except ArpackNoConvergence as e:
        vals, conv = e.eigenvalues, False
    vals = sorted(np.asarray(vals, complex), key=lambda z: -abs(z))
    return {"eigenvalues": [[float(z.real), float(z.imag)] for z in vals], "matvecs": n[0], "converged": conv}


# --------------------------------------------------------------------------------------------------
# the measurement
# --------------------------------------------------------------------------------------------------
def dominant_eigenvalue(net: Network, batch: Batch, names=WEIGHTS, *, seed: int = 0, tol: float = 1e-3,
                        max_iter: int = 30, eps: float | None = None, arnoldi_fallback: bool = False) -> dict:
    """Dominant eigenvalue (largest |lambda|, with sign) of the surrogate Hessian J of the task loss of
    ``net`` on the fixed ``batch`` w.r.t. the weights ``names`` (see the module docstring).

    Returns a JSON-able dict: value, sign, iterations, residual, converged, history, n_params, weights,
    eps (largest step used), max_flips (worst spike flips of an accepted step; > 0 means the estimate
    crossed a cell boundary and is unreliable), loss (task loss on the batch), hessian ('surrogate').
    Cost: 4 simulations + 2 backward scans per iteration. With ``arnoldi_fallback``, a run that did not
    converge is followed by `arnoldi` (k = 2, max(3, max_iter // 10) restarts at most)
    and its result is added under 'arnoldi' (the power-iteration fields are kept as they are).
    """
    from ..learning import task_loss
    names = _check_names(names)
    tr = simulate(net, batch.x)
    z0 = tr.z
    steps: list[HVP] = []

    def apply(v):
        h = hvp(net, batch, v, names, eps=eps, z0=z0)
        steps.append(h)
        return h.hv

    P = flatten(net, names).size
    eig = power_iteration(apply, P, seed=seed, tol=tol, max_iter=max_iter)
    ar = arnoldi(apply, P, seed=seed, tol=tol, max_iter=max(3, max_iter // 10)) if arnoldi_fallback and not eig.converged and P >= 4 \
        else None
    loss = task_loss(tr.out, batch.target, batch.mask, batch.loss)[0]
    out = eig.to_dict()
    if ar is not None:
        out["arnoldi"] = ar
    out.update(n_params=int(flatten(net, names).size), weights=list(names), loss=float(loss),
               eps=max((s.eps for s in steps), default=0.0), max_flips=max((s.flips for s in steps), default=0),
               shrinks=sum(s.tries - 1 for s in steps), batch_trials=int(batch.x.shape[0]),
               hessian="surrogate: Jacobian of the exact pseudo-derivative BPTT gradient of the task loss "
                       "within the spike-pattern cell" if names != ("w_out",) else
                       "exact: Hessian of the task loss in w_out (the raster does not depend on w_out)")
    return out
