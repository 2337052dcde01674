"""Float STDP (neurochip.plasticity, rules stdp / stdp_triplet / rstdp): the textbook weight change for
hand-computed spike pairs, and brute force over every spike pair for random spike times (hypothesis)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip.errors import InvalidNetworkError
from neurochip.learning import grads
from neurochip.network import NeuronParams, init_network
from neurochip.plasticity import pair_terms, reward_weights, stdp_dw, trial_rewards, triplet_terms
from neurochip.rules import LearningRule
from neurochip.tasks import get_task

T = 40


def trains(times, T=T):
    s = np.zeros((1, T, 1))
    s[0, sorted(set(times)), 0] = 1
    return s


def brute_pairs(pre, post, tp, tm, ap, am, nearest=False):
    """Textbook pair STDP by enumerating spike pairs (dt = 1 ms)."""
    pre, post = sorted(set(pre)), sorted(set(post))
    dw = 0.0
    for q in post:                                    # potentiation: pre at or before each post spike
        cand = [p for p in pre if p <= q]
        for p in (cand[-1:] if nearest else cand):
            dw += ap * math.exp(-(q - p) / tp)
    for p in pre:                                     # depression: post at or before each pre spike
        cand = [q for q in post if q <= p]
        for q in (cand[-1:] if nearest else cand):
            dw -= am * math.exp(-(p - q) / tm)
    return dw


def test_single_pair_textbook_values():
    # pre at 10, post at 15: A+ e^{-5/20}; post at 10, pre at 15: -A- e^{-5/10}; simultaneous: A+ - A-
    for pre, post, want in (([10], [15], 0.01 * math.exp(-5 / 20)), ([15], [10], -0.02 * math.exp(-5 / 10)),
                            ([12], [12], 0.01 - 0.02)):
        P, D = pair_terms(trains(pre), trains(post), 20.0, 10.0, 1.0)
        assert stdp_dw(np.zeros((1, 1)), P, D, 0.01, 0.02)[0, 0] == pytest.approx(want, rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, T - 1), max_size=8), st.lists(st.integers(0, T - 1), max_size=8),
       st.floats(1.0, 50.0), st.floats(1.0, 50.0), st.booleans())
def test_pair_stdp_equals_sum_over_spike_pairs(pre, post, tp, tm, nearest):
    P, D = pair_terms(trains(pre), trains(post), tp, tm, 1.0, pairing="nearest" if nearest else "all")
    got = stdp_dw(np.zeros((1, 1)), P, D, 0.7, 0.4)[0, 0]
    assert got == pytest.approx(brute_pairs(pre, post, tp, tm, 0.7, 0.4, nearest), rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, T - 1), min_size=1, max_size=6), st.lists(st.integers(0, T - 1), min_size=1, max_size=6),
       st.floats(-0.9, 0.9))
def test_multiplicative_form_scales_by_the_soft_bounds(pre, post, w):
    P, D = pair_terms(trains(pre), trains(post), 20.0, 20.0, 1.0)
    W = np.full((1, 1), w)
    got = stdp_dw(W, P, D, 0.3, 0.2, form="multiplicative", w_min=-1.0, w_max=1.0)[0, 0]
    assert got == pytest.approx(0.3 * (1 - w) * P[0, 0] - 0.2 * (w + 1) * D[0, 0], rel=1e-12, abs=1e-15)
    # the bounds hold: potentiation vanishes at w_max, depression at w_min
    assert stdp_dw(np.ones((1, 1)), P, D, 0.3, 0.0, form="multiplicative")[0, 0] == 0
    assert stdp_dw(-np.ones((1, 1)), P, D, 0.0, 0.2, form="multiplicative")[0, 0] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, T - 1), max_size=6), st.lists(st.integers(0, T - 1), max_size=6))
def test_triplet_terms_by_enumeration(pre, post):
    """P3 = sum over post spikes q, pre p <= q, earlier post q' < q of e^{-(q-p)/tau+} e^{-(q-q')/tau_y}."""
    tp, tm, tx, ty = 17.0, 23.0, 60.0, 90.0
    P2, P3, D2, D3 = triplet_terms(trains(pre), trains(post), tp, tm, tx, ty, 1.0)
    pre_s, post_s = sorted(set(pre)), sorted(set(post))
    p3 = sum(math.exp(-(q - p) / tp) * math.exp(-(q - q2) / ty) for q in post_s for p in pre_s if p <= q
             for q2 in post_s if q2 < q)
    d3 = sum(math.exp(-(p - q) / tm) * math.exp(-(p - p2) / tx) for p in pre_s for q in post_s if q <= p
             for p2 in pre_s if p2 < p)
    assert P3[0, 0] == pytest.approx(p3, rel=1e-9, abs=1e-12) and D3[0, 0] == pytest.approx(d3, rel=1e-9, abs=1e-12)
    assert P2[0, 0] - D2[0, 0] == pytest.approx(brute_pairs(pre, post, tp, tm, 1, 1), rel=1e-9, abs=1e-12)


def test_reward_weights_and_trial_rewards():
    out = np.zeros((3, 4, 2))
    out[0, 2:, 1] = 1.0      # predicts 1
    out[1, 2:, 0] = 1.0      # predicts 0
    out[2, :2, 1] = 5.0      # outside the window: predicts 0 (tie -> 0)
    mask = np.zeros((3, 4), bool)
    mask[:, 2:] = True
    target = np.array([[1] * 4, [1] * 4, [0] * 4])
    R = trial_rewards(out, target, mask)
    assert R.tolist() == [1.0, 0.0, 1.0]
    w = reward_weights(R, 4, 2.0, 1.0)
    np.testing.assert_allclose(w[:, -1], R - R.mean())
    np.testing.assert_allclose(w[0, :-1] / w[0, 1:], math.exp(-0.5))
    assert (reward_weights(R, 4, 2.0, 1.0, baseline=False)[1] == 0).all()


@pytest.fixture(scope="module")
def small():
    task = get_task("evidence")
    net = init_network(task.n_in, 12, task.n_out, NeuronParams(kind="lif"), seed=2)
    return net, task.batch(3, "train", 0)


def test_grads_dispatches_to_the_rules_float_update(small):
    """stdp's Grads are -dw on W_in (pre = inputs) and W_rec (pre = spikes, masked), zero readout."""
    from neurochip.simulate import simulate
    net, b = small
    rule = LearningRule("stdp", stdp_pairing="nearest", stdp_a_plus=0.02)
    g, loss, m = grads(net, rule, b)
    tr = simulate(net, b.x)
    P, D = pair_terms(b.x, tr.z, 20.0, 20.0, 1.0, pairing="nearest")
    np.testing.assert_allclose(g.w_in, -(0.02 * P - 0.0105 * D), rtol=1e-12, atol=1e-15)
    assert (g.w_rec[~net.rec_mask] == 0).all() and np.abs(g.w_rec).sum() > 0
    assert (g.w_out == 0).all() and (g.b_out == 0).all() and math.isfinite(loss) and "accuracy" in m
    g0 = grads(net, LearningRule("stdp", train_rec=False), b)[0]
    assert (g0.w_rec == 0).all()


def test_rstdp_update_is_reward_weighted_stdp(small):
    net, b = small
    rule = LearningRule("rstdp", reward_baseline=False)
    g = grads(net, rule, b)[0]
    from neurochip.simulate import simulate
    tr = simulate(net, b.x)
    R = trial_rewards(tr.out, b.target, b.mask)
    wt = reward_weights(R, b.x.shape[1], 200.0, 1.0, False)
    P, D = pair_terms(b.x, tr.z, 20.0, 20.0, 1.0, weight=wt)
    np.testing.assert_allclose(g.w_in, -(0.01 * P - 0.0105 * D), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("bad, match", [
    (dict(stdp_a_plus=-1.0), "stdp_a_plus must be a finite number >= 0"),
    (dict(stdp_tau_minus=0.0), "stdp_tau_minus must be a finite number > 0 ms"),
    (dict(stdp_pairing="closest"), "stdp_pairing must be 'all' or 'nearest'"),
    (dict(stdp_form="mult"), "stdp_form must be 'additive' or 'multiplicative'"),
    (dict(stdp_w_min=1.0, stdp_w_max=1.0), "stdp_w_min < stdp_w_max"),
    (dict(reward_tau_e=float("nan")), "reward_tau_e must be"),
    (dict(reward_baseline="yes"), "reward_baseline must be true or false"),
])
def test_bad_stdp_hyper_parameters_are_refused(bad, match):
    with pytest.raises(InvalidNetworkError, match=match):
        LearningRule("stdp", **bad)
