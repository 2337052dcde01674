"""The layer map (`Network.in_mask` / `out_mask`) and the rule built on it, `eprop_direct` (direct random
feedback into a hidden layer, issue 16 item 3), through float learning, compile, the chip and the cost model:

- a network without a layer map keeps its digest and files (masks are all True and not stored);
- absent input / readout synapses get no float gradient and stay exactly 0 under Adam;
- eprop_direct's feedback is W_out^T for neurons with a readout and B for the others;
- the compiled artifact keeps the structure (masks, CSR without absent synapses; saved and loaded);
- on-chip learning never grows an absent synapse and equals the pure-Python oracle bit for bit
  (hypothesis: random layer maps, both eligibility forms and roundings);
- the kernels' event counts equal the spike-based counter on a multi-core layout; memory counts only
  existing synapses.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent / "kernels"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "compiler"))

from neurochip import rulebook  # noqa: E402
from neurochip.backends import get_backend  # noqa: E402
from neurochip.backends.counts import counts_from_spikes  # noqa: E402
from neurochip.compiler.artifact import CompiledNetwork  # noqa: E402
from neurochip.compiler.lower_rule import LowerRuleOptions  # noqa: E402
from neurochip.compiler.pipeline import CompileOptions, compile  # noqa: E402
from neurochip.errors import InvalidNetworkError  # noqa: E402
from neurochip.learning import OptState, apply_update, grads  # noqa: E402
from neurochip.network import Network, NeuronParams, init_network  # noqa: E402
from neurochip.rules import LearningRule  # noqa: E402
from neurochip.tasks.base import Batch  # noqa: E402

native = get_backend("native")


def layered(n_in=5, n1=6, n2=5, n_out=2, seed=0, kind="alif", n_ref=2, tau_a=200.0) -> Network:
    """Two recurrent populations (`neurochip.layers.stack_layers`, checked on its own below): layer 1 gets the
    input, layer 2 alone drives the readout, no L2 -> L1."""
    from neurochip.layers import stack_layers
    net = init_network(n_in, n1 + n2, n_out, NeuronParams(kind=kind, n_ref=n_ref, tau_a=tau_a), seed=seed)
    net = stack_layers(net, [n1, n2])
    return net.with_weights(beta=net.beta * 4) if kind == "alif" else net


def _batch(net, B=3, T=60, seed=1):
    rng = np.random.default_rng(seed)
    x = (rng.random((B, T, net.n_in)) < 0.3).astype(np.uint8)
    tg = rng.standard_normal((B, T, net.n_out)) * 0.3
    return Batch(x=x, target=tg, mask=np.ones((B, T), bool), loss="mse")


# --------------------------------------------------------------------------- the Network contract
def test_no_layer_map_keeps_digest_and_files(tmp_path):
    net = init_network(4, 7, 2, seed=3)
    full = replace(net, in_mask=np.ones((7, 4), bool), out_mask=np.ones((2, 7), bool))
    assert not net.layered and not full.layered and full.digest() == net.digest()
    net.save(tmp_path / "n")
    with np.load(tmp_path / "n.npz") as z:
        assert "in_mask" not in z.files and "out_mask" not in z.files
    assert Network.load(tmp_path / "n").digest() == net.digest()


def test_layer_map_validated_and_round_trips(tmp_path):
    net = layered()
    assert net.layered and net.n_synapses == int(net.in_mask.sum() + net.rec_mask.sum() + net.out_mask.sum())
    assert net.has_readout.tolist() == [False] * 6 + [True] * 5
    net.save(tmp_path / "n")
    back = Network.load(tmp_path / "n")
    assert back.digest() == net.digest() and np.array_equal(back.in_mask, net.in_mask)
    assert np.array_equal(back.out_mask, net.out_mask)
    # the masks are part of the digest: the same weights without them are another network
    assert replace(net, in_mask=None, out_mask=None).digest() != net.digest()
    with pytest.raises(InvalidNetworkError, match=r"w_in\[6, 0\] = .* but in_mask\[6, 0\] is False"):
        replace(net, w_in=net.w_in + 0.1)
    with pytest.raises(InvalidNetworkError, match="out_mask has shape"):
        replace(net, out_mask=net.out_mask.T)


# --------------------------------------------------------------------------- float learning
@pytest.mark.parametrize("name", ["eprop_direct", "eprop_symmetric", "bptt"])
def test_absent_synapses_get_no_gradient_and_stay_zero(name):
    net = layered()
    rule = LearningRule(name, lr=5e-2, optimizer="adam")
    b = _batch(net)
    g = grads(net, rule, b)[0]
    assert not g.w_in[~net.in_mask].any() and not g.w_out[~net.out_mask].any()
    assert g.w_in[net.in_mask].any() and g.w_out[net.out_mask].any()
    st_ = OptState()
    for _ in range(3):
        net = apply_update(net, rule, grads(net, rule, b)[0], st_)
    assert not net.w_in[~net.in_mask].any() and not net.w_out[~net.out_mask].any()


def test_direct_feedback_reaches_the_hidden_layer():
    net = layered()
    F = rulebook.get("eprop_direct").feedback(net)
    ro = net.has_readout
    np.testing.assert_array_equal(F[ro], net.w_out.T[ro])
    np.testing.assert_array_equal(F[~ro], net.B[~ro])
    b = _batch(net)
    g_dir = grads(net, LearningRule("eprop_direct", reg_rate=0.0), b)[0]
    g_sym = grads(net, LearningRule("eprop_symmetric", reg_rate=0.0), b)[0]
    # symmetric e-prop gives the hidden layer (its input weights) no task signal; direct feedback does
    assert not g_sym.w_in.any() and g_dir.w_in.any()
    np.testing.assert_array_equal(g_dir.w_out, g_sym.w_out)
    # without a layer map every neuron has a readout: eprop_direct is symmetric e-prop
    dense = init_network(5, 9, 2, NeuronParams(kind="lif", n_ref=2), seed=4)
    np.testing.assert_array_equal(rulebook.get("eprop_direct").feedback(dense), dense.w_out.T)


# --------------------------------------------------------------------------- compile and chip
def _compile(net, elig="per_synapse", rounding="nearest", trace="trunc", batch=2, profile="loihi2"):
    rule = LearningRule("eprop_direct", lr=3e-2, eligibility=elig, reg_rate=1.0, target_rate_hz=20.0)
    lo = LowerRuleOptions(rounding=rounding, batch=batch, trace_rounding=trace, lr_mode="sgd")
    return compile(net, profile, rule, options=CompileOptions.make(v_headroom=16, learn=lo, overflow="allow"))


def test_artifact_keeps_the_structure(tmp_path):
    net = layered()
    c = _compile(net)
    np.testing.assert_array_equal(c.in_mask, net.in_mask)
    np.testing.assert_array_equal(c.out_mask, net.out_mask)
    c.save(tmp_path / "c")
    back = CompiledNetwork.load(tmp_path / "c")
    np.testing.assert_array_equal(back.in_mask, net.in_mask)
    np.testing.assert_array_equal(back.out_mask, net.out_mask)
    from neurochip.backends.native import tables_for
    assert tables_for(c).in_idx.size == int(net.in_mask.sum())          # absent inputs are not synapses
    # an artifact without a layer map writes no mask field (its manifest is as before masks existed)
    d = _compile(init_network(5, 9, 2, NeuronParams(kind="lif", n_ref=2), seed=4))
    assert d.in_mask is None and d.out_mask is None
    d.save(tmp_path / "d")
    assert '"in_mask"' not in (tmp_path / "d.json").read_text()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), elig=st.sampled_from(["per_synapse", "factorised"]),
       rounding=st.sampled_from(["nearest", "stochastic"]), kind=st.sampled_from(["lif", "alif"]),
       n1=st.integers(2, 6), n2=st.integers(2, 5), batch=st.integers(1, 3))
def test_onchip_learning_equals_oracle_and_keeps_absent_synapses(seed, elig, rounding, kind, n1, n2, batch):
    from pyref_eprop import learn as py_learn
    from neurochip.backends.native import chip_format
    net = layered(n1=n1, n2=n2, seed=seed, kind=kind)
    c = _compile(net, elig, rounding, "stochastic" if rounding == "stochastic" else "trunc", batch)
    rng = np.random.default_rng(seed + 1)
    x = (rng.random((3, 40, net.n_in)) < 0.3).astype(np.uint8)
    tg = rng.standard_normal((3, 40, 2)) * 0.3
    mask = np.ones((3, 40), bool)
    r = native.run(c, x, learn=True, targets={"target": tg, "mask": mask, "loss": "mse"}, batch_size=batch)
    assert not r.weights["w_in"][~c.in_mask].any() and not r.weights["w_out"][~c.out_mask].any()
    f = chip_format(c)
    out = {}
    w_in, w_rec, w_out = py_learn(c, x.tolist(), tg.tolist(), S=f["S"], D=f["D"], mb=f["mem_bits"], cb=f["cur_bits"],
                                  trials_per_apply=batch, mask=mask.tolist(), out=out)
    np.testing.assert_array_equal(r.weights["w_in"], np.array(w_in))
    np.testing.assert_array_equal(r.weights["w_rec"], np.array(w_rec))
    np.testing.assert_array_equal(r.weights["w_out"], np.array(w_out))
    assert r.meta["learn_state"].gain_exp.tolist() == out["gain"]


def test_hidden_layer_learns_on_chip():
    """The hidden layer's input weights move on chip under eprop_direct (and not under symmetric e-prop,
    whose W_out^T has nothing for them: only the rate regulariser, switched off here)."""
    net = layered(n1=8, n2=6, seed=2, kind="lif")
    rng = np.random.default_rng(5)
    x = (rng.random((4, 80, net.n_in)) < 0.3).astype(np.uint8)
    tg = {"target": rng.standard_normal((4, 80, 2)) * 0.3, "mask": np.ones((4, 80), bool), "loss": "mse"}
    moved = {}
    for name in ("eprop_direct", "eprop_symmetric"):
        rule = LearningRule(name, lr=3e-2, eligibility="per_synapse", reg_rate=0.0)
        c = compile(net, "loihi2", rule, options=CompileOptions.make(
            v_headroom=16, overflow="allow", learn=LowerRuleOptions(batch=2, lr_mode="sgd")))
        r = native.run(c, x, learn=True, targets=tg, batch_size=2)
        moved[name] = int(np.count_nonzero(r.weight_updates["w_in"]))
    assert moved["eprop_direct"] > 0 and moved["eprop_symmetric"] == 0, moved


def test_counts_and_memory_count_existing_synapses_only():
    from cc_helpers import variant
    from neurochip.cost.memory import memory
    net = layered(n_in=6, n1=12, n2=10, n_out=3, seed=1, kind="lif")
    prof = variant("loihi2", core={"max_neurons": 5})
    c = compile(net, prof, LearningRule("eprop_direct", eligibility="factorised"),
                options=CompileOptions.make(v_headroom=16, overflow="allow"))
    assert c.n_cores >= 4
    x = (np.random.default_rng(0).random((2, 80, net.n_in)) < 0.4).astype(np.uint8)
    r = native.run(c, x)
    cs = counts_from_spikes(c, x, r.spikes)
    assert r.counts.spikes > 0
    for f in ("syn_ops", "syn_ops_dense", "spike_packets", "mesh_hops", "neuron_updates_active"):
        assert getattr(r.counts, f) == getattr(cs, f), f
    np.testing.assert_array_equal(r.counts.per_core_syn_ops, cs.per_core_syn_ops)
    np.testing.assert_array_equal(r.counts.core_to_core_packets, cs.core_to_core_packets)
    # a hidden-layer neuron's spike reaches no readout synapse: fewer ops than n_out per spike
    z = r.spikes.sum(axis=(0, 1))
    assert r.counts.syn_ops < int(x.sum()) * net.n_rec + int((z * net.rec_mask.sum(axis=0)).sum()) + int(z.sum()) * 3
    rl = native.run(c, x, learn=True, targets={"target": np.zeros((2, 80, 3)), "mask": np.ones((2, 80), bool),
                                                "loss": "mse"}, batch_size=2)
    cl = counts_from_spikes(c, x, rl.spikes)
    assert rl.counts.syn_ops == cl.syn_ops and rl.counts.spike_packets == cl.spike_packets
    m = memory(c)["weights_bits"]
    assert m["synapses"] == int(net.in_mask.sum() + net.rec_mask.sum() + net.out_mask.sum())
    assert m["input"] == int(net.in_mask.sum()) * m["bits_per_synapse"]


def test_nir_round_trip_keeps_the_layer_map(tmp_path):
    from neurochip.nir import read_nir, write_nir
    net = layered()
    path = write_nir(tmp_path / "net.nir", net)
    back = read_nir(path).network
    assert back.digest() == net.digest()
    np.testing.assert_array_equal(back.in_mask, net.in_mask)


def test_validate_compares_the_onchip_update_with_float_eprop_direct():
    """validate --learn on a layered artifact: the float reference is the artifact's own layered network
    (masks included), so the chip's update and float eprop_direct's agree (cosine 0.999 measured)."""
    from neurochip.validate import validate
    net = layered(n_in=6, n1=10, n2=10, n_out=2, seed=2, kind="lif")
    net = net.with_weights(w_in=net.w_in * 2)
    c = compile(net, "loihi2", LearningRule("eprop_direct", lr=1e-2, optimizer="sgd", reg_rate=0.0),
                options=CompileOptions.make(v_headroom=16, overflow="allow",
                                            learn=LowerRuleOptions(batch=8, lr_mode="sgd")))
    rng = np.random.default_rng(0)
    x = (rng.random((8, 100, 6)) < 0.3).astype(np.uint8)
    b = Batch(x=x, target=rng.standard_normal((8, 100, 2)) * 0.3, mask=np.ones((8, 100), bool), loss="mse")
    rep, _ = validate(c, learn=True, learn_batch=b)
    assert rep["passed"], rep["failures"]
    assert rep["metrics"]["cosine_eprop_min"] > 0.98, rep["metrics"]


# --------------------------------------------------------------------------- building layered networks
def test_stack_layers_three_layers():
    from neurochip.layers import layer_of, stack_layers
    base = init_network(4, 12, 2, NeuronParams(kind="alif", n_ref=2), n_adaptive=12, seed=5)
    net = stack_layers(base, [5, 4, 3], adaptive_fraction=0.5)
    lay = layer_of([5, 4, 3])
    # synapses exist exactly within a layer and from layer k to k + 1; only layer 0 gets input, only 2 reads out
    want = ((lay[:, None] == lay[None, :]) | (lay[:, None] == lay[None, :] + 1)) & ~np.eye(12, dtype=bool)
    np.testing.assert_array_equal(net.rec_mask, want)
    np.testing.assert_array_equal(net.in_mask.any(axis=1), lay == 0)
    np.testing.assert_array_equal(net.has_readout, lay == 2)
    np.testing.assert_array_equal(net.w_rec[want], base.w_rec[want])          # weights kept where synapses stay
    assert (net.beta > 0).tolist() == [0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1]     # second half (odd: the larger) of each
    with pytest.raises(InvalidNetworkError, match=r"sum to 11 neurons, but n_rec = 12"):
        stack_layers(base, [5, 4, 2])
    with pytest.raises(InvalidNetworkError, match="at least 2 layer sizes"):
        stack_layers(base, [12])


def test_config_layers_build_a_layered_network():
    from neurochip.train import build
    task, net, rule, _, _ = build({"task": {"name": "evidence", "n_cues": 1}, "network": {"layers": [6, 5]},
                                   "rule": {"name": "eprop_direct"}})
    assert net.n_rec == 11 and net.layered and rule.name == "eprop_direct"
    np.testing.assert_array_equal(net.has_readout, np.arange(11) >= 6)
    assert np.count_nonzero(net.beta[:6]) == 3 and np.count_nonzero(net.beta[6:]) == 3   # adaptive_fraction 0.5
    from neurochip.errors import ConfigError
    with pytest.raises(ConfigError, match=r"network.layers = \[6, 5\] sum to 11 neurons, but network.n_rec = 12"):
        build({"task": {"name": "evidence"}, "network": {"layers": [6, 5], "n_rec": 12}})


def test_cli_refuses_bad_layers_in_one_line(tmp_path):
    import subprocess
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[network]\nlayers = [40]\n")
    p = subprocess.run([sys.executable, "-m", "neurochip.cli.main", "train", "--config", str(cfg), "--iterations", "1",
                        "-o", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert p.returncode != 0 and len(lines) == 1 and "layers = [40]" in lines[0] and "Traceback" not in p.stderr
    assert not (tmp_path / "o").exists()


def test_curvature_parameters_are_the_existing_synapses():
    """The curvature code's parameter vector holds only existing synapses (absent ones are not weights):
    flatten / unflatten round-trip on a layered network, and its size is the synapse count."""
    from neurochip.analysis.curvature import flatten, unflatten
    net = layered()
    theta = flatten(net)
    assert theta.size == net.n_synapses
    back = unflatten(net, theta + 1.0)
    np.testing.assert_array_equal(back.w_in[~net.in_mask], 0.0)
    np.testing.assert_array_equal(back.w_in[net.in_mask], net.w_in[net.in_mask] + 1.0)
    np.testing.assert_array_equal(back.w_out[net.out_mask], net.w_out[net.out_mask] + 1.0)
    dense = init_network(4, 6, 2, seed=1)
    assert flatten(dense).size == dense.n_synapses
