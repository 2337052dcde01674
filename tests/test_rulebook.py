"""The rule registry (neurochip.rulebook): one module per rule, nothing else branches on rule names."""
import numpy as np
import pytest

from neurochip import rulebook
from neurochip.errors import ConfigError, InvalidNetworkError
from neurochip.learning import grads
from neurochip.network import NeuronParams, init_network
from neurochip.rules import ONCHIP_RULES, RULES, LearningRule
from neurochip.tasks import get_task


def test_registry_lists_the_builtin_rules_and_the_rules_module_follows_it():
    assert RULES[:6] == rulebook.BUILTIN
    assert set(RULES) == set(rulebook.names())
    assert set(ONCHIP_RULES) == {n for n in RULES if rulebook.get(n).local}
    assert "bptt" not in ONCHIP_RULES and "eprop_random" in ONCHIP_RULES


def test_unknown_and_duplicate_rules_are_refused():
    with pytest.raises(ConfigError, match="unknown learning rule 'nope'.*eprop_random"):
        rulebook.get("nope")
    with pytest.raises(InvalidNetworkError, match="unknown learning rule"):
        LearningRule("nope")
    with pytest.raises(ConfigError, match="already registered"):
        rulebook.register(rulebook.get("bptt"))
    with pytest.raises(ConfigError, match="cannot be local"):
        rulebook.RuleSpec(name="x", summary="", feedback=lambda n: n.B, recurrent=True, local=True)


@pytest.fixture(scope="module")
def small():
    task = get_task("evidence")
    net = init_network(task.n_in, 12, task.n_out, NeuronParams(kind="alif"), n_adaptive=6, seed=3)
    return task, net, task.batch(3, "train", 0)


def test_sign_symmetric_feedback_uses_the_signs_of_w_out_and_the_magnitudes_of_B(small):
    """eprop_sign with B := |W_out^T| is exactly symmetric e-prop; with the network's random B its
    recurrent gradient differs from both symmetric and random e-prop (so F really is sign(W_out^T)|B|)."""
    task, net, b = small
    g_sym = grads(net, LearningRule("eprop_symmetric"), b)[0]
    net_abs = net.with_weights(B=np.abs(net.w_out.T))
    g_sign_abs = grads(net_abs, LearningRule("eprop_sign"), b)[0]
    for f in ("w_in", "w_rec", "w_out", "b_out"):
        np.testing.assert_allclose(getattr(g_sign_abs, f), getattr(g_sym, f), rtol=1e-12, atol=1e-15)
    g_sign = grads(net, LearningRule("eprop_sign"), b)[0]
    g_rand = grads(net, LearningRule("eprop_random"), b)[0]
    assert not np.allclose(g_sign.w_rec, g_sym.w_rec) and not np.allclose(g_sign.w_rec, g_rand.w_rec)
    F = rulebook.get("eprop_sign").feedback(net)
    assert np.array_equal(np.sign(F), np.sign(net.w_out.T)) and np.allclose(np.abs(F), np.abs(net.B))


def test_eprop_adaptive_post_update_moves_B_with_w_out(small):
    from neurochip.learning import OptState, apply_update
    task, net, b = small
    rule = LearningRule("eprop_adaptive", optimizer="sgd", lr=1e-2, adaptive_decay=0.0)
    g = grads(net, rule, b)[0]
    new = apply_update(net, rule, g, OptState())
    np.testing.assert_allclose(new.B - net.B, (new.w_out - net.w_out).T, atol=1e-15)
    same = apply_update(net, LearningRule("eprop_random", optimizer="sgd", lr=1e-2), g, OptState())
    assert np.array_equal(same.B, net.B)


def test_a_new_rule_compiles_and_learns_on_chip_through_its_module_alone(small):
    """eprop_sign (one module) lowers to the chip: its quantised feedback has the signs of W_out^T and
    the magnitudes of B, and an on-chip learning run changes the weights."""
    from neurochip.backends import get_backend
    from neurochip.compiler import compile as compile_net
    task, net, b = small
    from neurochip.compiler.lower_rule import LowerRuleOptions
    from neurochip.compiler.pipeline import CompileOptions
    # the Adam-equivalent gains move weights within one small batch (plain SGD at the rule's 5e-3 would
    # leave this batch's change below one weight LSB, in the residual)
    cn = compile_net(net, "loihi2", rule=LearningRule("eprop_sign"),
                     options=CompileOptions.make(learn=LowerRuleOptions(lr_mode="adam_equivalent")))
    Bm = np.asarray(cn.rule.B_mant)
    nz = Bm != 0
    assert nz.mean() > 0.9
    assert np.array_equal(np.sign(Bm[nz]), np.sign(net.w_out.T[nz]))
    ratio = Bm[nz] / np.abs(net.B[nz]) * np.sign(Bm[nz])
    assert np.allclose(ratio, np.median(ratio), rtol=0.1 + 1.0 / np.abs(Bm[nz]).min())   # |B_mant| ~ |B| x 2^b_exp
    res = get_backend("native").run(cn, b.x, learn=True, targets=b)
    assert any(np.abs(np.asarray(res.weight_updates[k].todense() if hasattr(res.weight_updates[k], "todense")
                                 else res.weight_updates[k])).sum() > 0 for k in ("w_in", "w_rec", "w_out"))
