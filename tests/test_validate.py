"""`neurochip.validate` metrics and the `neurochip validate` command."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from batches import short_ce_batch
from neurochip.errors import ConfigError
from neurochip.validate import (DEFAULT_LEARNING_TOLERANCES, DEFAULT_TOLERANCES, check_tolerances, coincidence,
                                effective_tolerances, learning_outcome_failures, parse_tolerances, van_rossum)


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
    m = {"spike_agreement": 0.8, "readout_rms": 0.05, "cosine_eprop": float("nan")}
    assert check_tolerances(m, {"spike_agreement": 0.9}) == ["spike_agreement = 0.8 < 0.9"]
    assert check_tolerances(m, {"readout_rms": 0.1}) == []
    assert "not measured" in check_tolerances({}, {"cosine_eprop": 0.5})[0]
    assert check_tolerances(m, {"cosine_eprop": -1.0}) == ["cosine_eprop = nan < -1"]     # NaN never passes


def _proj(cos, ratio, chip=1.0, flt=1.0):
    return {"cosine": cos, "norm_ratio": ratio, "chip_norm": chip, "float_norm": flt, "float_rule": "r SGD"}


def test_default_learning_gates_per_matrix():
    """Defaults apply per trained matrix: a good update passes; a reversed one, a frozen one and one off by a
    factor of 2 each fail with one line naming the matrix."""
    tol = effective_tolerances(None, learn=True, task_metrics={"accuracy": 0.8})
    assert tol == {**DEFAULT_TOLERANCES, **DEFAULT_LEARNING_TOLERANCES}
    good = {"accuracy_drop": 0.01, "learning_per_projection": {"w_in": _proj(0.9, 1.1), "w_out": _proj(0.7, 1.5)}}
    assert check_tolerances(good, tol) == []
    bad = {"accuracy_drop": 0.2, "learning_per_projection": {
        "w_in": _proj(-0.13, 1.0), "w_rec": _proj(float("nan"), float("nan"), chip=0.0),
        "w_out": _proj(0.95, 2.0)}}
    f = check_tolerances(bad, tol)
    assert f == ["accuracy_drop = 0.2 > 0.05", "w_in: cosine vs float r SGD = -0.13 < 0.5",
                 "w_rec received no on-chip update (float r SGD update norm 1)",
                 "w_out: norm ratio vs float r SGD = 2 > 1.7"]
    # a default can be switched off, or overridden; inference-only runs on 'mse' tasks get no default
    assert effective_tolerances(parse_tolerances("update_cosine=off,accuracy_drop=0.3"), learn=True,
                                task_metrics={"accuracy": 0.5}) == {"accuracy_drop": 0.3, "update_norm_ratio_min": 0.6,
                                                                    "update_norm_ratio_max": 1.7}
    assert effective_tolerances(None, learn=False, task_metrics={"nmse": 0.1}) == {}


def test_learning_outcome_gate():
    assert learning_outcome_failures({"accuracy": 0.92}, {"accuracy": 0.61}) == [
        "on-chip learning lowered held-out accuracy 0.920 -> 0.610 (drop 0.310 > 0.05)"]
    assert learning_outcome_failures({"accuracy": 0.80}, {"accuracy": 0.78}) == []
    assert learning_outcome_failures({"nmse": 0.1}, {"nmse": 0.2}) == []


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
    """The spike-agreement gate passes just below the measured agreement and fails just above it (the
    agreement itself cross-checked against `coincidence` of an independent native + simulate run)."""
    from neurochip.backends import get_backend
    from neurochip.cli.main import main
    from neurochip.compiler.artifact import CompiledNetwork
    from neurochip.simulate import simulate
    from neurochip.validate import float_network, make_inputs

    c = CompiledNetwork.load(artifact / "compiled")
    x = make_inputs(c, trials=2, steps=200, rate_hz=40.0).x
    want = coincidence(get_backend("native").run(c, x).spikes, simulate(float_network(c), x).z, window=2)["overall"]
    assert 0.05 < want < 0.95, "the test network must make the chip and the float reference differ"
    out = tmp_path / "v"
    rc = main(["validate", str(artifact), "--trials", "2", "--steps", "200", "--rate", "40",
               "--tolerance", f"spike_agreement={want - 0.01}", "-o", str(out)])
    assert rc == 0
    rep = json.loads((out / "validate.json").read_text())
    m = rep["metrics"]
    assert m["spike_agreement"] == pytest.approx(want, abs=1e-12) and m["readout_rms"] >= 0 and rep["passed"]
    capsys.readouterr()
    rc = main(["validate", str(artifact), "--trials", "2", "--steps", "200", "--rate", "40",
               "--tolerance", f"spike_agreement={want + 0.01}", "-o", str(tmp_path / "v_hi")])
    assert rc == 4 and "spike_agreement" in capsys.readouterr().err
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


# --------------------------------------------------------------------------------------------------
# the learning gate end to end, on a stand-in chip whose update is a known multiple of the float one
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def learn_artifact():
    from neurochip.compiler.pipeline import compile
    from neurochip.network import NeuronParams, init_network
    from neurochip.rules import LearningRule

    net = init_network(8, 24, 2, NeuronParams(kind="lif"), seed=2)
    return compile(net, "loihi2", LearningRule("eprop_symmetric", lr=0.5, reg_rate=0.0))


def _stand_in_chip(monkeypatch, gain: dict[str, float], hold: bool = False):
    """Register backend 'standin': fixed point (the native backend for inference) whose learning run
    moves each matrix by gain[n] x the float SGD update of the same schedule, rounded to mantissas.
    ``hold``: it applies nothing and reports the whole update as held below the weight LSB
    (meta['pending_lsb'], as the native backend reports its residual accumulators)."""
    import sys
    import types

    from neurochip import backends
    from neurochip import validate as V
    from neurochip.backend_contract import Capabilities, RunResult
    from neurochip.learning.gradients import weight_change

    native = backends.get_backend("native")

    def run(compiled, x, *, learn=False, targets=None, record=("spikes", "outputs"), seed=0, epochs=1, batch_size=None):
        if not learn:
            return native.run(compiled, x, record=record)
        rule, net = V._float_rule(compiled), V.float_network(compiled)
        d = {n: np.zeros_like(getattr(net, n)) for n in ("w_in", "w_rec", "w_out")}
        for _ in range(epochs):
            for g0 in range(0, x.shape[0], batch_size):
                mb = V._slice(targets, slice(g0, g0 + batch_size))
                g = weight_change(net, rule, mb, lr=rule.lr)
                step = {n: V._chip_step_gain(compiled, mb) * getattr(g, n) for n in d}
                net = net.with_weights(**{n: getattr(net, n) + step[n] for n in d})
                d = {n: d[n] + step[n] for n in d}
        w = {n: np.asarray(getattr(compiled, n)) + np.rint(gain[n] * d[n] / V.dequantize(compiled, n, np.ones(1))[0]
                                                           ).astype(np.int64) for n in d}
        r = native.run(compiled, x)
        if hold:
            lsb = {n: V.dequantize(compiled, n, np.ones(1))[0] for n in d}
            return RunResult(spikes=r.spikes, outputs=r.outputs, counts=r.counts, backend="standin",
                             weights={n: np.asarray(getattr(compiled, n)) for n in d},
                             meta={"pending_lsb": {n: gain[n] * d[n] / lsb[n] for n in d}})
        return RunResult(spikes=r.spikes, outputs=r.outputs, counts=r.counts, backend="standin", weights=w)

    mod = types.ModuleType("standin_backend")
    mod.run = run
    mod.CAPABILITIES = Capabilities(arithmetic="fixed", learning="compiled_rule", learned=("w_in", "w_rec", "w_out"),
                                    learning_note="stand-in")
    monkeypatch.setitem(sys.modules, "standin_backend", mod)
    monkeypatch.setitem(backends.BACKENDS, "standin", "standin_backend")


@pytest.mark.parametrize("gain, fails", [
    ({"w_in": 1.0, "w_rec": 1.0, "w_out": 1.0}, []),
    ({"w_in": -1.0, "w_rec": 1.0, "w_out": 1.0}, ["w_in: cosine"]),                      # reversed
    ({"w_in": 1.0, "w_rec": 0.0, "w_out": 1.0}, ["w_rec received no on-chip update"]),   # frozen: NaN fails
    ({"w_in": 1.0, "w_rec": 1.0, "w_out": 2.0}, ["w_out: norm ratio"]),                  # gain off by one shift
])
def test_learning_gate_catches_wrong_updates(learn_artifact, monkeypatch, gain, fails):
    from neurochip.validate import Inputs, validate

    _stand_in_chip(monkeypatch, gain)
    b = short_ce_batch(learn_artifact.n_in, learn_artifact.n_out)
    rep, _ = validate(learn_artifact, backend="standin", learn=True, inputs=Inputs(b.x, b, "short"),
                      learn_batch_size=8, tolerances={"accuracy_drop": 1.0})
    per = rep["metrics"]["learning_per_projection"]
    assert [f.split(" =")[0].split(" (")[0] for f in rep["failures"]] == [
        f if "no on-chip" in f else f + " vs float eprop_symmetric SGD" for f in fails], rep["failures"]
    assert rep["passed"] == (not fails)
    if not fails:
        assert all(p["cosine"] > 0.9 and 0.85 < p["norm_ratio"] < 1.15 for p in per.values()), per  # rounding only


def test_learning_gate_counts_the_update_held_below_the_weight_lsb(learn_artifact, monkeypatch):
    """The gated update is the whole accumulated one: applied change + what the chip still holds below the
    weight LSB. A chip that has applied nothing yet but holds the float update passes (cosine ~1), and the
    applied change alone is reported beside it (NaN: nothing moved). Mutation: validate ignoring
    meta['pending_lsb'] -> every matrix 'received no on-chip update', this fails."""
    from neurochip.validate import Inputs, validate

    _stand_in_chip(monkeypatch, {"w_in": 1.0, "w_rec": 1.0, "w_out": 1.0}, hold=True)
    b = short_ce_batch(learn_artifact.n_in, learn_artifact.n_out)
    rep, _ = validate(learn_artifact, backend="standin", learn=True, inputs=Inputs(b.x, b, "short"),
                      learn_batch_size=8, tolerances={"accuracy_drop": 1.0})
    per = rep["metrics"]["learning_per_projection"]
    assert rep["passed"], rep["failures"]
    for n, p in per.items():
        assert p["cosine"] > 0.9 and 0.85 < p["norm_ratio"] < 1.15, (n, p)
        assert np.isnan(p["cosine_applied"]) and p["norm_ratio_applied"] == 0.0, (n, p)


def test_validate_asks_capabilities(artifact):
    """A float backend cannot be the chip side, a fixed-point one cannot be the float reference."""
    from neurochip.compiler.artifact import CompiledNetwork
    from neurochip.validate import make_inputs, validate

    c = CompiledNetwork.load(artifact / "compiled")
    inp = make_inputs(c, trials=1, steps=20)
    with pytest.raises(ConfigError, match="cannot serve as the chip side.*fixed-point arithmetic.*can: native"):
        validate(c, backend="brian2", inputs=inp)
    with pytest.raises(ConfigError, match="cannot serve as the float reference.*can: brian2"):
        validate(c, reference="native", inputs=inp)


def test_one_update_lines_note_only_a_float_pass_gap():
    """The one-update lines name each matrix with both cosines; the batch-size note appears exactly when a
    matrix misses 0.9 on the float pass but meets it on the chip's own pass (a gap on the chip's pass is the
    learning arithmetic's and gets no such note)."""
    from neurochip.cli.validate import one_update_lines
    ok = {"cosine_float_pass": 0.95, "cosine_chip_pass": 0.99}
    fwd = {"cosine_float_pass": 0.675, "cosine_chip_pass": 0.942}
    arith = {"cosine_float_pass": 0.6, "cosine_chip_pass": 0.7}
    lines = one_update_lines({"trials": 16, "w_in": fwd, "w_rec": ok})
    assert lines[0] == ("  one update (16 trials) w_in: cosine vs the float rule on the float pass 0.675, "
                        "on the chip's own pass 0.942")
    assert len(lines) == 3 and lines[2].startswith("  note: on the chip's own forward pass the update of w_in follows")
    assert "--batch-size" in lines[2]
    assert len(one_update_lines({"trials": 16, "w_in": ok, "w_rec": ok})) == 2
    assert not any("note" in ln for ln in one_update_lines({"trials": 16, "w_in": arith, "w_rec": ok}))
    assert one_update_lines({}) == []
