"""`neurochip.validate` metrics and the `neurochip validate` command."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip.errors import ConfigError
from neurochip.validate import check_tolerances, coincidence, parse_tolerances, van_rossum


def _trains(draw_bits, shape):
    return (np.asarray(draw_bits, np.uint8).reshape(shape))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 40), st.integers(1, 5), st.integers(0, 2**31 - 1), st.floats(0.0, 0.5))
def test_coincidence_properties(B, T, N, seed, p):
    rng = np.random.default_rng(seed)
    a = (rng.random((B, T, N)) < p).astype(np.uint8)
    b = (rng.random((B, T, N)) < p).astype(np.uint8)
    assert coincidence(a, a)["overall"] == 1.0                       # identity
    ab, ba = coincidence(a, b, window=1), coincidence(b, a, window=1)
    assert ab["overall"] == pytest.approx(ba["overall"])             # symmetric
    assert 0.0 <= ab["overall"] <= 1.0
    w0, w3 = coincidence(a, b, window=0)["overall"], coincidence(a, b, window=3)["overall"]
    assert w0 <= ab["overall"] + 1e-12 <= w3 + 2e-12                 # a wider window never matches less
    # window 0 == exact equality count
    both = int((a.astype(bool) & b.astype(bool)).sum())
    tot = int(a.sum() + b.sum())
    assert w0 == pytest.approx(2 * both / tot if tot else 1.0)


def test_coincidence_shift_by_one_step():
    a = np.zeros((1, 20, 1), np.uint8); a[0, [3, 10, 15], 0] = 1
    b = np.roll(a, 1, axis=1)
    assert coincidence(a, b, window=0)["overall"] == 0.0
    assert coincidence(a, b, window=1)["overall"] == 1.0
    c = a.copy(); c[0, 18, 0] = 1                                     # one extra spike: 2*3/(3+4)
    assert coincidence(a, c, window=1)["overall"] == pytest.approx(6 / 7)


def test_van_rossum_zero_iff_equal_and_single_spike_value():
    a = np.zeros((1, 400, 2)); a[0, 50, 0] = 1
    assert van_rossum(a, a, 20.0)["mean"] == 0.0
    d = van_rossum(a, np.zeros_like(a), 20.0)["per_neuron"]
    k = np.exp(-1 / 20)
    assert d[0] == pytest.approx(np.sqrt(sum(k ** (2 * t) for t in range(350)) / 20.0))
    assert d[1] == 0.0


def test_tolerance_parsing_and_checks():
    assert parse_tolerances("spike_agreement=0.9, readout_rms=0.1") == {"spike_agreement": 0.9, "readout_rms": 0.1}
    with pytest.raises(ConfigError, match="unknown tolerance 'spikes'"):
        parse_tolerances("spikes=0.9")
    with pytest.raises(ConfigError, match="not a number"):
        parse_tolerances("readout_rms=abc")
    m = {"spike_agreement": 0.8, "readout_rms": 0.05}
    assert check_tolerances(m, {"spike_agreement": 0.9}) == ["spike_agreement = 0.8 < 0.9"]
    assert check_tolerances(m, {"readout_rms": 0.1}) == []
    assert "not measured" in check_tolerances(m, {"cosine_eprop": 0.5})[0]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    from neurochip.compiler.pipeline import compile
    from neurochip.network import NeuronParams, init_network

    net = init_network(8, 24, 2, NeuronParams(kind="alif"), seed=1)
    c = compile(net, "loihi2")
    d = tmp_path_factory.mktemp("art")
    c.save(d / "compiled")
    return d


def test_cli_validate_writes_report_and_gates(artifact, tmp_path, capsys):
    from neurochip.cli.main import main

    out = tmp_path / "v"
    rc = main(["validate", str(artifact), "--trials", "2", "--steps", "200", "--rate", "40",
               "--tolerance", "spike_agreement=0.0", "-o", str(out)])
    assert rc == 0
    rep = json.loads((out / "validate.json").read_text())
    m = rep["metrics"]
    assert 0.0 <= m["spike_agreement"] <= 1.0 and m["readout_rms"] >= 0 and rep["passed"]
    assert len(rep["per_neuron_agreement"]) == 24
    assert (out / "validate.png").stat().st_size > 1000
    # an impossible tolerance fails with exit code 4, after writing the outputs
    out2 = tmp_path / "v2"
    rc = main(["validate", str(artifact), "--trials", "1", "--steps", "100", "--tolerance", "readout_rms=-1",
               "-o", str(out2)])
    assert rc == 4
    assert "readout_rms" in capsys.readouterr().err
    assert not json.loads((out2 / "validate.json").read_text())["passed"]
    # unknown tolerance: one-line config error, exit 2
    assert main(["validate", str(artifact), "--tolerance", "bogus=1", "-o", str(tmp_path / "v3")]) == 2


def test_validate_lava_equals_native(artifact):
    """lava and native are bit-identical, so every validate metric must be identical on both backends."""
    import importlib.util
    import os
    if importlib.util.find_spec("lava") is None:      # never import lava in the parent (start-method side effect)
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires lava-nc")
        pytest.skip("lava-nc not importable")
    from neurochip.compiler.artifact import CompiledNetwork
    from neurochip.validate import make_inputs, validate

    c = CompiledNetwork.load(artifact / "compiled")
    inp = make_inputs(c, trials=1, steps=120, rate_hz=40.0)
    rn, _ = validate(c, backend="native", inputs=inp)
    rl, _ = validate(c, backend="lava", inputs=inp)
    for k in ("spike_agreement", "spike_agreement_exact", "van_rossum", "readout_rms", "spikes_chip"):
        assert rn["metrics"][k] == rl["metrics"][k], k
    assert rn["per_neuron_agreement"] == rl["per_neuron_agreement"]
