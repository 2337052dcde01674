"""lower_rule: constants, refusals with named errors, gains that reproduce the float SGD step, the
compile option replacing `relower`, provenance that tells the truth, and the artifact round trip.
(Moved from tests/kernels/test_kernel_lower_rule.py and extended.)"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from neurochip.compiler.lower_rule import EligibilityTruncationWarning, LowerRuleOptions, lower_rule, truncation_note
from neurochip.compiler.pipeline import CompileOptions, compile
from neurochip.errors import ChipConstraintError, ConfigError
from neurochip.kernels.fixed_ops import round_shift, stoch_shift
from neurochip.kernels.learn_rows import rnd
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule


def _c(net, profile="loihi2", rule=None, **learn):
    return compile(net, profile, rule or LearningRule("eprop_random", lr=1e-3),
                   options=CompileOptions.make(learn=LowerRuleOptions(**learn)))


@pytest.fixture(scope="module")
def compiled():
    net = init_network(6, 12, 2, NeuronParams(kind="alif"), seed=0)
    return net, _c(net)


def test_rule_fields_fit_profile(compiled):
    net, c = compiled
    r, prof = c.rule, c.profile
    assert r.trace_bits == prof.format.trace_bits
    assert r.acc_bits == max(prof.learning.accumulator_bits, 32)          # the batch accumulator (documented)
    assert r.frac_bits == r.acc_bits - prof.format.weight_bits
    assert np.abs(r.B_mant).max() <= prof.format.w_max and r.B_mant.shape == (12, 2)
    assert 1 <= r.pre_inc_in <= (1 << r.trace_bits) - 1 and r.adapt
    assert r.trace_round == "stochastic"                                  # loihi2 lists stochastic rounding
    # B_mant / 2^b_exp reproduces the float feedback to half an LSB
    assert np.abs(r.B_mant / 2.0 ** r.b_exp - net.B).max() <= 0.5 / 2.0 ** r.b_exp + 1e-12
    # the weight LSB per projection is the quantiser's, saved with the rule
    q = c.report["quantize"]
    for i, name in enumerate(("in", "rec", "out")):
        lsb = next(v["lsb"] for k, v in q.items() if isinstance(v, dict) and "lsb" in v and k.endswith(name)) \
            if any(isinstance(v, dict) and "lsb" in v for v in q.values()) else None
        if lsb is not None:
            assert r.w_lsb[i] == pytest.approx(lsb, rel=1e-12)


def test_symmetric_uses_w_out_and_rflo_pseudo_derivative_without_adaptation():
    net = init_network(6, 12, 2, NeuronParams(kind="alif"), seed=0)
    cs = _c(net, rule=LearningRule("eprop_symmetric", lr=1e-3))
    wt = np.asarray(net.w_out).T
    assert np.abs(cs.rule.B_mant / 2.0 ** cs.rule.b_exp - wt).max() <= 0.5 / 2.0 ** cs.rule.b_exp + 1e-12
    cr = _c(net, rule=LearningRule("rflo", lr=1e-3))
    assert cr.rule.psi_const == 0 and not cr.rule.adapt   # as the float rflo: psi kept, eps^a dropped


def test_refusals(compiled):
    net, c = compiled
    with pytest.raises(ConfigError, match="no local online form"):
        lower_rule(net, LearningRule("bptt"), c.profile, None)
    with pytest.raises(ConfigError, match="err_range"):
        LowerRuleOptions(err_range=0)
    with pytest.raises(ConfigError, match="batch"):
        LowerRuleOptions(batch=0)
    with pytest.raises(ConfigError, match="lr_mode"):
        LowerRuleOptions(lr_mode="adam")
    prof = c.profile
    nolearn = replace(prof, learning=replace(prof.learning, supported=False))
    with pytest.raises(ChipConstraintError, match="learning_supported"):
        _c(net, nolearn)
    one_form = replace(prof, learning=replace(prof.learning, eligibility=("factorised",)))
    with pytest.raises(ChipConstraintError, match="eligibility"):         # the check pass (or lower_rule) names it
        _c(net, one_form, rule=LearningRule("eprop_random", eligibility="per_synapse"))


def test_too_few_bits_is_a_named_error_with_the_numbers(compiled):
    net, _ = compiled
    # a 12-bit accumulator leaves 3 bits below a 9-bit weight's LSB
    with pytest.raises(ChipConstraintError, match="learning_accumulator_bits") as e:
        _c(net, acc_bits=12)
    assert "13" in str(e.value) and "12" in str(e.value)
    # a learning rate so small that the largest product of a batch rounds to 0 in a 16-bit accumulator
    with pytest.raises(ChipConstraintError, match="learning_update_resolution"):
        _c(net, rule=LearningRule("eprop_random", lr=1e-12, optimizer="sgd"), acc_bits=16)
    # and one so large that a single product leaves the register
    with pytest.raises(ChipConstraintError, match="learning_rate_range"):
        _c(net, rule=LearningRule("eprop_random", lr=1e25, optimizer="sgd"))


def test_gains_reproduce_the_float_sgd_step(compiled):
    """ct / 2^(frac + shift) = lr u_L u_ebar / w_lsb: one integer product in weight LSBs at N = 1."""
    net, _ = compiled
    for elig in ("per_synapse", "factorised"):
        c = _c(net, rule=LearningRule("eprop_random", lr=3.7e-3, optimizer="sgd", eligibility=elig))
        r = c.rule
        u = r.scales
        for p, (u_eb, lsb) in enumerate(((u[3], r.w_lsb[0]), (u[4], r.w_lsb[1]))):
            tot = r.prod_shift[p] + (r.m_shift if elig == "factorised" else 0)
            got = r.ct[p] / 2.0 ** (r.frac_bits + tot + r.pre_shift[0])
            assert got == pytest.approx(r.lr * u[5] * u_eb / lsb, rel=1e-9)
        assert r.prod_shift.min() >= 1 and (r.ct > 2 ** 20).all()        # >= 20 significant bits at N = 1
        assert (r.pre_shift == 0).all()                                  # Loihi 2 widths: no pre-rounding
    # wide traces (16 bits): raw products are pre-rounded so the gain keeps its bits for large batches
    g = _c(net, "generic", rule=LearningRule("eprop_random", lr=3.7e-3, optimizer="sgd", eligibility="factorised")).rule
    assert g.pre_shift[0] > 0 and (g.ct[:2] > 2 ** 30).all()


def test_learning_options_are_a_compile_option_and_provenance_tells_the_truth(compiled):
    net, c0 = compiled
    rule = LearningRule("eprop_random", lr=1e-3)
    c = _c(net, rule=rule, lr=0.25, rounding="nearest", batch=8, eligibility="factorised")
    assert c.rule.lr == 0.25 and c.rule.batch == 8 and c.rule.eligibility == "factorised"
    assert c.rule.rounding == "nearest"
    assert c.provenance["rule"]["lr"] == 0.25                            # not the rule's 1e-3
    assert c.report["rule"]["lr"]["source"] == "LowerRuleOptions.lr" and c.report["rule"]["lr"]["mode"] == "sgd"
    assert c.provenance["options"]["learn"]["lr"] == 0.25
    # default: plain SGD at the rule's rate, even for an Adam rule (adam_equivalent is opt-in), reported as such
    assert c0.rule.lr == 1e-3 and c0.report["rule"]["lr"]["mode"] == "sgd"
    assert (c0.rule.calib_target == 0).all() and c0.provenance["rule"]["lr"] == 1e-3
    ca = _c(net, rule=rule, lr_mode="adam_equivalent")
    assert ca.report["rule"]["lr"]["mode"] == "adam_equivalent" and (ca.rule.calib_target > 0).all()


def test_regulariser_constants(compiled):
    net, _ = compiled
    c = _c(net, rule=LearningRule("eprop_random", lr=1e-3, reg_rate=2.0, target_rate_hz=10.0))
    r = c.rule
    assert r.reg and r.f0_code == round(10.0 * net.params.dt * 1e-3 * 2 ** r.rate_bits)
    assert (r.cr[:2] > 0).all() and r.cr[2] == 0
    # cr / ct = (2 c_reg u_e / (2^15 dt^2)) / (u_L u_ebar) with u_ebar = c_kappa u_e
    want = 2.0 * 2.0 / (2 ** r.rate_bits * net.params.dt ** 2) / (r.scales[5] * net.params.c_kappa)
    assert r.cr[0] / r.ct[0] == pytest.approx(want, rel=1e-6)
    r0 = _c(net, rule=LearningRule("eprop_random", lr=1e-3, reg_rate=0.0)).rule
    assert not r0.reg and (r0.cr == 0).all()
    rep = c.report["rule"]["regulariser"]
    assert rep["reg_rate"] == 2.0 and rep["f0_code"] == r.f0_code


def test_artifact_round_trip_keeps_the_rule(compiled, tmp_path):
    from neurochip.compiler.artifact import CompiledNetwork
    _, c = compiled
    c.save(tmp_path / "net")
    d = CompiledNetwork.load(tmp_path / "net")
    a, b = c.rule.to_dict(), d.rule.to_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k


def test_lower_rule_pass_is_pure(compiled):
    """Lowering twice from the same quantiser result gives the same constants (no hidden state)."""
    net, _ = compiled
    seen = {}
    compile(net, "loihi2", LearningRule("eprop_random", lr=1e-3), callback=lambda n, x: seen.setdefault(n, x))
    q = seen["quantize"]
    from neurochip.chips.profile import load_profile
    a, _ = lower_rule(net, LearningRule("eprop_random", lr=1e-3), load_profile("loihi2"), q)
    b, _ = lower_rule(net, LearningRule("eprop_random", lr=1e-3), load_profile("loihi2"), q)
    for k, v in a.to_dict().items():
        assert np.array_equal(np.asarray(v), np.asarray(b.to_dict()[k])), k


@njit(cache=True)
def _stoch_mean(x, k, n, seed):
    s = 0
    for i in range(n):
        s += stoch_shift(x, k, np.uint64(seed * 1000003 + i))
    return s / n


@settings(max_examples=30, deadline=None)
@given(st.integers(-10**6, 10**6), st.integers(1, 12))
def test_stochastic_shift_is_unbiased_and_bounded(x, k):
    m = _stoch_mean(np.int64(x), k, 4000, 1)
    assert abs(m - x / 2 ** k) < 0.05
    assert math.floor(x / 2 ** k) <= stoch_shift(np.int64(x), k, np.uint64(5)) <= math.floor(x / 2 ** k) + 1


@settings(deadline=None)
@given(st.integers(-10**9, 10**9), st.integers(0, 20))
def test_round_shift_is_nearest_ties_away(x, k):
    want = int(math.copysign(math.floor(abs(x) / 2 ** k + 0.5), x)) if x else 0
    assert round_shift(x, k) == want


@settings(deadline=None)
@given(st.integers(-2**40, 2**40), st.integers(1, 30))
def test_kernel_rnd_is_symmetric_nearest(x, k):
    """The learning kernel's branch-free rounding == round half away from zero, and rnd(-x) = -rnd(x)."""
    want = int(math.copysign(math.floor(abs(x) / 2 ** k + 0.5), x)) if x else 0
    assert rnd(np.int64(x), np.int64(k)) == want
    assert rnd(np.int64(-x), np.int64(k)) == -want


def test_report_text_names_the_rule_and_what_its_form_drops(compiled):
    """The compile report prints the lowered rule, and warns when an ALIF network's rule loses eps^a."""
    from neurochip.compiler.table import report_text
    net, c = compiled                                  # ALIF, per_synapse, stochastic traces: eps^a kept
    txt = report_text(c.report)
    assert "on-chip rule eprop_random: per_synapse eligibility" in txt and "trace 7" in txt
    assert "eps^a" not in txt
    cf = _c(net, eligibility="factorised")
    assert "adaptation eligibility (eps^a) is dropped" in report_text(cf.report)
    with pytest.warns(EligibilityTruncationWarning):
        ct = _c(net, trace_rounding="trunc")
    assert "truncating trace rounding" in report_text(ct.report)
    lif = init_network(6, 12, 2, NeuronParams(kind="lif"), seed=0)
    assert "eps^a" not in report_text(_c(lif, eligibility="factorised").report)   # LIF: nothing to drop


def test_truncating_trace_decays_warn_with_their_numbers(compiled):
    """Per-synapse eligibility under truncating decays warns, in the report and as a warning, with the unit
    below which a truncated decay removes a whole unit per step (ceil(2^D / dk): 21 for tau 20 at 12 bits); the
    stochastic default and the factorised form (no per-synapse decay) do not."""
    import warnings
    from neurochip.compiler.table import report_text
    net, c = compiled
    assert "trace_rounding_warning" not in c.report["rule"] and "warning:" not in report_text(c.report)
    with pytest.warns(EligibilityTruncationWarning, match=r"below 21 units"):
        ct = _c(net, trace_rounding="trunc")
    assert ct.rule.trace_round == "trunc"
    assert "below 21 units" in ct.report["rule"]["trace_rounding_warning"]
    assert "warning: per-synapse eligibility with truncating trace decays" in report_text(ct.report)
    assert truncation_note("per_synapse", "trunc", 200, 12, 31, 9).startswith(
        "per-synapse eligibility with truncating trace decays: an eligibility value below 21 units (of 255")
    with warnings.catch_warnings():
        warnings.simplefilter("error", EligibilityTruncationWarning)
        _c(net, trace_rounding="trunc", eligibility="factorised")
        _c(net, trace_rounding="stochastic")
