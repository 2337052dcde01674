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
    assert f.lava_lif and (f.membrane_bits, f.current_bits, f.decay_bits, f.threshold_bits, f.threshold_shift, f.bias_bits) == (24, 24, 12, 17, 6, 13)
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
