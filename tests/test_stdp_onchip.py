"""STDP / R-STDP on chip: the lowered engine rule against the float rule (no lava here; the engine is
checked bit for bit against lava in tests/crosscheck/test_lava_stdp.py)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip.compiler.lower_stdp import (Product, engine_rule, lava_strings, quantise_amplitude, rstdp_products,
                                           stdp_products)
from neurochip.errors import ConfigError
from neurochip.kernels import stdp_fixed as sf
from neurochip.plasticity import pair_terms, stdp_dw


def test_quantise_amplitude_and_refusals():
    assert quantise_amplitude(0.25) == (1, -2) and quantise_amplitude(3 * 2 ** -5) == (3, -5)
    with pytest.raises(ConfigError, match="not representable"):
        quantise_amplitude(1e-4)
    with pytest.raises(ConfigError, match="mantissa"):
        Product(0, sf.DEP_Y0, 9, 0)
    with pytest.raises(ConfigError, match="t_epoch"):
        engine_rule(stdp_products((1, 0), (1, 0)), t_epoch=64)
    assert lava_strings(stdp_products((1, -2), (1, -2)))["dw"] == "1*2^-2 * y0 * x1 - 1*2^-2 * x0 * y1"


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(0, 2 ** 31), st.sampled_from([0.06, 0.1]))
def test_onchip_stdp_follows_the_float_rule(seed, p):
    """Additive pair STDP, t_epoch = 1, traces with impulse 16 and tau 20: the engine's accumulated
    weight change over a run matches the float rule's dw = 2^-2 16 (P - D) (x1 / 16 = float trace):
    cosine > 0.85 and norm ratio within 35 % (one shared rounding draw per step for the whole matrix makes
    the rounding noise correlated; rates kept low enough that the 7-bit traces do not saturate at 127, which
    they do at p = 0.3). Measured over 6,000 draws (seeds 0-2999 at p = 0.06 and 0.1, those past the
    40-norm guard): cosine >= 0.864, ratio 0.853-1.321. Two draws (seeds 400 and 2902 at p = 0.06: 1.28 and
    1.32) lie past the earlier 25 % bound, which a 75-run measurement (0.87-1.12) had set. Seed 400 was drawn
    when this test ran after tests/backends/test_kernel_provenance.py (Hypothesis's example set moved). A rule
    off by a factor of 2 (an exponent off by one) gives a ratio near 0.5 or 2."""
    rng = np.random.default_rng(seed)
    S, n_post, n_pre = 400, 6, 8
    pre = (rng.random((S, n_pre)) < p).astype(np.int64)
    post = (rng.random((S, n_post)) < p).astype(np.int64)
    rule = engine_rule(stdp_products((1, -2), (1, -2)), x_imp=(16.0, 0.0), x_tau=(20, 0), y_imp=(16.0, 0.0, 0.0),
                       y_tau=(20, 0, 0), rng_seed=seed % 1000)
    W0 = np.zeros((n_post, n_pre), np.int64)
    st1, _ = sf.run_engine(rule, sf.init_state(W0), pre, post)
    dW = st1.W.astype(float)
    P, D = pair_terms(pre[None], post[None], 20.0, 20.0, 1.0)
    want = stdp_dw(np.zeros((n_post, n_pre)), P, D, 1.0, 1.0) * 16 * 2 ** -2
    u, v = dW.ravel(), want.ravel()
    if np.linalg.norm(v) < 40:
        return                                        # too few pairs for a statistical comparison
    assert u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) > 0.85
    assert abs(np.linalg.norm(u) / np.linalg.norm(v) - 1) < 0.35


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2 ** 31), st.integers(1, 7), st.integers(-5, 0), st.integers(1, 127))
def test_rstdp_weights_move_only_at_reward_and_by_tag_times_reward(seed, m_r, e_r, code):
    """During the trial (y2 = y3 = 0) W stays put while the tag learns; at the reward step W moves by
    m_r 2^e_r t (y2 - y3) / 2^5 weight units, stochastically rounded (within one unit)."""
    rng = np.random.default_rng(seed)
    S, n_post, n_pre = 60, 4, 5
    pre = (rng.random((S, n_pre)) < 0.3).astype(np.int64)
    post = (rng.random((S, n_post)) < 0.3).astype(np.int64)
    y1 = rng.integers(0, 128, (S, n_post))
    yin = np.zeros((S, 3, n_post), np.int64)
    yin[:, 0] = y1
    rule = engine_rule(rstdp_products((1, -1), (1, -1), 5, (m_r, e_r)), three_factor=True, x_imp=(16.0, 0.0),
                       x_tau=(20, 0), rng_seed=seed % 1000)
    W0 = rng.integers(-100, 100, (n_post, n_pre)) * 2
    s1, _ = sf.run_engine(rule, sf.init_state(W0), pre, post, yin)
    assert (s1.W == W0).all() and (s1.T != 0).any()
    sign = 1 if rng.random() < 0.5 else -1
    rew = np.zeros((1, 3, n_post), np.int64)
    rew[0, 0] = y1[-1]
    rew[0, 1 if sign > 0 else 2] = code
    s2, _ = sf.run_engine(rule, s1, np.zeros((1, n_pre)), np.zeros((1, n_post)), rew)
    want = sign * m_r * 2.0 ** e_r * s1.T.astype(np.int64) * code / 32      # the weight product reads the old tag
    # the product is floored before the 2^(e+7) shift (<= 2^e_r units), then rounded stochastically (< 1);
    # the product and the accumulator saturate at 16 bits (2^15 / 2^7 = 256 weight units), the weights at 8 + sign
    acc = np.clip(W0 * 128.0 + np.clip(want * 128, sf.ACC_MIN, sf.ACC_MAX), sf.ACC_MIN, sf.ACC_MAX) / 128
    assert np.all(np.abs(s2.W - np.clip(acc, -256, 255)) <= 1 + 2.0 ** e_r)
    assert np.any(s2.W != W0) or np.all(np.abs(want) < 1)


@pytest.mark.exhaustive
def test_onchip_rstdp_learns_the_reward_task_slow():
    """The benchmark's on-chip run (benchmarks/rstdp_reward.py, seed 0)."""
    import sys
    sys.path.insert(0, "benchmarks")
    import rstdp_reward as R
    from neurochip.tasks import get_task
    task = get_task("reward_pattern")
    res = R.onchip(R.reward_network(task, 0), task, 30, 16, 0, 8)
    assert res["test_accuracy"] >= 0.8 > res["untrained_test_accuracy"]


def test_onchip_rstdp_run_small():
    """A short on-chip R-STDP run: rewards per trial, events counted, W_in changes only where inputs fired."""
    from neurochip.backends.native_stdp import run_onchip
    from neurochip.compiler import compile as compile_net
    from neurochip.compiler.lower_stdp import lower_stdp
    from neurochip.rules import LearningRule
    from stdp_nets import small_reward_net
    task, net = small_reward_net()
    n = net.n_rec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = compile_net(net, "loihi2")
    rule = LearningRule("rstdp", optimizer="sgd", lr=1.0, stdp_a_plus=0.1, stdp_a_minus=0.1, reward_tau_e=128.0)
    b = task.batch(12, "train", 0)
    low = lower_stdp(net, rule, c, calib_x=b.x[:4])
    assert low.engine.three_factor == 1 and "t * y2" in low.strings["dw"] and "u0 * t" in low.strings["dt"]
    r = run_onchip(c, low, b.x, b.target[:, 0], b.mask)
    assert r.rewards.shape == (12,) and set(np.unique(r.rewards)) <= {0.0, 1.0}
    assert r.events["reward_broadcasts"] == 12 and r.events["weight_writes"] > 0
    silent = b.x.sum((0, 1)) == 0
    assert (r.w_in[:, silent] == (np.asarray(c.w_in)[:, silent] >> 1 << 1)).all()
    # the run's event counts (priced by neurochip.cost, benchmarks/rules_energy.py): the trials' inference
    # events plus the engine's trace updates, weight writes and one reward message per neuron per trial
    T = b.x.shape[1]
    k = r.counts
    assert (k.trials, k.steps) == (12, 12 * T)
    assert k.weight_updates == r.events["weight_writes"] and k.trace_updates == r.events["trace_updates"]
    assert k.learning_signal_msgs == 12 * n
    assert k.input_spikes == int(b.x.sum()) and k.spikes == r.events["trace_updates"] - int(b.x.sum())
    # a chip without a sum-of-products plasticity engine (ReckOn) cannot run the rule: one named violation
    from neurochip.errors import ChipConstraintError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from neurochip.compiler.pipeline import CompileOptions
        cr = compile_net(net, "reckon", options=CompileOptions.make(approximate=("reset", "refractory")))
    with pytest.raises(ChipConstraintError, match="plasticity_engine"):
        lower_stdp(net, rule, cr, calib_x=b.x[:4])


@pytest.mark.parametrize("name", ["stdp", "rstdp"])
def test_compile_lowers_the_stdp_family_to_the_engine_not_as_eprop(name):
    """compile(rule=stdp) once went through the e-prop lowering (a CompiledRule with zero feedback named
    'stdp': `run --learn` then trained e-prop's regulariser and readout, not STDP). Now the rule is lowered to
    the plasticity engine (``plasticity``) and no e-prop rule is compiled; lower_rule itself still refuses it.
    Mutation: drop the check in lower_rule -> the direct call compiles, fails."""
    from neurochip.chips import load_profile
    from neurochip.compiler import compile as compile_net
    from neurochip.compiler.graph import as_graph
    from neurochip.compiler.lower_rule import lower_rule
    from neurochip.compiler.quantize import quantize
    from neurochip.errors import ConfigError
    from neurochip.network import NeuronParams, init_network
    from neurochip.rules import LearningRule
    net = init_network(6, 10, 2, NeuronParams(kind="lif"), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = compile_net(net, "loihi2", LearningRule(name, lr=10.0))
    assert c.rule is None and c.plasticity["rule"] == name and c.provenance["rule"]["name"] == name
    prof = load_profile("loihi2")
    with pytest.raises(ConfigError, match=f"rule '{name}' runs on chip through its own lowering"):
        lower_rule(net, LearningRule(name), prof, quantize(as_graph(net), prof))


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.integers(0, 2 ** 31))
def test_onchip_triplet_follows_the_float_triplet_rule(seed):
    """stdp_triplet's engine products at low rates (traces far from the 7-bit ceiling): the accumulated change
    matches the float triplet rule, A2+ P2 + A3+ P3 - A2- D2 (engine units: impulse 16 per spike, the 3-factor
    product shifted right by 3 bits), where P3 pairs each post spike with the slow post trace *before* it. The
    engine's trace at a spike step already holds that spike's impulse, hence the factor (y2 - 16). Cosine >
    0.9, norm within 25 %. Mutation: (y2 - 0) -> the triplet term counts each post spike itself: fails."""
    from neurochip.compiler.lower_stdp import triplet_products, triplet_shift
    from neurochip.plasticity import triplet_terms
    rng = np.random.default_rng(seed)
    S, n_post, n_pre = 600, 5, 6
    pre = (rng.random((S, n_pre)) < 0.05).astype(np.int64)
    post = (rng.random((S, n_post)) < 0.05).astype(np.int64)
    rule = engine_rule(triplet_products((1, -3), (1, -3), (1, -7), None, 16), x_imp=(16.0, 16.0), x_tau=(20, 100),
                       y_imp=(16.0, 16.0, 0.0), y_tau=(20, 100, 0), rng_seed=seed % 1000)
    st1, _ = sf.run_engine(rule, sf.init_state(np.zeros((n_post, n_pre), np.int64)), pre, post)
    P2, P3, D2, D3 = triplet_terms(pre[None], post[None], 20.0, 20.0, 100.0, 100.0, 1.0)
    want = 2 ** -3 * 16 * (P2 - D2) + 2 ** -7 * 2.0 ** -triplet_shift() * 16 * 16 * P3
    u, v = st1.W.astype(float).ravel(), want.ravel()
    if np.linalg.norm(v) < 30:
        return                                        # too few spikes for a statistical comparison
    assert u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) > 0.9
    assert abs(np.linalg.norm(u) / np.linalg.norm(v) - 1) < 0.25
