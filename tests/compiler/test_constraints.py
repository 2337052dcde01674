"""Every constraint of every profile triggers its named error with place, needed and available.

For each (profile, constraint) a builder returns (network, rule, options, via) that violates it using the
profile's own numbers, or None when the profile cannot violate it (the feature is always available); those
cases are then asserted to be impossible (the capability is present), and the constraint is triggered on a
variant of the profile instead (test_constraint_on_variant).
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from neurochip.chips import load_profile
from dataclasses import replace

from neurochip.compiler import CompileOptions, PartitionOptions, compile
from neurochip.compiler.check import CONSTRAINTS
from neurochip.compiler.check import violations
from neurochip.compiler.graph import as_graph
from neurochip.errors import ChipConstraintError
from neurochip.rules import LearningRule

from cc_helpers import PROFILES, sparse_net, variant

APPROX = ("reset", "adaptation", "refractory")  # so only the constraint under test fires
ALL = list(CONSTRAINTS) + ["weight_saturation", "cores", "max_fan_out"]


def _rand_sources(n_post, n_pre, k, seed=0, offset=0):
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.choice(n_pre, k, replace=False) for _ in range(n_post)]) + offset
    idx.sort(axis=1)
    return idx


def build(name: str, p) -> tuple | None:
    """(net, rule, CompileOptions, via) violating constraint ``name`` on profile p, or None if impossible."""
    c, f, lc = p.core, p.format, p.learning
    rule = LearningRule(eligibility=lc.eligibility[0] if lc.eligibility else "per_synapse")
    O = CompileOptions.make
    if name == "neuron_model":
        if f.adaptation:
            return None
        return sparse_net(4, kind="alif", beta=np.full(4, 0.1)), None, O(), "check"
    if name == "reset_mode":
        # Either the chip lacks subtraction (auto picks zero, not accepted) or zero is asked for without accepting it.
        return sparse_net(4), None, O(reset="auto" if "subtract" not in f.resets else "zero"), "check"
    if name == "refractory":
        if f.refractory:
            return None
        return sparse_net(4, n_ref=3), None, O(), "check"
    if name == "max_inputs":
        if c.max_inputs is None:
            return None
        return sparse_net(2, n_in=c.max_inputs + 1), None, O(), "check"
    if name == "max_readout":
        lim = c.max_readout if c.max_readout is not None else c.max_neurons
        return sparse_net(1, n_out=lim + 1), None, O(), "check"
    if name == "max_neurons":
        return sparse_net(c.max_neurons * p.mesh.cores + 1, n_out=1, w_out=sp.csr_matrix((1, c.max_neurons * p.mesh.cores + 1))), None, O(), "check"
    if name == "max_fan_in":
        return sparse_net(1, n_in=c.max_fan_in + 1), None, O(), "check"
    if name == "syn_mem_bits":
        per = f.weight_bits + c.syn_overhead_bits
        return sparse_net(1, n_in=c.syn_mem_bits // per + 1), None, O(), "check"
    if name == "learn_state_bits":
        if c.learn_state_bits is None:
            return None
        n = c.learn_state_bits * p.mesh.cores // (2 * f.trace_bits) + 1
        return sparse_net(n, w_out=sp.csr_matrix((1, n))), rule, O(), "check"
    if name == "learning_supported":
        if lc.supported:
            return None
        return sparse_net(4), rule, O(), "check"
    if name == "rule_local":
        if not lc.supported:
            return None
        return sparse_net(4), LearningRule(name="bptt"), O(), "check"
    if name == "eligibility":
        missing = [e for e in ("per_synapse", "factorised") if e not in lc.eligibility]
        if not missing or not lc.supported:
            return None
        return sparse_net(4), LearningRule(eligibility=missing[0]), O(), "check"
    if name == "third_factor":
        if lc.third_factor or not lc.supported:
            return None
        return sparse_net(4), rule, O(), "check"
    if name == "readout_learning":
        if lc.readout_learning or not lc.supported:
            return None
        return sparse_net(4), rule, O(), "check"
    if name == "learning_rounding":
        missing = [r for r in ("nearest", "stochastic") if r not in lc.rounding]
        if not missing or not lc.supported:
            return None
        return sparse_net(4), rule, O(learn_rounding=missing[0]), "check"
    if name == "weight_saturation":
        # Weights so large against v_th that the threshold mantissa bottoms out at 1 and most weights clip.
        big = float((f.w_max + 1) * 2.0 ** (f.weight_exp_max + f.threshold_shift)) * 1e3
        n = 8
        w = np.full((n, 1), big)
        return sparse_net(n, w_in=w), None, O(approximate=APPROX), "compile"
    if name == "cores":
        # Each neuron reads k random sources from a big pool: at most one or two neurons per core by fan-in.
        k = min(c.max_fan_in - 1, c.syn_mem_bits // (f.weight_bits + c.syn_overhead_bits) // 2)
        n_post = p.mesh.cores + 1
        pool = 4 * k
        if n_post * k > 3_000_000 or p.mesh.cores == 1:
            return None
        idx = _rand_sources(n_post, pool, k, seed=1)
        n = pool + n_post
        rows = np.repeat(np.arange(pool, n), k)
        w = sp.csr_matrix((np.full(rows.size, 1e-3), (rows, idx.ravel())), shape=(n, n))
        return sparse_net(n, w_rec=w, w_out=sp.csr_matrix((1, n))), None, O(approximate=APPROX), "compile"
    if name == "max_fan_out":
        # A full core of A hub neurons, read in full by R neurons spread over enough cores (syn memory per core
        # limits R per core) that A x (R cores) exceeds max_fan_out.
        A = min(c.max_neurons, c.max_fan_in - 1)
        per_syn = f.weight_bits + c.syn_overhead_bits
        r_per_core = max(1, min(c.max_neurons, c.syn_mem_bits // (A * per_syn + per_syn)))
        r_cores = c.max_fan_out // A + 2
        R = r_cores * r_per_core + 1
        if R * A > 3_000_000 or A + R > c.max_neurons * p.mesh.cores or p.mesh.cores == 1:
            return None
        rows = np.repeat(np.arange(A, A + R), A)
        cols = np.tile(np.arange(A), R)
        n = A + R
        w = sp.csr_matrix((np.full(rows.size, 1e-3), (rows, cols)), shape=(n, n))
        # Refinement off: the FM pass would spread the hubs and legitimately remove the violation.
        return sparse_net(n, w_rec=w, w_out=sp.csr_matrix((1, n))), None, replace(O(approximate=APPROX), partition=PartitionOptions(passes=0)), "compile"
    raise AssertionError(name)


def _assert_named(err: ChipConstraintError, name: str):
    names = [v.rule for v in err.violations]
    assert name in names, f"expected {name}, got {names}"
    v = next(v for v in err.violations if v.rule == name)
    msg = str(err)
    assert v.place and str(v.needed) and str(v.available)
    assert name in msg and v.place in msg
    assert "needs" in msg and "available" in msg
    return v


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", ALL)
def test_constraint_triggers(profile, name):
    p = load_profile(profile)
    case = build(name, p)
    if case is None:
        # The profile always satisfies this constraint: show the capability really is there.
        cap = {"neuron_model": p.format.adaptation, "refractory": p.format.refractory, "max_inputs": p.core.max_inputs is None,
               "learn_state_bits": p.core.learn_state_bits is None, "learning_supported": p.learning.supported,
               "rule_local": not p.learning.supported,
               "eligibility": set(p.learning.eligibility) == {"per_synapse", "factorised"},
               "third_factor": p.learning.third_factor, "readout_learning": p.learning.readout_learning,
               "learning_rounding": set(p.learning.rounding) == {"nearest", "stochastic"},
               "cores": p.mesh.cores == 1 or p.core.max_fan_in > 20_000, "max_fan_out": p.mesh.cores == 1 or p.core.max_neurons > 4096}
        assert cap[name], f"{profile}: {name} declared untriggerable but the profile lacks the capability"
        pytest.skip(f"{profile} cannot violate {name} (capability present); see test_constraint_on_variant")
    net, rule, opts, via = case
    if via == "check":
        vs = violations(as_graph(net), rule, p, opts.check)
        err = ChipConstraintError(vs, p.name)
        _assert_named(err, name)
    else:
        with pytest.raises(ChipConstraintError) as ei:
            compile(net, p, rule, options=opts)
        _assert_named(ei.value, name)


VARIANTS = {
    "neuron_model": ("loihi2", {"format": {"adaptation": False}}),
    "refractory": ("loihi2", {"format": {"refractory": False}}),
    "max_inputs": ("loihi2", {"core": {"max_inputs": 16}}),
    "learn_state_bits": ("loihi2", {"core": {"learn_state_bits": 64}}),
    "learning_supported": ("loihi2", {"learning": {"supported": False}}),
    "eligibility": ("loihi2", {"learning": {"eligibility": ["factorised"]}}),
    "third_factor": ("loihi2", {"learning": {"third_factor": False}}),
    "readout_learning": ("loihi2", {"learning": {"readout_learning": False}}),
    "learning_rounding": ("loihi2", {"learning": {"rounding": ["stochastic"]}}),
    "cores": ("loihi2", {"mesh": {"cores": 2}, "core": {"max_neurons": 8, "max_fan_in": 3}}),
    "max_fan_out": ("generic", {"core": {"max_fan_out": 8, "max_neurons": 4}}),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_constraint_on_variant(name):
    base, change = VARIANTS[name]
    p = variant(base, **change)
    if name == "cores":
        n = 6  # each neuron: input 0 + two recurrent sources = 3 = max_fan_in, so one neuron per core
        rows = np.repeat(np.arange(n), 2)
        cols = np.stack([(np.arange(n) + 1) % n, (np.arange(n) + 3) % n], 1).ravel()
        w = sp.csr_matrix((np.full(2 * n, 0.01), (rows, cols)), shape=(n, n))
        case = (sparse_net(n, w_rec=w, w_out=sp.csr_matrix((1, n))), None, CompileOptions.make(), "compile")
    elif name == "max_fan_out":
        n = 12  # all-to-all: with <= 4 neurons per core every neuron reaches >= 3 cores, so every core > 8
        w = sp.csr_matrix(0.01 * (1 - np.eye(n)))
        case = (sparse_net(n, w_rec=w, w_out=sp.csr_matrix((1, n))), None, CompileOptions.make(), "compile")
    else:
        case = build(name, p)
    assert case is not None
    net, rule, opts, via = case
    with pytest.raises(ChipConstraintError) as ei:
        compile(net, p, rule, options=opts)
    _assert_named(ei.value, name)


def test_all_violations_reported_together():
    p = load_profile("reckon")
    net = sparse_net(300, n_in=300, kind="alif", n_ref=4, beta=np.full(300, 0.1), n_out=20)
    with pytest.raises(ChipConstraintError) as ei:
        compile(net, p)
    names = {v.rule for v in ei.value.violations}
    assert {"neuron_model", "refractory", "max_inputs", "max_readout", "max_neurons"} <= names


def test_approximations_make_it_fit(small_net):
    p = load_profile("reckon")
    with pytest.raises(ChipConstraintError):
        compile(small_net, p)
    cn = compile(small_net, p, options=CompileOptions.make(approximate=("adaptation", "refractory")))
    assert cn.neuron_kind == "lif" and cn.n_ref == 1 and cn.report["quantize"]["adaptation_dropped"]


# --- register bounds and the overflow policy (issue 15) ----------------------------------------------------

def _wide_input_net(n_in: int = 1100):
    """The issue's network: 1,100 inputs (fan-in inside loihi2's max_fan_in 4096) of one v_th each."""
    from neurochip.network import NeuronParams, init_network
    net = init_network(n_in, 4, 2, NeuronParams(kind="lif"), seed=0)
    return replace(net, w_in=np.ones_like(net.w_in))


def test_overflow_report_names_the_numbers():
    import warnings

    from neurochip.compiler.check import FixedPointOverflowWarning
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        c = compile(_wide_input_net(), "loihi2", options=CompileOptions.make(overflow="allow"))
    assert not [w for w in rec if issubclass(w.category, FixedPointOverflowWarning)], "allow: no warning"
    b = c.report["overflow"]
    cur = b["registers"]["current"]
    assert b["semantics"] == "lava" and cur["can_overflow"] and "current" in b["can_overflow"]
    assert b["projections"]["in"]["fan_in_max"] == 1100
    # worst case = fan-in x max mantissa x 2^e x 2^S, exactly
    p = b["projections"]["in"]
    assert p["worst_sum"] == 1100 * p["max_mantissa"] and p["worst_input"] == (p["worst_sum"] << p["exp"]) << 6
    assert cur["worst"] >= p["worst_input"] > cur["limit"] == (1 << 23) - 1
    assert "current (24-bit" in b["verdict"] and str(cur["limit"]) in b["verdict"]


def test_overflow_policy_error_warn_allow():
    from neurochip.compiler.check import FixedPointOverflowWarning
    from neurochip.errors import FixedPointOverflowError
    net = _wide_input_net()
    with pytest.raises(FixedPointOverflowError, match="current"):
        compile(net, "loihi2", options=CompileOptions.make(overflow="error"))
    with pytest.warns(FixedPointOverflowWarning, match="can overflow: current"):
        compile(net, "loihi2")                                    # default: warn
    from neurochip.errors import ConfigError
    with pytest.raises(ConfigError, match="overflow must be"):
        CompileOptions.make(overflow="ignore")


def test_cannot_overflow_compiles_silently_under_error():
    from neurochip.network import NeuronParams, init_network
    net = init_network(2, 3, 1, NeuronParams(kind="lif"), seed=0)
    net = replace(net, w_in=net.w_in * 0.1, w_rec=net.w_rec * 0.1, w_out=net.w_out * 0.1)
    c = compile(net, "loihi2", options=CompileOptions.make(overflow="error"))
    assert c.report["overflow"]["verdict"].startswith("cannot overflow") and not c.report["overflow"]["can_overflow"]


def test_readout_simultaneous_spikes_bound():
    """The readout's worst case is every neuron spiking in one step (not the scale's n_ref average): many
    neurons into one readout with a short time constant exceed the 24-bit register."""
    from neurochip.compiler.check import register_bounds
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crosscheck"))
    from xc_nets import make_compiled
    rng = np.random.default_rng(0)
    c = make_compiled(rng, n_in=2, n_rec=200, n_out=1, w_lim=255, e_out=4, dk=4095, p_rec=0.0)
    c = replace(c, w_out=np.full((1, 200), 255, np.int32))
    r = register_bounds(c)["registers"]["readout"]
    assert r["input_worst"] == (200 * 255 << 4) << 6 and r["can_overflow"]
    c2 = replace(c, w_out=np.full((1, 200), 2, np.int32), e_out=0)
    assert not register_bounds(c2)["registers"]["readout"]["can_overflow"]
