"""Curvature: finite-difference Hessian-vector products and power iteration (neurochip.analysis.curvature)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from neurochip.analysis import arnoldi, dominant_eigenvalue, fd_hessian, flatten, hvp, power_iteration, unflatten
from neurochip.errors import ConfigError, InvalidNetworkError
from neurochip.learning.losses import softmax
from neurochip.simulate import simulate

from .tiny import tiny_batch, tiny_net


def _theta_index(net):
    """(array name, row, col) of each parameter in theta order, written here from the curvature docstring
    (w_in row-major, the existing w_rec synapses in row-major mask order, w_out row-major), not via `flatten`."""
    idx = [("w_in", i, j) for i in range(net.n_rec) for j in range(net.n_in)]
    idx += [("w_rec", i, j) for i in range(net.n_rec) for j in range(net.n_rec) if net.rec_mask[i, j]]
    idx += [("w_out", k, j) for k in range(net.n_out) for j in range(net.n_rec)]
    return idx


def independent_jacobian(net, batch, eps=1e-4):
    """J [P, P] of the exact surrogate gradient by coordinate central differences of `bptt_gradient` itself
    (never through `hvp` or `fd_hessian`): column i = (g(w + eps e_i) - g(w - eps e_i)) / (2 eps), each
    perturbed network checked to keep the unperturbed raster (inside the spike-pattern cell J is defined in)."""
    from neurochip.learning import bptt_gradient
    idx = _theta_index(net)
    z0 = simulate(net, batch.x).z

    def g_of(name, i, j, d):
        w = getattr(net, name).copy()
        w[i, j] += d
        n = net.with_weights(**{name: w})
        tr = simulate(n, batch.x)
        assert np.array_equal(tr.z, z0), (name, i, j, d)          # no spike flipped: J is the cell's Jacobian
        g = bptt_gradient(n, batch, tr, reset_grad=True, reg_rate=0.0)
        return np.array([getattr(g, a)[r, c] for a, r, c in idx])

    J = np.empty((len(idx), len(idx)))
    for col, (name, i, j) in enumerate(idx):
        J[:, col] = (g_of(name, i, j, eps) - g_of(name, i, j, -eps)) / (2.0 * eps)
    return J


@pytest.fixture(scope="module")
def case():
    net, batch = tiny_net(), tiny_batch()
    J = independent_jacobian(net, batch)
    return net, batch, J


def readout_hessian(net, batch) -> np.ndarray:
    """Analytic Hessian of the 'ce' task loss in w_out at a fixed raster: (1/M) sum over masked (b, t) of
    kron(diag(p) - p p^T, zk zk^T), zk = c_kappa * kappa-filtered spikes (flatten order: [k, j] row-major)."""
    p = net.params
    tr = simulate(net, batch.x)
    zk = np.zeros((batch.x.shape[0], batch.x.shape[1], net.n_rec))
    acc = np.zeros((batch.x.shape[0], net.n_rec))
    for t in range(batch.x.shape[1]):
        acc = p.kappa * acc + tr.z[:, t]
        zk[:, t] = p.c_kappa * acc
    prob = softmax(tr.out)
    M = batch.mask.sum()
    H = np.zeros((net.n_out * net.n_rec,) * 2)
    for b, t in zip(*np.nonzero(batch.mask)):
        q = prob[b, t]
        H += np.kron(np.diag(q) - np.outer(q, q), np.outer(zk[b, t], zk[b, t])) / M
    return H


def test_flatten_roundtrip_and_mask():
    net = tiny_net()
    th = flatten(net)
    assert th.size == net.n_rec * net.n_in + net.rec_mask.sum() + net.n_out * net.n_rec
    back = unflatten(net, th + 1.0)
    np.testing.assert_array_equal(back.w_rec[~net.rec_mask], 0.0)  # diagonal / absent synapses are not parameters
    np.testing.assert_allclose(flatten(back), th + 1.0)
    with pytest.raises(InvalidNetworkError):
        unflatten(net, th[:-1])
    with pytest.raises(ConfigError):
        flatten(net, ("w_in", "b_out"))


def test_hvp_matches_independent_fd_jacobian(case):
    net, batch, J = case
    assert np.abs(J).max() > 1e-2                   # a non-trivial operator (a zero J would match anything)
    rng = np.random.default_rng(1)
    for _ in range(3):
        v = rng.standard_normal(J.shape[0])
        h = hvp(net, batch, v)                      # default step EPS_REL * ||theta||, along v/||v||
        assert h.flips == 0 and h.tries == 1
        np.testing.assert_allclose(h.hv, J @ v, rtol=0, atol=1e-6 * np.linalg.norm(J @ v))
    # the library's own full Jacobian (columns of hvp) agrees with the independent one
    np.testing.assert_allclose(fd_hessian(net, batch, eps=1e-4), J, rtol=0, atol=1e-6 * np.abs(J).max())


def test_readout_block_is_the_exact_hessian_and_raster_decouples(case):
    net, batch, J = case
    P_rec = net.n_rec * net.n_in + int(net.rec_mask.sum())
    H = readout_hessian(net, batch)
    np.testing.assert_allclose(J[P_rec:, P_rec:], H, rtol=0, atol=1e-7 * np.abs(H).max())
    # g_out does not depend on (w_in, w_rec) while the raster is fixed: the lower-left block vanishes
    assert np.abs(J[P_rec:, :P_rec]).max() < 1e-7 * np.abs(J).max()
    assert np.abs(J[:P_rec, P_rec:]).max() > 1e-3 * np.abs(J).max()   # ... so J is not symmetric


def test_power_iteration_on_tiny_net_matches_explicit_eigenvalues(case):
    net, batch, J = case
    ev = np.linalg.eigvals(J)                       # J is not symmetric (see above): general eigenvalues
    lam = ev[np.argmax(np.abs(ev))]
    assert abs(lam.imag) < 1e-9
    r = dominant_eigenvalue(net, batch, seed=0, tol=1e-9, max_iter=300)
    assert r["converged"] and r["max_flips"] == 0
    assert r["sign"] == int(np.sign(lam.real))
    assert abs(r["value"] - lam.real) <= 1e-5 * abs(lam.real)
    # readout block: symmetric, so eigvalsh of the analytic Hessian
    evh = np.linalg.eigvalsh(readout_hessian(net, batch))
    lo = evh[np.argmax(np.abs(evh))]
    ro = dominant_eigenvalue(net, batch, ("w_out",), seed=0, tol=1e-9, max_iter=300)
    assert ro["converged"] and ro["sign"] == int(np.sign(lo))
    assert abs(ro["value"] - lo) <= 1e-5 * abs(lo)


@given(seed=st.integers(0, 10_000), dim=st.integers(2, 30), sign=st.sampled_from([-1.0, 1.0]),
       scale=st.floats(1e-3, 1e3), ratio=st.floats(0.05, 0.7))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_power_iteration_recovers_known_dominant_eigenvalue(seed, dim, sign, scale, ratio):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    lam = np.concatenate([[sign * scale], rng.uniform(-ratio, ratio, dim - 1) * scale])
    A = (Q * lam) @ Q.T
    r = power_iteration(lambda v: A @ v, dim, seed=seed + 1, tol=1e-12, max_iter=2000)
    assert r.converged
    assert r.sign == int(sign)
    assert abs(r.value - lam[0]) <= 1e-8 * scale
    assert r.residual <= 1e-4


def test_power_iteration_reports_a_plus_minus_pair_as_not_converged():
    A = np.diag([2.0, -2.0, 0.5])
    r = power_iteration(lambda v: A @ v, 3, seed=0, tol=1e-10, max_iter=50)
    assert not r.converged and r.iterations == 50


def test_power_iteration_rejects_bad_settings():
    with pytest.raises(ConfigError):
        power_iteration(lambda v: v, 0)
    with pytest.raises(ConfigError):
        power_iteration(lambda v: v, 3, tol=0.0)


def test_hvp_shrinks_the_step_when_spikes_flip():
    net, batch = tiny_net(), tiny_batch()
    v = np.random.default_rng(0).standard_normal(flatten(net).size)
    h = hvp(net, batch, v, eps=0.5, max_shrink=6)   # a huge step flips spikes; it is shrunk until none flip
    assert h.tries > 1 and h.flips == 0 and h.eps < 0.5


def test_arnoldi_resolves_a_plus_minus_pair_and_matches_the_tiny_net(case):
    A = np.diag([2.0, -2.0, 0.5, 0.1, 0.0])
    r = arnoldi(lambda v: A @ v, 5, seed=0, tol=1e-10)
    assert r["converged"] and sorted(re for re, _ in r["eigenvalues"]) == pytest.approx([-2.0, 2.0])
    net, batch, J = case
    ev = sorted(np.linalg.eigvals(J), key=lambda z: -abs(z))[:2]
    r = arnoldi(lambda v: J @ v, J.shape[0], seed=0, tol=1e-10)
    got = [complex(re, im) for re, im in r["eigenvalues"]]
    assert np.allclose(got, ev, rtol=1e-6, atol=1e-9)
