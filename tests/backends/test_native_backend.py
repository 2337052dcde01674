"""Native backend contract: float mode == neurochip.simulate, registry, named errors, counts."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nb_helpers import exact_taus, two_class_task  # noqa: E402

from neurochip.backends import get_backend
from neurochip.backends.counts import counts_from_spikes
from neurochip.compiler.pipeline import compile
from neurochip.errors import BackendError, ConfigError
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule
from neurochip.simulate import simulate

native = get_backend("native")


@pytest.mark.parametrize("kind", ["lif", "alif"])
@pytest.mark.parametrize("p_rec", [1.0, 0.3])
def test_float_mode_equals_simulate(kind, p_rec):
    net = init_network(7, 25, 3, NeuronParams(kind=kind, n_ref=3, tau_a=200.0), p_rec=p_rec, seed=2)
    c = compile(net, "generic")
    x = (np.random.default_rng(1).random((3, 120, 7)) < 0.2).astype(np.uint8)
    r = native.run(c, x, mode="float", record=("spikes", "outputs", "v"))
    tr = simulate(net, x, record_v=True)
    assert r.backend == "native-float"
    np.testing.assert_array_equal(r.spikes, tr.z)
    np.testing.assert_allclose(r.outputs, tr.out, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r.v, tr.v, rtol=0, atol=1e-9)
    assert r.counts.spikes == int(tr.z.sum()) > 0


def test_fixed_high_precision_follows_float():
    """Generic profile, exact decays: fixed-point spikes equal the float reference's (measured: all 1172 spikes,
    none extra) and the readout follows it to quantisation error (measured 3.7e-5 of its peak)."""
    net = init_network(7, 25, 2, NeuronParams(kind="lif", n_ref=2, **exact_taus()), seed=4)
    c = compile(net, "generic")
    x = (np.random.default_rng(2).random((2, 150, 7)) < 0.15).astype(np.uint8)
    r = native.run(c, x)
    tr = simulate(net, x)
    assert tr.z.sum() > 500                                          # 15.6 % of steps: a silent chip cannot pass
    assert (r.spikes != tr.z).sum() <= 0.005 * tr.z.sum()
    assert np.abs(r.outputs - tr.out).max() < 1e-3 * np.abs(tr.out).max()


def test_registry():
    assert get_backend("native").run is native.run
    with pytest.raises(ConfigError, match=r"unknown backend 'tpu'; known: native, lava, brian2"):
        get_backend("tpu")


def test_named_errors():
    net = init_network(4, 6, 2, NeuronParams(kind="lif"), seed=0)
    c = compile(net, "generic")
    with pytest.raises(BackendError, match=r"n_in=4"):
        native.run(c, np.zeros((1, 5, 3), np.uint8))
    with pytest.raises(BackendError, match="binary"):
        native.run(c, np.full((1, 5, 4), 0.5))
    with pytest.raises(BackendError, match="at least one"):
        native.run(c, np.zeros((1, 0, 4), np.uint8))
    with pytest.raises(ConfigError, match="mode must be"):
        native.run(c, np.zeros((1, 5, 4), np.uint8), mode="double")
    with pytest.raises(ConfigError, match="record: unknown"):
        native.run(c, np.zeros((1, 5, 4), np.uint8), record=("spikes", "currents"))
    with pytest.raises(BackendError, match="compiled learning rule"):
        native.run(c, np.zeros((1, 5, 4), np.uint8), learn=True, targets=np.zeros((1, 5, 2)))
    cl = compile(net, "generic", LearningRule("eprop_random"))
    with pytest.raises(ConfigError, match="needs targets"):
        native.run(cl, np.zeros((1, 5, 4), np.uint8), learn=True)
    with pytest.raises(BackendError, match=r"expected \[batch, time, n_out\]"):
        native.run(cl, np.zeros((1, 5, 4), np.uint8), learn=True, targets=np.zeros((1, 5, 3)))
    with pytest.raises(BackendError, match=r"labels must be in \[0, n_out=2\)"):
        native.run(cl, np.zeros((1, 5, 4), np.uint8), learn=True, targets=np.full((1, 5), 2))


def test_learning_run_counts_match_spikes():
    """Forward counts of a learning run == counts derived from its spikes; learning-signal messages =
    n_rec per step with a non-zero error code; trace/weight updates are counted."""
    net = init_network(20, 30, 2, NeuronParams(kind="lif", n_ref=2), seed=3)
    net = net.with_weights(w_in=net.w_in * 0.3, w_rec=net.w_rec * 0.5, w_out=net.w_out * 0.1)
    c = compile(net, "generic", LearningRule("eprop_random", lr=1e-3, eligibility="factorised"))
    x, tg = two_class_task(np.random.default_rng(0), 4, T=60, window=20)
    r = native.run(c, x, learn=True, targets=tg, batch_size=4)
    cs = counts_from_spikes(c, x, r.spikes)
    for name in ("spikes", "input_spikes", "syn_ops", "spike_packets", "mesh_hops", "neuron_updates",
                 "neuron_updates_active"):
        assert getattr(r.counts, name) == getattr(cs, name), name
    np.testing.assert_array_equal(r.counts.core_to_core_packets, cs.core_to_core_packets)
    n_err_steps = r.counts.learning_signal_msgs // c.n_rec
    assert 0 < n_err_steps <= int(tg["mask"].sum())
    assert r.counts.learning_signal_macs == n_err_steps * c.n_rec * c.n_out
    assert r.counts.trace_updates >= 60 * 4 * (c.n_in + 3 * c.n_rec)
    # synaptic writes only: b_out also learns, but off chip (float readout bias), so it is no weight-memory write
    changed = sum(int(np.count_nonzero(r.weight_updates[k])) for k in ("w_in", "w_rec", "w_out"))
    assert changed > 0 and r.counts.weight_updates >= changed
