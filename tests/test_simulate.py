"""Float forward pass == the Appendix-A numpy oracle (independent plain loop), all conventions."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from neurochip import InvalidNetworkError
from neurochip.simulate import simulate

from learning.oracle import forward
from learning.test_gradients import random_net


@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 5), n_rec=st.integers(1, 8), n_out=st.integers(1, 3),
       T=st.integers(1, 60), kind=st.sampled_from(["lif", "alif"]), scaled_input=st.booleans(),
       scaled_readout=st.booleans(), n_ref=st.integers(1, 6), p_rec=st.sampled_from([1.0, 0.4]))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_forward_matches_oracle(seed, n_in, n_rec, n_out, T, kind, scaled_input, scaled_readout, n_ref, p_rec):
    net = random_net(seed, n_in, n_rec, n_out, kind, scaled_input, scaled_readout, n_ref, p_rec=p_rec)
    rng = np.random.default_rng(seed)
    x = (rng.random((2, T, n_in)) < 0.3).astype(np.uint8)
    tr = simulate(net, x, record_v=True)
    Z, PSI, Y = forward(net, x)
    np.testing.assert_array_equal(tr.z, Z.astype(np.uint8))
    np.testing.assert_allclose(tr.psi, PSI, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr.y, Y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr.out, Y + net.b_out, rtol=1e-12, atol=1e-12)


def test_refractory_period_counts_the_spike_step():
    net = random_net(0, 1, 1, 1, "lif", n_ref=4)
    net = net.with_weights(w_in=np.array([[50.0]]))  # drive far above threshold every step
    tr = simulate(net, np.ones((1, 20, 1), np.uint8))
    spikes = np.flatnonzero(tr.z[0, :, 0])
    assert len(spikes) > 2 and (np.diff(spikes) == 4).all()  # silent for t+1 .. t+n_ref-1
    assert (tr.psi[0, spikes[0] + 1:spikes[0] + 4, 0] == 0).all()


def test_bad_inputs_raise():
    net = random_net(0, 3, 4, 2)
    with pytest.raises(InvalidNetworkError, match="n_in=3"):
        simulate(net, np.zeros((1, 10, 5)))
    with pytest.raises(InvalidNetworkError, match="NaN"):
        simulate(net, np.full((1, 10, 3), np.nan))
