"""quantize: error within half an LSB (nearest), unbiased stochastic rounding, formats valid for the kernels."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from neurochip.chips import load_profile
from neurochip.compiler import CompileOptions, QuantizeOptions, compile
from neurochip.compiler.graph import as_graph
from neurochip.compiler.quantize import _quant_proj, quantize
from neurochip.compiler.rounding import round_stochastic, uniform

from cc_helpers import PROFILES

finite = st.floats(-3.0, 3.0, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(w=arrays(np.float64, st.integers(1, 300), elements=finite), unit=st.floats(1e-5, 1e-1),
       prof=st.sampled_from(PROFILES))
def test_nearest_within_half_lsb(w, unit, prof):
    p = load_profile(prof)
    pq, viol = _quant_proj("rec", w, unit, p, QuantizeOptions())
    f = p.format
    assert pq.mant.dtype == np.int32 and pq.mant.min() >= f.w_min and pq.mant.max() <= f.w_max
    assert f.weight_exp_min <= pq.exp <= f.weight_exp_max
    err = np.abs(pq.dequantize() - w)
    sat = np.abs(w / pq.lsb) > f.w_max  # only saturated weights may miss by more than half an LSB
    assert np.all(err[~sat] <= 0.5 * pq.lsb * (1 + 1e-9))
    if viol is None:
        assert pq.saturated_fraction <= f.max_saturation_fraction


def test_stochastic_rounding_unbiased():
    x = np.full(200_000, 0.3) + np.repeat(np.arange(-2, 2), 50_000)
    r = round_stochastic(x, seed=7, stream=1)
    assert set(np.unique(r - np.floor(x))) <= {0, 1}
    err = r - x
    # mean error 0 within 5 standard errors (per-element sd = sqrt(0.3 * 0.7))
    assert abs(err.mean()) < 5 * math.sqrt(0.21 / x.size)
    for k in range(4):  # and within each integer band
        e = err[k * 50_000:(k + 1) * 50_000]
        assert abs(e.mean()) < 5 * math.sqrt(0.21 / e.size)


def test_stochastic_rounding_repeatable_and_counter_based():
    a = uniform(3, 2, 1000)
    assert np.array_equal(a, uniform(3, 2, 1000))
    assert np.array_equal(a[500:], uniform(3, 2, 500, offset=500))  # element i depends only on its counter
    assert not np.array_equal(a, uniform(4, 2, 1000))
    assert 0.0 <= a.min() and a.max() < 1.0 and abs(a.mean() - 0.5) < 0.05


@pytest.mark.parametrize("prof", PROFILES)
def test_network_constants_fit_formats(prof, small_net):
    p = load_profile(prof)
    o = CompileOptions.make(approximate=("reset", "adaptation", "refractory"))
    cn = compile(small_net, p, options=o)
    f = p.format
    one = 1 << f.decay_bits
    assert 0 <= cn.vth < (1 << f.threshold_bits)
    assert all(0 <= d < one for d in (cn.du, cn.dv, cn.da, cn.dk))
    # decays: v <- v (one - dv) / one and y <- y (one - dk) / one reproduce alpha and kappa to half a decay LSB
    # (measured 5.8e-5 < 1.2e-4 at 12 bits, tau 20 ms)
    pr = small_net.params
    assert abs((one - cn.dv) / one - pr.alpha) <= 0.5 / one + 1e-15
    assert abs((one - cn.dk) / one - pr.kappa) <= 0.5 / one + 1e-15
    # threshold exact: vth << S == v_th * scale_v
    assert math.isclose(cn.vth * 2 ** f.threshold_shift, small_net.params.v_th * cn.scale_v, rel_tol=1e-12)
    # headroom: v_headroom * v_th fits the membrane register
    assert cn.report["quantize"]["v_headroom"] * small_net.params.v_th * cn.scale_v <= (1 << (f.membrane_bits - 1))
    for name in ("w_in", "w_rec", "w_out"):
        m = getattr(cn, name)
        assert m.dtype == np.int32 and m.min() >= f.w_min and m.max() <= f.w_max
    # dequantised weights reproduce the float ones (relative RMS error small on every profile)
    for k, v in cn.report["quantize"]["projections"].items():
        assert v["rel_rms_error"] < 0.05, (k, v)
    # c_kappa folded: w_out mantissa * 2^(e_out + S) / scale_out == c_kappa * w_out (within half an LSB)
    lsb = 2.0 ** (cn.e_out + f.threshold_shift) / cn.scale_out
    np.testing.assert_allclose(cn.w_out * lsb, small_net.params.c_kappa * small_net.w_out, atol=0.5 * lsb * (1 + 1e-9))
    # masked synapses stay zero
    assert not cn.w_rec[~cn.rec_mask].any()


def test_alif_adaptation_constants(small_net):
    cn = compile(small_net, "loihi2")
    p = small_net.params
    assert cn.neuron_kind == "alif" and cn.a_inc >= 1
    # effective beta in float units: beta_mant / 2^beta_shift * scale_a / scale_v with a_int = a * scale_a
    scale_a = cn.report["quantize"]["scale_a"]
    eff = cn.beta_mant / 2.0 ** cn.beta_shift * scale_a / cn.scale_v
    np.testing.assert_allclose(eff, small_net.beta, rtol=1e-3, atol=1e-6)
    assert abs((4096 - cn.da) / 4096 - p.rho) <= 0.5 / 4096 + 1e-12


def test_stochastic_compile_unbiased_over_seeds(lif_net):
    g = as_graph(lif_net)
    p = load_profile("reckon")
    ms = [quantize(g, p, QuantizeOptions(rounding="stochastic", seed=s)).w_rec for s in range(30)]
    lsb = ms[0].lsb
    assert all(m.exp == ms[0].exp for m in ms)
    mean = np.mean([m.mant for m in ms], axis=0) * lsb
    exact = g.w_rec.data
    # the mean over seeds approaches the float weight much closer than one LSB
    assert np.abs(mean - exact).mean() < 0.15 * lsb
