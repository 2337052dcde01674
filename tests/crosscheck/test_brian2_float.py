"""brian2 == the float reference (`neurochip.simulate`, and the native backend's float mode).

brian2 runs the same discrete-time equations written independently (run_regularly state updates,
Synapses for recurrence and readout, TimedArray input), with the summation orders of the float kernel
and strict floating point, so against `neurochip.simulate` we require bit-identical membranes, spikes
and readout. Against any float implementation whose summation order may differ (1e-16 relative
differences per add), a threshold crossing within ~1e-9 of the threshold can flip; the stated tolerance
is then: identical spike trains when every non-refractory |v - A| > 1e-9 ("far from ties"), and spike-time
agreement > 99% (coincidence within +-1 step) otherwise, since one flipped spike only perturbs that
neuron's reset and its targets' inputs by one weight for a few steps.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from xc_helpers import native_backend, require

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _margin(ref, net):
    """Smallest |v - A| over non-refractory steps (how close the run came to a threshold tie)."""
    p = net.params
    A = p.v_th + net.beta[None, None, :] * ref.a
    return float(np.min(np.abs(ref.v - A))) if ref.v.size else np.inf


def _agreement(z1, z2, window=1):
    from neurochip.validate import coincidence
    return coincidence(z1, z2, window=window)["overall"]


@st.composite
def float_case(draw):
    from neurochip.network import NeuronParams
    kind = draw(st.sampled_from(["lif", "alif"]))
    params = NeuronParams(kind=kind, n_ref=draw(st.integers(1, 5)), tau_m=draw(st.sampled_from([5.0, 20.0])),
                          tau_a=draw(st.sampled_from([50.0, 2000.0])), v_th=draw(st.sampled_from([0.3, 0.6, 1.0])),
                          scaled_input=draw(st.booleans()))
    sizes = (draw(st.integers(1, 12)), draw(st.integers(1, 40)), draw(st.integers(1, 3)))
    return params, sizes, draw(st.sampled_from([0.1, 0.5, 1.0])), draw(st.integers(0, 10**6)), \
        draw(st.sampled_from([0.02, 0.1, 0.3])), draw(st.integers(10, 120))


@settings(max_examples=10, **SETTINGS)
@given(float_case())
def test_brian2_numpy_target_bit_identical(case):
    require("brian2", "brian2 is a required dependency")
    from neurochip.backends import brian2 as bb
    from neurochip.network import init_network
    from neurochip.simulate import simulate

    params, (n_in, n_rec, n_out), p_rec, seed, rate, T = case
    net = init_network(n_in, n_rec, n_out, params, p_rec=p_rec, seed=seed)
    x = (np.random.default_rng(seed).random((2, T, n_in)) < rate).astype(np.uint8)
    ref = simulate(net, x, record_v=True)
    r = bb.run(net, x, record=("spikes", "outputs", "v"), target="numpy")
    np.testing.assert_array_equal(r.spikes, ref.z)
    np.testing.assert_array_equal(r.v, ref.v)          # same expression and summation order: exact
    np.testing.assert_array_equal(r.outputs, ref.out)


def test_brian2_vs_native_float_mode_tolerance():
    """The native backend's float mode vs brian2 with the stated tie tolerance."""
    require("brian2")
    native = native_backend()
    if native is None:
        pytest.skip("native backend not present")
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from xc_nets import poisson
    from neurochip.backends import brian2 as bb
    from neurochip.network import NeuronParams, init_network
    from neurochip.simulate import simulate
    from neurochip.compiler.artifact import CompiledNetwork

    net = init_network(10, 30, 2, NeuronParams(kind="alif", n_ref=3), p_rec=0.5, seed=3)
    c = _wrap_float(net, CompiledNetwork)
    x = poisson(np.random.default_rng(1), 2, 200, 10, 0.05)
    n = native.run(c, x, mode="float", record=("spikes", "outputs", "v"))
    r = bb.run(c, x, record=("spikes", "outputs", "v"), target="numpy")
    ref = simulate(net, x, record_v=True)
    if _margin(ref, net) > 1e-9:
        np.testing.assert_array_equal(r.spikes, n.spikes)
    assert _agreement(r.spikes, n.spikes) > 0.99
    assert r.counts.spikes == int(r.spikes.sum())


def _wrap_float(net, CompiledNetwork):
    """A CompiledNetwork whose float fields are ``net`` (integer fields are placeholders)."""
    z = lambda *s: np.zeros(s, np.int32)  # noqa: E731
    n_rec, n_in, n_out = net.n_rec, net.n_in, net.n_out
    return CompiledNetwork(
        profile_name="test", profile=None, neuron_kind=net.params.kind, reset="subtract", n_in=n_in, n_rec=n_rec,
        n_out=n_out, w_in=z(n_rec, n_in), w_rec=z(n_rec, n_rec), w_out=z(n_out, n_rec), rec_mask=net.rec_mask,
        e_in=0, e_rec=0, e_out=0, du=4095, dv=0, da=0, dk=0, vth=1, bias_mant=z(n_rec), bias_exp=0,
        beta_mant=z(n_rec), beta_shift=0, a_inc=0, n_ref=net.params.n_ref, scale_v=1.0, scale_out=1.0,
        b_out=np.asarray(net.b_out), float_params=net.params.to_dict(), core_of=z(n_rec + n_out),
        core_xy=z(1, 2), hops=z(1, 1), ls_hops=z(1), w_in_float=net.w_in, w_rec_float=net.w_rec,
        w_out_float=net.w_out, B_float=net.B, beta_float=net.beta)


@pytest.mark.slow
def test_brian2_cython_target_bit_identical():
    """The default (cython, strict flags) target is bit-identical too (first build ~30-90 s, then cached)."""
    require("brian2")
    from neurochip.backends import brian2 as bb
    from neurochip.network import NeuronParams, init_network
    from neurochip.simulate import simulate

    net = init_network(20, 50, 3, NeuronParams(kind="alif", n_ref=3), p_rec=0.3, seed=1)
    x = (np.random.default_rng(0).random((2, 150, 20)) < 0.05).astype(np.uint8)
    ref = simulate(net, x, record_v=True)
    r = bb.run(net, x, record=("spikes", "outputs", "v"), target="cython")
    np.testing.assert_array_equal(r.spikes, ref.z)
    np.testing.assert_array_equal(r.v, ref.v)
    np.testing.assert_array_equal(r.outputs, ref.out)
