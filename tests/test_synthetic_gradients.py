"""Synthetic gradients (e-prop 3, `neurochip.learning.synthetic`): the seeded scan reduces exactly to the
untruncated rule (k >= T) and to the plain truncated rule (zero module); the module's online update
reduces its prediction error; the bootstrapped target is the adjoint the scan carries into a boundary."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from neurochip import Network, NeuronParams
from neurochip.errors import InvalidNetworkError
from neurochip.learning import ScanConfig, adjoint_grads, feedback_matrix, grads, loss_terms
from neurochip.learning.synthetic import (SynthGrad, boundary_steps, features, sg_grads, sg_update, train_sg,
                                          zero_module)
from neurochip.rules import LearningRule
from neurochip.simulate import simulate
from neurochip.tasks import Batch, get_task


def random_net(seed, n_in, n_rec, n_out, kind="alif"):
    """A small random network with varied time constants (as tests/learning/test_gradients.py)."""
    rng = np.random.default_rng(seed)
    params = NeuronParams(kind=kind, tau_m=float(rng.uniform(5, 40)), tau_a=float(rng.uniform(20, 400)),
                          tau_out=float(rng.uniform(5, 40)), v_th=float(rng.uniform(0.3, 1.0)), n_ref=2,
                          gamma_pd=0.3)
    mask = ~np.eye(n_rec, dtype=bool)
    beta = np.zeros(n_rec)
    if kind == "alif":
        beta[n_rec // 2:] = rng.uniform(0.05, 0.5, n_rec - n_rec // 2)
    return Network(params=params, w_in=1.5 * rng.standard_normal((n_rec, n_in)),
                   w_rec=0.6 * rng.standard_normal((n_rec, n_rec)) * mask, w_out=rng.standard_normal((n_out, n_rec)),
                   b_out=rng.standard_normal(n_out), B=rng.standard_normal((n_rec, n_out)), beta=beta, rec_mask=mask)

SETTINGS = dict(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = ("w_in", "w_rec", "w_out", "b_out")
BASE = {"eprop_sg": ("eprop_symmetric", False), "bptt_sg": ("bptt", True)}


def problem(seed, n_rec=5, T=30, B=2, n_in=3, n_out=2, kind="alif"):
    net = random_net(seed, n_in, n_rec, n_out, kind)
    rng = np.random.default_rng(seed + 7)
    x = (rng.random((B, T, n_in)) < 0.3).astype(np.uint8)
    target = rng.standard_normal((B, T, n_out))
    mask = np.zeros((B, T), bool)
    mask[:, -T // 3:] = True          # the error sits at the end of the trial only: a credit gap
    return net, Batch(x=x, target=target, mask=mask, loss="mse")


cases = st.fixed_dictionaries(dict(seed=st.integers(0, 10_000), n_rec=st.integers(2, 6), T=st.integers(4, 40),
                                   kind=st.sampled_from(["lif", "alif"]), rule=st.sampled_from(sorted(BASE)),
                                   reg=st.sampled_from([0.0, 0.5])))


@given(cases, st.integers(0, 20))
@settings(**SETTINGS)
def test_window_as_long_as_the_trial_is_the_untruncated_rule(c, extra):
    """k >= T (and truncation None): no boundary, so any module is ignored and the update equals the
    untruncated base rule's bit for bit (eprop_sg -> eprop_symmetric, bptt_sg -> bptt)."""
    net, b = problem(c["seed"], c["n_rec"], c["T"], kind=c["kind"])
    base, _ = BASE[c["rule"]]
    ref = grads(net, LearningRule(base, reg_rate=c["reg"]), b)[0]
    sg = SynthGrad(np.random.default_rng(c["seed"]).standard_normal((2 * c["n_rec"], 2 * c["n_rec"] + 1)))
    for k in (c["T"] + extra, None):
        g, _, m, step = sg_grads(net, LearningRule(c["rule"], truncation=k, reg_rate=c["reg"]), b, sg)
        assert step.h.shape[1] == 0
        for f in FIELDS:
            assert np.array_equal(getattr(g, f), getattr(ref, f)), f


@given(cases, st.integers(1, 12))
@settings(**SETTINGS)
def test_zero_module_is_the_plain_truncated_rule(c, k):
    """A zero module seeds every boundary with 0: exactly the plain truncated scan (`adjoint_grads` with
    trunc = k), which is also what the registry's ``grads`` returns for the rule."""
    net, b = problem(c["seed"], c["n_rec"], c["T"], kind=c["kind"])
    rule = LearningRule(c["rule"], truncation=k, reg_rate=c["reg"])
    tr = simulate(net, b.x, record_v=True)
    _, err, _, reg_sig, _ = loss_terms(net, rule, b, tr)
    _, recurrent = BASE[c["rule"]]
    cfg = ScanConfig(recurrent=recurrent, reset=rule.differentiates_reset, adapt=True, trunc=k if k < c["T"] else 0)
    ref = adjoint_grads(net, b.x, tr, err, feedback_matrix(net, rule), cfg, reg_sig if c["reg"] > 0 else None)
    g = sg_grads(net, rule, b, zero_module(c["n_rec"]), tr)[0]
    via_registry = grads(net, rule, b)[0]
    for f in FIELDS:
        assert np.array_equal(getattr(g, f), getattr(ref, f)), f
        assert np.array_equal(getattr(via_registry, f), getattr(ref, f)), f


@pytest.mark.parametrize("rule", sorted(BASE))
def test_truncation_loses_credit_and_a_perfect_prediction_restores_it(rule):
    """With gamma = 1 and the module predicting at each boundary exactly the adjoint the untruncated scan
    carries there, the seeded scan IS the untruncated scan: the seeds are injected at the right place.
    (The module here is not linear in h: we seed the scan directly through a module whose h is one-hot
    per (trial, boundary).)"""
    net, b = problem(11, n_rec=4, T=36, B=2)
    k = 10
    base, _ = BASE[rule]
    ref = grads(net, LearningRule(base, reg_rate=0.0), b)[0]
    r = LearningRule(rule, truncation=k, reg_rate=0.0)
    plain = sg_grads(net, r, b, zero_module(4))[0]
    assert not np.allclose(plain.w_in, ref.w_in)        # truncation really cuts credit on this problem
    # the true carried adjoint: targets of the LAST boundary are exact; fill boundaries one by one
    from neurochip.learning import synthetic as S
    tr = simulate(net, b.x, record_v=True)
    steps = boundary_steps(36, k)
    nb = len(steps)
    seeds = np.zeros((2, nb, 8))
    orig = S.features
    try:
        # h := one-hot (trial, boundary) so that a [8, 2*nb+...] module can output any seed per boundary;
        # build w from the exact targets, iterating from the last window (boundary 0) backwards
        S.features = lambda net_, tr_, st_: np.eye(2 * nb)[:, :].reshape(2, nb, 2 * nb)
        for _ in range(nb):
            w = seeds.reshape(2 * nb, 8).T
            step = S.sg_grads(net, r, b, _Module(w), tr)[3]
            seeds = step.target.copy()
        g = S.sg_grads(net, r, b, _Module(seeds.reshape(2 * nb, 8).T), tr)[0]
    finally:
        S.features = orig
    for f in FIELDS:
        np.testing.assert_allclose(getattr(g, f), getattr(ref, f), rtol=1e-10, atol=1e-13)


class _Module:
    """Duck-typed module with an arbitrary [2N, n_features] matrix (test helper)."""

    def __init__(self, w):
        self.w = w
        self.n_rec = w.shape[0] // 2


@given(st.integers(0, 10_000), st.sampled_from(sorted(BASE)), st.sampled_from([0.0, 1.0]))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_online_update_reduces_the_prediction_error_on_a_fixed_problem(seed, rule, gamma):
    """Fixed network and batch, repeated NLMS steps. gamma = 0 (fixed targets): NLMS with step 1 is gradient
    descent on a convex quadratic with step <= 1/L, so the relative prediction error
    |pred - target|^2 / |target|^2 never rises and closes at least a quarter of the gap to the
    least-squares optimum of a linear module within 100 steps. gamma = 1 (targets bootstrapped through
    the module itself): the error falls."""
    net, b = problem(seed, n_rec=4, T=40, B=4)
    r = LearningRule(rule, truncation=8, reg_rate=0.0, sg_discount=gamma)
    tr = simulate(net, b.x, record_v=True)
    sg = zero_module(4)
    first = sg_grads(net, r, b, sg, tr)[3]
    if not np.any(first.target):
        return                           # no credit crosses any boundary on this draw: nothing to learn
    H = first.h.reshape(-1, first.h.shape[-1])
    Y = first.target.reshape(-1, first.target.shape[-1])
    best = float(((H @ np.linalg.lstsq(H, Y, rcond=None)[0] - Y) ** 2).sum() / (Y ** 2).sum())
    errs = []
    for _ in range(100):
        step = sg_grads(net, r, b, sg, tr)[3]
        errs.append(step.error())
        sg = sg_update(sg, step, 1.0)
    assert errs[0] == pytest.approx(1.0)        # zero module: the whole target is error
    if gamma == 0:
        assert np.all(np.diff(errs) <= 1e-12), errs[::20]
        assert errs[-1] < 1.0 - 0.25 * (1.0 - best), (best, errs[::20])
    else:
        assert errs[-1] < 0.98, errs[::20]


def test_features_are_the_filtered_spikes_and_adaptation_at_the_boundary():
    net, b = problem(3, n_rec=4, T=25, B=2)
    tr = simulate(net, b.x, record_v=True)
    steps = boundary_steps(25, 6)
    assert list(steps) == [19, 13, 7, 1]
    h = features(net, tr, steps)
    kappa = net.params.kappa
    for m, t in enumerate(steps):
        zbar = sum(kappa ** (t - s) * tr.z[:, s].astype(float) for s in range(t + 1))
        np.testing.assert_allclose(h[:, m, :4], zbar, rtol=1e-12)
        np.testing.assert_array_equal(h[:, m, 4:8], tr.a[:, t])
    assert np.all(h[..., -1] == 1.0)


def test_bad_options_are_refused():
    with pytest.raises(InvalidNetworkError, match="sg_lr"):
        LearningRule("eprop_sg", sg_lr=2.5)
    with pytest.raises(InvalidNetworkError, match="sg_discount"):
        LearningRule("eprop_sg", sg_discount=-0.1)
    with pytest.raises(InvalidNetworkError, match="truncation"):
        LearningRule("eprop_sg", truncation=0)
    with pytest.raises(InvalidNetworkError, match=r"\[2N, 2N\+1\]"):
        SynthGrad(np.zeros((4, 4)))
    net, b = problem(0, n_rec=3)
    with pytest.raises(InvalidNetworkError, match="module is for 4 neurons"):
        sg_grads(net, LearningRule("eprop_sg", truncation=5), b, zero_module(4))
    task = get_task("evidence", n_cues=1, cue_ms=5, gap_ms=2, delay_ms=5, recall_ms=5)
    with pytest.raises(InvalidNetworkError, match="train_sg needs a synthetic-gradient rule"):
        train_sg(net, LearningRule("eprop_symmetric"), task, 1, 1)


def test_train_sg_runs_and_learns_the_module_only_when_asked():
    task = get_task("evidence", n_cues=1, cue_ms=10, gap_ms=5, delay_ms=20, recall_ms=10, group_size=2)
    from neurochip.network import init_network
    net = init_network(task.n_in, 6, task.n_out, NeuronParams(kind="alif", tau_a=100), n_adaptive=3, seed=0)
    r = LearningRule("eprop_sg", truncation=10)
    _, sg_fixed, h0 = train_sg(net, r, task, 5, 4, learn_sg=False, eval_batches=1)
    assert not np.any(sg_fixed.w) and len(h0["train"]["loss"]) == 5 and "error" in h0["test"]
    _, sg_learnt, _ = train_sg(net, r, task, 5, 4, eval_batches=1)
    assert np.any(sg_learnt.w)


def test_compiler_says_what_the_synthetic_gradient_module_would_cost_on_chip():
    """e-prop 3 is online but its module is not synapse-local: compiling it names the module's size and update
    with the chip's numbers (N = 10: 20 x 21 weights, 9-bit on loihi2), instead of 'needs the backward pass'."""
    import warnings

    from neurochip.compiler import compile as compile_net
    from neurochip.errors import ChipConstraintError
    from neurochip.network import NeuronParams, init_network
    from neurochip.rules import LearningRule
    net = init_network(6, 10, 2, NeuronParams(kind="lif"), seed=0)
    with warnings.catch_warnings(), pytest.raises(ChipConstraintError) as e:
        warnings.simplefilter("ignore")
        compile_net(net, "loihi2", LearningRule("eprop_sg", truncation=10))
    msg = str(e.value)
    assert "20 x 21 = 420 weights (3780 bits at 9-bit weights)" in msg and "backward pass" not in msg
