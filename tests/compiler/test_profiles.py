"""Shipped chip profiles: load, carry sourced costs, and hold the formats the compiler relies on."""
import math

import pytest

from neurochip.chips import load_profile
from neurochip.errors import ConfigError

from cc_helpers import PROFILES, profile_dict, variant


@pytest.mark.parametrize("name", PROFILES)
def test_profile_loads_and_costs_are_sourced(name):
    p = load_profile(name)
    assert p.name == name
    assert p.mesh.cores <= p.mesh.cols * p.mesh.rows * p.mesh.cores_per_tile
    for ev, c in p.costs.items():
        assert c.source.strip() and c.grade in ("M", "S", "D", "A", "C", "2")
        assert c.value > 0 and math.isfinite(c.value)
        if c.grade == "D":
            assert c.note or "+" in c.source or "/" in c.source, f"{name}.{ev}: a derived cost must show its arithmetic"


def test_required_profiles_shipped():
    assert {"loihi1", "loihi2", "reckon", "generic"} <= set(PROFILES)


def test_loihi2_follows_lava_widths():
    p = load_profile("loihi2")
    f = p.format
    assert f.overflow == "lava" and (f.membrane_bits, f.current_bits, f.decay_bits, f.threshold_bits, f.threshold_shift, f.bias_bits) == (24, 24, 12, 17, 6, 13)
    # lava Dense mixed-sign: clip to [-256, 255]; num_weight_bits 9 makes the LSB truncation a no-op.
    assert (f.w_min, f.w_max) == (-256, 255)
    assert set(f.resets) == {"subtract", "zero"} and f.adaptation
    # No per-event energy published for Loihi 2: only the derived all-in bound.
    assert all(c.scope == "all_in" and c.grade == "D" for c in p.costs.values())


def test_loihi1_limits_match_nengo_loihi():
    p = load_profile("loihi1")
    assert (p.core.max_neurons, p.core.syn_mem_bits, p.core.max_fan_in, p.core.max_fan_out) == (1024, 16384 * 64, 4096, 4096)
    assert p.cost("sop") == 23.6 and p.cost("hop_ew") == 3.0 and p.cost("hop_ns") == 4.0
    assert p.cost("learning_signal") is None  # unpublished costs are absent, not zero


def test_reckon_shape():
    p = load_profile("reckon")
    assert (p.mesh.cores, p.core.max_neurons, p.core.max_readout, p.format.weight_bits, p.format.membrane_bits) == (1, 256, 16, 8, 16)
    assert p.learning.eligibility == ("factorised",)


def test_user_toml_path(tmp_path):
    from neurochip.chips import BUILTIN_DIR
    d = (BUILTIN_DIR / "generic.toml").read_text().replace('name = "generic"', 'name = "mine"')
    f = tmp_path / "mine.toml"
    f.write_text(d)
    assert load_profile(str(f)).name == "mine"


def test_bad_profile_names_key():
    with pytest.raises(ConfigError, match="cores_per_tile"):
        variant("loihi1", mesh={"cores_per_tile": 0})
    with pytest.raises(ConfigError, match="unknown chip"):
        load_profile("loihi9")


# --- profile fields that were parsed and ignored (issue 15): each is honoured or refused ----------------

@pytest.mark.parametrize("section,key,value", [
    ("format", "lava_lif", True), ("format", "exp_scope", "projection"), ("learning", "epoch_max", 63),
    ("noc", "header_bits", 0),
])
def test_removed_profile_keys_are_refused(section, key, value):
    """Removed keys are an error naming the key and what replaced it (never silently ignored)."""
    with pytest.raises(ConfigError, match=f"{key} was removed"):
        variant("loihi2", **{section: {key: value}})


def test_unknown_profile_key_is_refused():
    with pytest.raises(ConfigError, match="unknown key 'overflw'"):
        variant("generic", format={"overflw": "wrap"})


@pytest.mark.parametrize("name,want", [("loihi2", "lava"), ("loihi1", "lava"), ("loihi1_sanafe", "lava"),
                                       ("generic", "saturate"), ("reckon", "saturate")])
def test_overflow_semantics_named_per_profile(name, want):
    assert load_profile(name).format.overflow == want


def test_overflow_is_honoured_by_the_kernel():
    """format.overflow selects the register semantics the native kernel runs: the same network into
    10-bit current / 12-bit membrane registers gives lava's, saturating or wrapping values."""
    import numpy as np

    from neurochip.backends import native
    from neurochip.compiler.pipeline import compile
    from neurochip.network import NeuronParams, init_network

    from dataclasses import replace

    net = init_network(4, 6, 2, NeuronParams(kind="lif"), seed=0)
    c0 = compile(net, "generic")
    outs = {}
    for mode in ("lava", "saturate", "wrap"):
        prof = variant("generic", format={"overflow": mode, "membrane_bits": 12, "current_bits": 10})
        c = replace(c0, profile=prof, w_in=np.full_like(np.asarray(c0.w_in), 300), e_in=2)   # past 10 bits
        x = np.ones((1, 20, 4), np.uint8)
        r = native.run(c, x, record=("spikes", "outputs", "v"))
        assert r.counts.overflow_current > 0, mode
        outs[mode] = (r.v.copy(), r.counts.overflows())
    assert not np.array_equal(outs["lava"][0], outs["saturate"][0])
    assert not np.array_equal(outs["saturate"][0], outs["wrap"][0])
    assert np.abs(outs["saturate"][0]).max() <= (1 << 11) - 1


def test_overflow_value_checked():
    with pytest.raises(ConfigError, match="overflow must be one of lava, saturate, wrap"):
        variant("generic", format={"overflow": "clip"})
    with pytest.raises(ConfigError, match="int32"):
        variant("generic", format={"overflow": "lava"})          # generic has 32-bit u / v


def test_plasticity_engine_capability():
    """[learning] plasticity_engine: true on the Loihi profiles (their sum-of-products engine runs STDP), false
    by default (ReckOn, generic); a non-boolean is refused naming the key."""
    assert load_profile("loihi1").learning.plasticity_engine and load_profile("loihi2").learning.plasticity_engine
    assert not load_profile("reckon").learning.plasticity_engine
    assert not load_profile("generic").learning.plasticity_engine
    assert variant("generic", learning={"plasticity_engine": True}).learning.plasticity_engine
    with pytest.raises(ConfigError, match="plasticity_engine"):
        variant("generic", learning={"plasticity_engine": "yes"})
