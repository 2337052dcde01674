"""Cross-check of the compiler's scales against the native backend's fixed-point kernel (independent code):
the first membrane step equals the float one within the quantisation bound, and a wide-format chip reproduces
the float spikes for the first steps."""
import numpy as np
import pytest

from neurochip.compiler import CompileOptions, compile
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule

native = pytest.importorskip("neurochip.backends.native")


@pytest.mark.parametrize("chip", ["loihi2", "generic", "loihi1", "reckon"])
def test_first_step_membrane_within_quantisation_bound(chip):
    net = init_network(20, 50, 2, NeuronParams(kind="lif", n_ref=1), seed=3, p_rec=0.3)
    cn = compile(net, chip, options=CompileOptions.make(approximate=("reset",)))
    rng = np.random.default_rng(1)
    x = (rng.random((3, 2, 20)) < 0.3).astype(np.uint8)
    r = native.run(cn, x, record=("spikes", "outputs", "v"))
    rf = native.run(cn, x, mode="float", record=("spikes", "outputs", "v"))
    lsb = cn.report["quantize"]["projections"]["in"]["lsb"]
    n_active = x[:, 0, :].sum(axis=1)[:, None]
    # v^0 = c_in W_in x^0 from rest: every active input contributes at most half an LSB of error, plus one
    # v unit for the floor of a negative exponent and the decay's truncation.
    bound = n_active * 0.5 * lsb + 2.0 / cn.scale_v
    err = np.abs(r.v[:, 0, :] / cn.scale_v - rf.v[:, 0, :])
    quiet = (r.spikes[:, 0, :] == 0) & (rf.spikes[:, 0, :] == 0)  # reset to zero acts in the spike step
    assert quiet.mean() > 0.5
    assert (err[quiet] <= np.broadcast_to(bound, err.shape)[quiet] + 1e-12).all()


def test_wide_chip_matches_float_spikes_early():
    net = init_network(20, 60, 2, seed=2, p_rec=0.3)
    cn = compile(net, "generic")
    x = (np.random.default_rng(0).random((4, 40, 20)) < 0.05).astype(np.uint8)
    r = native.run(cn, x, record=("spikes", "outputs"))
    rf = native.run(cn, x, mode="float", record=("spikes", "outputs"))
    assert r.spikes.sum() > 0
    assert np.array_equal(r.spikes[:, :40], rf.spikes[:, :40])
    assert np.abs(r.outputs - rf.outputs).max() < 1e-3
    assert r.counts.saturations == 0


def test_evidence_shaped_network_compiles_everywhere():
    from neurochip.chips import builtin_profiles, load_profile
    from neurochip.tasks import EvidenceTask
    n_in = EvidenceTask().n_in
    net = init_network(n_in, 100, 2, NeuronParams(kind="alif", tau_a=2000.0), seed=0)
    for chip in builtin_profiles():
        p = load_profile(chip)
        rule = LearningRule(eligibility=p.learning.eligibility[0])
        cn = compile(net, p, rule, options=CompileOptions.make(approximate=("reset", "adaptation", "refractory")))
        assert cn.n_rec == 100 and cn.n_cores >= 1 and cn.report["partition"]["n_cores"] == cn.n_cores
        r = native.run(cn, np.zeros((1, 5, n_in), np.uint8))
        assert r.spikes.shape == (1, 5, 100)
