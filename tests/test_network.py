"""Network / NeuronParams validation: invalid inputs raise InvalidNetworkError naming field and value."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip import ArtifactError, InvalidNetworkError, Network, NeuronParams, init_network


@pytest.mark.parametrize("name", ["tau_m", "tau_a", "tau_out", "dt", "v_th"])
@pytest.mark.parametrize("value", [0.0, -1.0, -20.0, math.nan, math.inf])
def test_bad_time_constants_name_field_and_value(name, value):
    with pytest.raises(InvalidNetworkError) as e:
        NeuronParams(**{name: value})
    assert name in str(e.value) and repr(value) in str(e.value)


@pytest.mark.parametrize("kw,field", [({"n_ref": 0}, "n_ref"), ({"gamma_pd": -0.1}, "gamma_pd"),
                                       ({"kind": "izhikevich"}, "kind")])
def test_bad_neuron_params(kw, field):
    with pytest.raises(InvalidNetworkError, match=field):
        NeuronParams(**kw)


def _arrays(n_in=3, n_rec=4, n_out=2, seed=0):
    net = init_network(n_in, n_rec, n_out, seed=seed)
    return dict(params=net.params, w_in=np.array(net.w_in), w_rec=np.array(net.w_rec), w_out=np.array(net.w_out),
                b_out=np.array(net.b_out), B=np.array(net.B), beta=np.array(net.beta))


@given(field=st.sampled_from(["w_in", "w_rec", "w_out", "b_out", "B", "beta"]),
       bad=st.sampled_from([math.nan, math.inf, -math.inf]), seed=st.integers(0, 100))
@settings(max_examples=30, deadline=None)
def test_non_finite_arrays_are_refused(field, bad, seed):
    a = _arrays(seed=seed)
    arr = a[field]
    idx = tuple(np.random.default_rng(seed).integers(0, s) for s in arr.shape)
    if field == "w_rec" and idx[0] == idx[1]:
        idx = (idx[0], (idx[1] + 1) % arr.shape[1])
    arr[idx] = bad
    with pytest.raises(InvalidNetworkError) as e:
        Network(**a)
    assert field in str(e.value) and repr(bad) in str(e.value)


@pytest.mark.parametrize("field,shape", [("w_rec", (4, 5)), ("w_out", (2, 3)), ("b_out", (3,)), ("B", (2, 4)),
                                          ("beta", (5,))])
def test_wrong_shapes_name_field_and_shapes(field, shape):
    a = _arrays()
    a[field] = np.zeros(shape)
    with pytest.raises(InvalidNetworkError) as e:
        Network(**a)
    assert field in str(e.value) and str(shape) in str(e.value)


def test_self_connections_forbidden():
    a = _arrays()
    a["w_rec"][2, 2] = 0.5
    with pytest.raises(InvalidNetworkError, match=r"w_rec\[2, 2\] = 0.5"):
        Network(**a)
    mask = np.ones((4, 4), bool)
    with pytest.raises(InvalidNetworkError, match="diagonal"):
        Network(**_arrays(), rec_mask=mask)


def test_weights_outside_mask_refused_and_lif_needs_zero_beta():
    a = _arrays()
    mask = np.zeros((4, 4), bool)
    with pytest.raises(InvalidNetworkError, match="rec_mask"):
        Network(**a, rec_mask=mask)
    a = _arrays()
    a["params"] = NeuronParams(kind="lif")
    a["beta"] = np.full(4, 0.1)
    with pytest.raises(InvalidNetworkError, match="beta"):
        Network(**a)


def test_init_network_conventions_and_roundtrip(tmp_path):
    net = init_network(40, 100, 2, NeuronParams(), seed=3)
    assert (np.diag(net.w_rec) == 0).all()
    assert (net.beta[:50] == 0).all() and np.allclose(net.beta[50:], 1.7 * (1 - net.params.rho) / (1 - net.params.alpha))
    assert not net.w_in.flags.writeable
    net.save(tmp_path / "net")
    back = Network.load(tmp_path / "net")
    assert back.digest() == net.digest()
    (tmp_path / "net.npz").write_bytes(b"garbage")
    with pytest.raises(ArtifactError):
        Network.load(tmp_path / "net")
    sparse = init_network(5, 30, 2, p_rec=0.2, seed=0)
    assert ((sparse.w_rec != 0) <= sparse.rec_mask).all() and 0.05 < sparse.rec_mask.mean() < 0.4
