"""Exactness of the float gradients: BPTT == independent forward-mode RTRL; e-prop == BPTT without
recurrence; online e-prop == offline e-prop; readout, bias, masks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from neurochip import LearningRule, Network, NeuronParams
from neurochip.learning import ScanConfig, adjoint_grads, eprop_online_grads, feedback_matrix, grads, scan_config
from neurochip.simulate import simulate
from neurochip.tasks import Batch

from .oracle import readout_grad, rtrl

SETTINGS = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rel(a, b):
    scale = max(np.abs(b).max(), 1e-300)
    return np.abs(a - b).max() / scale


def random_net(seed, n_in, n_rec, n_out, kind="alif", scaled_input=False, scaled_readout=True, n_ref=3,
               w_rec_scale=0.6, p_rec=1.0):
    rng = np.random.default_rng(seed)
    params = NeuronParams(kind=kind, tau_m=float(rng.uniform(5, 40)), tau_a=float(rng.uniform(20, 400)),
                          tau_out=float(rng.uniform(5, 40)), v_th=float(rng.uniform(0.3, 1.0)), n_ref=n_ref,
                          gamma_pd=0.3, scaled_input=scaled_input, scaled_readout=scaled_readout)
    gain = 1.0 / (1.0 - params.alpha) if scaled_input else 1.0  # keep the drive comparable
    mask = rng.random((n_rec, n_rec)) < p_rec
    np.fill_diagonal(mask, False)
    w_rec = w_rec_scale * gain * rng.standard_normal((n_rec, n_rec)) * mask
    beta = np.zeros(n_rec)
    if kind == "alif":
        beta[n_rec // 2:] = rng.uniform(0.05, 0.5, n_rec - n_rec // 2)
    return Network(params=params, w_in=1.5 * gain * rng.standard_normal((n_rec, n_in)), w_rec=w_rec,
                   w_out=rng.standard_normal((n_out, n_rec)), b_out=rng.standard_normal(n_out),
                   B=rng.standard_normal((n_rec, n_out)), beta=beta, rec_mask=mask)


def draw(seed, B, T, n_in, n_out):
    rng = np.random.default_rng(seed + 1000)
    x = (rng.random((B, T, n_in)) < 0.3).astype(np.uint8)
    err = rng.standard_normal((B, T, n_out))
    return x, err, rng


shapes = st.fixed_dictionaries(dict(
    seed=st.integers(0, 10_000), n_in=st.integers(1, 4), n_rec=st.integers(2, 6), n_out=st.integers(1, 3),
    B=st.integers(1, 2), T=st.integers(5, 40), kind=st.sampled_from(["lif", "alif"]),
    scaled_input=st.booleans(), scaled_readout=st.booleans(), n_ref=st.integers(1, 4), reset=st.booleans(),
    p_rec=st.sampled_from([1.0, 0.5])))


@given(shapes)
@settings(**SETTINGS)
def test_bptt_equals_rtrl(s):
    net = random_net(s["seed"], s["n_in"], s["n_rec"], s["n_out"], s["kind"], s["scaled_input"], s["scaled_readout"],
                     s["n_ref"], p_rec=s["p_rec"])
    x, err, rng = draw(s["seed"], s["B"], s["T"], s["n_in"], s["n_out"])
    reg = 0.1 * rng.standard_normal(s["n_rec"])
    tr = simulate(net, x)
    g = adjoint_grads(net, x, tr, err, np.ascontiguousarray(net.w_out.T), ScanConfig(True, s["reset"], True, 0), reg)
    gi, gr = rtrl(net, x.astype(float), tr.z.astype(float), tr.psi, err, reg, reset=s["reset"])
    assert np.abs(gr).max() + np.abs(gi).max() > 0 or np.abs(tr.psi).max() == 0
    for a, b in ((g.w_in, gi), (g.w_rec, gr)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8 * max(np.abs(b).max(), 1e-12))
    np.testing.assert_allclose(g.w_out, readout_grad(net, tr.z.astype(float), err), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.b_out, err.sum((0, 1)), rtol=1e-12, atol=1e-12)
    assert (np.diag(g.w_rec) == 0).all() and (g.w_rec[~net.rec_mask] == 0).all()


def test_bptt_equals_rtrl_fixed_case_nontrivial():
    """A fixed case where every gradient block is far from zero (guards against vacuous passes)."""
    net = random_net(3, 4, 6, 2, "alif", n_ref=3)
    x, err, rng = draw(3, 2, 60, 4, 2)
    tr = simulate(net, x)
    assert tr.z.sum() > 10
    g = adjoint_grads(net, x, tr, err, np.ascontiguousarray(net.w_out.T), ScanConfig(True, True, True, 0))
    gi, gr = rtrl(net, x.astype(float), tr.z.astype(float), tr.psi, err)
    assert np.abs(gr).max() > 1e-3
    assert rel(g.w_rec, gr) < 1e-8 and rel(g.w_in, gi) < 1e-8


def _batch_from(x, err_target, kind="mse"):
    B, T, _ = x.shape
    return Batch(x=x, target=err_target, loss=kind, mask=np.ones((B, T), bool))


@given(shapes)
@settings(**SETTINGS)
def test_eprop_symmetric_equals_bptt_without_recurrence(s):
    net = random_net(s["seed"], s["n_in"], s["n_rec"], s["n_out"], s["kind"], s["scaled_input"], s["scaled_readout"],
                     s["n_ref"])
    net = net.with_weights(w_rec=np.zeros_like(net.w_rec))
    x, _, rng = draw(s["seed"], s["B"], s["T"], s["n_in"], s["n_out"])
    batch = _batch_from(x, rng.standard_normal((s["B"], s["T"], s["n_out"])))
    tr = simulate(net, x)
    for reset in (False, True):
        ge = grads(net, LearningRule("eprop_symmetric", reset_grad=reset, reg_rate=0.5), batch, tr)[0]
        gb = grads(net, LearningRule("bptt", reset_grad=reset, reg_rate=0.5), batch, tr)[0]
        for f in ("w_in", "w_rec", "w_out", "b_out"):
            np.testing.assert_allclose(getattr(ge, f), getattr(gb, f), rtol=1e-12, atol=1e-14)


def test_reset_convention_matters_and_recurrence_matters():
    net = random_net(4, 4, 6, 2, "alif", n_ref=2, w_rec_scale=0.8)
    x, _, rng = draw(4, 2, 80, 4, 2)
    batch = _batch_from(x, rng.standard_normal((2, 80, 2)))
    # at w_rec = 0 the reset path alone makes BPTT differ from e-prop (eprop_spec 2.9: ~18 %)
    net0 = net.with_weights(w_rec=np.zeros_like(net.w_rec))
    tr0 = simulate(net0, x)
    assert tr0.z.sum() > 10
    d_reset = rel(grads(net0, LearningRule("eprop_symmetric"), batch, tr0)[0].w_in,
                  grads(net0, LearningRule("bptt"), batch, tr0)[0].w_in)
    assert d_reset > 1e-2
    # with recurrence, e-prop differs from BPTT even with the same reset treatment
    tr = simulate(net, x)
    d_rec = rel(grads(net, LearningRule("eprop_symmetric"), batch, tr)[0].w_rec,
                grads(net, LearningRule("bptt", reset_grad=False), batch, tr)[0].w_rec)
    assert d_rec > 1e-2


@given(shapes, st.sampled_from(["eprop_symmetric", "eprop_random", "eprop_adaptive", "rflo"]))
@settings(**SETTINGS)
def test_online_equals_offline_eprop(s, name):
    net = random_net(s["seed"], s["n_in"], s["n_rec"], s["n_out"], s["kind"], s["scaled_input"], s["scaled_readout"],
                     s["n_ref"], p_rec=s["p_rec"])
    x, err, rng = draw(s["seed"], s["B"], s["T"], s["n_in"], s["n_out"])
    reg = 0.1 * rng.standard_normal(s["n_rec"])
    tr = simulate(net, x)
    rule = LearningRule(name)
    F = feedback_matrix(net, rule)
    off = adjoint_grads(net, x, tr, err, F, scan_config(rule), reg)
    on = eprop_online_grads(net, x, tr, err, F, reg, adapt=name != "rflo")
    for f in ("w_in", "w_rec", "w_out", "b_out"):
        a, b = getattr(off, f), getattr(on, f)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * max(np.abs(b).max(), 1.0))


def test_rflo_differs_from_eprop_only_through_adaptation():
    net = random_net(11, 3, 6, 2, "alif", n_ref=2)
    x, err, _ = draw(11, 2, 80, 3, 2)
    tr = simulate(net, x)
    F = np.ascontiguousarray(net.B)
    g_e = adjoint_grads(net, x, tr, err, F, scan_config(LearningRule("eprop_random")))
    g_r = adjoint_grads(net, x, tr, err, F, scan_config(LearningRule("rflo")))
    lif = net.beta == 0
    np.testing.assert_allclose(g_e.w_in[lif], g_r.w_in[lif], rtol=1e-12, atol=1e-15)
    assert rel(g_r.w_in[~lif], g_e.w_in[~lif]) > 1e-6


trunc_cases = st.fixed_dictionaries(dict(
    seed=st.integers(0, 10_000), n_in=st.integers(1, 4), n_rec=st.integers(2, 6), n_out=st.integers(1, 3),
    B=st.integers(1, 2), T=st.integers(5, 40), kind=st.sampled_from(["lif", "alif"]), n_ref=st.integers(1, 4),
    reset=st.booleans(), p_rec=st.sampled_from([1.0, 0.5]), k=st.integers(1, 12)))


@given(trunc_cases)
@settings(**SETTINGS)
def test_truncated_bptt_equals_truncated_rtrl(s):
    """Truncated BPTT (backward scan, windows cut every k steps from the end) == the forward-mode oracle whose
    influence matrices restart at every window start (tests/learning/oracle.py, trunc=k)."""
    net = random_net(s["seed"], s["n_in"], s["n_rec"], s["n_out"], s["kind"], n_ref=s["n_ref"], p_rec=s["p_rec"])
    x, err, rng = draw(s["seed"], s["B"], s["T"], s["n_in"], s["n_out"])
    reg = 0.1 * rng.standard_normal(s["n_rec"])
    tr = simulate(net, x)
    g = adjoint_grads(net, x, tr, err, np.ascontiguousarray(net.w_out.T), ScanConfig(True, s["reset"], True, s["k"]),
                      reg)
    gi, gr = rtrl(net, x.astype(float), tr.z.astype(float), tr.psi, err, reg, reset=s["reset"], trunc=s["k"])
    for a, b in ((g.w_in, gi), (g.w_rec, gr)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8 * max(np.abs(b).max(), 1e-12))
    np.testing.assert_allclose(g.w_out, readout_grad(net, tr.z.astype(float), err), rtol=1e-12, atol=1e-12)


def test_truncated_bptt_rule_matches_oracle_and_differs_from_full():
    """Through the rule object (`grads` with LearningRule('truncated_bptt')): equal to the truncated oracle, far
    from the full gradient for a short window, equal to it when one window covers the whole sequence."""
    from neurochip.learning import loss_terms
    net = random_net(2, 3, 5, 2, "alif")
    x, _, rng = draw(2, 2, 30, 3, 2)
    batch = _batch_from(x, rng.standard_normal((2, 30, 2)))
    tr = simulate(net, x)
    assert tr.z.sum() > 10
    rule = LearningRule("truncated_bptt", truncation=3, reg_rate=0.5)
    assert scan_config(rule) == ScanConfig(True, True, True, 3)
    _, err, _, reg, _ = loss_terms(net, rule, batch, tr)
    g = grads(net, rule, batch, tr)[0]
    gi, gr = rtrl(net, x.astype(float), tr.z.astype(float), tr.psi, err, reg, reset=True, trunc=3)
    gi0, gr0 = rtrl(net, x.astype(float), tr.z.astype(float), tr.psi, err, reg, reset=True)
    assert rel(g.w_rec, gr) < 1e-10 and rel(g.w_in, gi) < 1e-10
    assert rel(gr, gr0) > 0.3 and rel(gi, gi0) > 0.3          # measured 0.98 / 0.89: truncation is not a no-op
    full = grads(net, LearningRule("bptt", reg_rate=0.5), batch, tr)[0]
    whole = grads(net, LearningRule("truncated_bptt", truncation=30, reg_rate=0.5), batch, tr)[0]
    for f in ("w_in", "w_rec", "w_out", "b_out"):
        np.testing.assert_array_equal(getattr(whole, f), getattr(full, f))


def test_loss_gradient_matches_finite_differences():
    from neurochip.learning import task_loss
    rng = np.random.default_rng(0)
    out = rng.standard_normal((2, 7, 3))
    mask = rng.random((2, 7)) < 0.6
    for kind, target in (("mse", rng.standard_normal((2, 7, 3))), ("ce", rng.integers(0, 3, (2, 7)))):
        E, g = task_loss(out, target, mask, kind)
        num = np.zeros_like(out)
        h = 1e-6
        for idx in np.ndindex(out.shape):
            o1 = out.copy(); o1[idx] += h
            o2 = out.copy(); o2[idx] -= h
            num[idx] = (task_loss(o1, target, mask, kind)[0] - task_loss(o2, target, mask, kind)[0]) / (2 * h)
        np.testing.assert_allclose(g, num, atol=1e-7)
        assert np.abs(g).max() > 1e-3


def test_rate_regulariser_gradient_is_exact():
    """The regulariser is a direct function of z: its dE/dz times dz/dW must equal the RTRL term."""
    from neurochip.learning import rate_regulariser
    rng = np.random.default_rng(1)
    z = (rng.random((3, 50, 4)) < 0.1).astype(np.uint8)
    E, dz, rates = rate_regulariser(z, 1.0, 2.0, 10.0)
    f = z.sum((0, 1)) / (3 * 50)
    assert np.isclose(E, 2.0 * ((f - 0.01) ** 2).sum())
    np.testing.assert_allclose(dz, 2 * 2.0 * (f - 0.01) / (3 * 50))
    np.testing.assert_allclose(rates, f * 1e3)


def test_weight_change_and_cosine_for_onchip_comparison():
    from neurochip.learning import bptt_gradient, cosine, weight_change
    net = random_net(4, 4, 6, 2, "alif", n_ref=2)
    x, _, rng = draw(4, 2, 80, 4, 2)
    batch = _batch_from(x, rng.standard_normal((2, 80, 2)))
    rule = LearningRule("eprop_symmetric", lr=0.01, reg_rate=0.0, train_in=False)
    dw = weight_change(net, rule, batch)
    g = grads(net, rule, batch)[0]
    np.testing.assert_allclose(dw.w_rec, -0.01 * g.w_rec)
    assert (dw.w_in == 0).all()
    gb = bptt_gradient(net, batch, reset_grad=False)
    c = cosine(dw, gb, ("w_rec",))
    u, v = g.w_rec.ravel(), gb.w_rec.ravel()
    assert c == pytest.approx(-(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v)), rel=1e-12)
    # the e-prop descent step points against the exact gradient (measured cosine -0.987 on this weakly recurrent
    # net), but not exactly: the recurrent path it drops is visible (1 + c = 0.013)
    assert c < -0.9 and 1.0 + c > 1e-3
    assert np.isclose(cosine(gb, gb), 1.0)
    net0 = net.with_weights(w_rec=np.zeros_like(net.w_rec))
    assert np.isclose(cosine(weight_change(net0, LearningRule("eprop_symmetric", reg_rate=0.0), batch),
                             bptt_gradient(net0, batch, reset_grad=False), ("w_in",)), -1.0)
