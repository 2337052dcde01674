"""lower_rule: constants, refusals with named errors, learning rates that reproduce the float step."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from neurochip.compiler.lower_rule import LowerRuleOptions, lower_rule, relower
from neurochip.compiler.pipeline import compile
from neurochip.errors import ChipConstraintError, ConfigError
from neurochip.kernels.fixed_ops import round_shift, stoch_shift
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule


@pytest.fixture(scope="module")
def compiled():
    net = init_network(6, 12, 2, NeuronParams(kind="alif"), seed=0)
    return net, compile(net, "loihi2", LearningRule("eprop_random", lr=1e-3))


def test_rule_fields_fit_profile(compiled):
    net, c = compiled
    r, prof = c.rule, c.profile
    assert r.trace_bits == prof.format.trace_bits and r.acc_bits == prof.learning.accumulator_bits
    assert r.frac_bits == r.acc_bits - prof.format.weight_bits
    assert np.abs(r.B_mant).max() <= prof.format.w_max and r.B_mant.shape == (12, 2)
    assert (r.lr_mant == 1).all()                     # loihi2: lr_format = 'shift' (powers of two)
    assert 1 <= r.pre_inc_in <= (1 << r.trace_bits) - 1 and r.adapt
    # B_mant / 2^b_exp reproduces the float feedback to half an LSB
    assert np.abs(r.B_mant / 2.0 ** r.b_exp - net.B).max() <= 0.5 / 2.0 ** r.b_exp + 1e-12


def test_symmetric_uses_w_out_and_rflo_pseudo_derivative_without_adaptation(compiled):
    net, c = compiled
    cs = relower(c, LearningRule("eprop_symmetric", lr=1e-3))
    wt = np.asarray(c.w_out_float).T
    assert np.abs(cs.rule.B_mant / 2.0 ** cs.rule.b_exp - wt).max() <= 0.5 / 2.0 ** cs.rule.b_exp + 1e-12
    cr = relower(c, LearningRule("rflo", lr=1e-3))
    assert cr.rule.psi_const == 0 and not cr.rule.adapt   # as the float rflo: psi kept, eps^a dropped


def test_refusals(compiled):
    net, c = compiled
    with pytest.raises(ConfigError, match="no local online form"):
        relower(c, LearningRule("bptt"))
    with pytest.raises(ConfigError, match="err_range"):
        LowerRuleOptions(err_range=0)
    prof = c.profile
    from dataclasses import replace
    nolearn = replace(prof, learning=replace(prof.learning, supported=False))
    with pytest.raises(ChipConstraintError, match="learning_supported"):
        relower(replace(c, profile=nolearn), LearningRule("eprop_random"))
    one_form = replace(prof, learning=replace(prof.learning, eligibility=("factorised",)))
    with pytest.raises(ChipConstraintError, match="eligibility_form"):
        relower(replace(c, profile=one_form), LearningRule("eprop_random", eligibility="per_synapse"))


def test_mantissa_exp_learning_rate_is_accurate():
    net = init_network(6, 12, 2, NeuronParams(kind="lif"), seed=0)
    c = compile(net, "generic", LearningRule("eprop_random", lr=3.7e-4))
    rep = c.report["rule"]["lr"]
    assert max(rep["rel_error"]) < 1 / 128                     # 8-bit mantissa


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


@given(st.integers(-10**9, 10**9), st.integers(0, 20))
def test_round_shift_is_nearest_ties_away(x, k):
    want = int(math.copysign(math.floor(abs(x) / 2 ** k + 0.5), x)) if x else 0
    assert round_shift(x, k) == want
