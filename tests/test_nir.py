"""NIR export/import (neurochip.nir): exact round trip of every Network neurochip can make, the
standard fields other tools read, and graphs written by snnTorch itself (tests/data/nir, made by
tests/data/nir/make_snntorch_graphs.py) imported, compiled to a chip and run, with spike agreement
against the spikes snnTorch produced for the same inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nir

from neurochip.errors import ArtifactError, InvalidNetworkError
from neurochip.network import Network, NeuronParams
from neurochip.nir import from_nir, read_nir, to_nir, write_nir
from neurochip.rules import RULES, LearningRule
from neurochip.simulate import simulate

DATA = Path(__file__).parent / "data" / "nir"
SNN_DT = 1e-4  # snnTorch's export hard-codes dt = 1e-4 s


@st.composite
def networks(draw):
    """Any valid Network: LIF or ALIF, any conventions, masks, biases, feedback."""
    kind = draw(st.sampled_from(["lif", "alif"]))
    pos = st.floats(0.05, 5000.0, allow_nan=False)
    params = NeuronParams(kind=kind, dt=draw(st.floats(0.01, 5.0)), tau_m=draw(pos), tau_a=draw(pos), tau_out=draw(pos),
                          v_th=draw(st.floats(1e-3, 10.0)), n_ref=draw(st.integers(1, 8)),
                          gamma_pd=draw(st.floats(0.0, 2.0)), scaled_input=draw(st.booleans()),
                          scaled_readout=draw(st.booleans()))
    n_in, n_rec, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 7)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rec, n_rec)) < draw(st.floats(0.0, 1.0))
    np.fill_diagonal(mask, False)
    w_rec = rng.standard_normal((n_rec, n_rec)) * mask
    if draw(st.booleans()):  # a masked synapse whose weight happens to be 0 must survive too
        w_rec[mask & (rng.random(mask.shape) < 0.3)] = 0.0
    beta = np.zeros(n_rec) if kind == "lif" else np.abs(rng.standard_normal(n_rec)) * (rng.random(n_rec) < 0.6)
    b_out = rng.standard_normal(n_out) if draw(st.booleans()) else np.zeros(n_out)
    net = Network(params=params, w_in=rng.standard_normal((n_rec, n_in)), w_rec=w_rec,
                  w_out=rng.standard_normal((n_out, n_rec)), b_out=b_out, B=rng.standard_normal((n_rec, n_out)),
                  beta=beta, rec_mask=mask)
    rule = None
    if draw(st.booleans()):
        rule = LearningRule(name=draw(st.sampled_from([r for r in RULES if r != "truncated_bptt"])),
                            lr=draw(st.floats(1e-6, 1.0)), optimizer=draw(st.sampled_from(["adam", "sgd"])),
                            reg_rate=draw(st.floats(0.0, 10.0)), train_bias=draw(st.booleans()))
    return net, rule


def _same(a: Network, b: Network) -> None:
    assert a.params == b.params
    for name in ("w_in", "w_rec", "w_out", "b_out", "B", "beta", "rec_mask"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x, y), name  # bit-identical
    assert a.digest() == b.digest()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(networks())
def test_round_trip_exact_through_file(tmp_path, nr):
    net, rule = nr
    path = tmp_path / "net.nir"
    write_nir(path, net, rule)
    back = read_nir(path)
    assert back.exact
    _same(net, back.network)
    assert back.rule == rule


@settings(max_examples=25, deadline=None)
@given(networks())
def test_standard_fields_give_neurochip_dynamics_under_euler(nr):
    """What a standard reader sees: Euler with the graph's dt reproduces alpha, kappa and the gains."""
    net, _ = nr
    p = net.params
    g = to_nir(net)
    dt = g.metadata["dt"]
    assert dt == pytest.approx(p.dt * 1e-3, rel=1e-15)
    lif, li = g.nodes["rec"], g.nodes["readout"]
    assert np.allclose(1 - dt / lif.tau, p.alpha, rtol=1e-12, atol=1e-15)
    assert np.allclose(dt * lif.r / lif.tau, p.c_in, rtol=1e-12)
    assert np.allclose(1 - dt / li.tau, p.kappa, rtol=1e-12, atol=1e-15)
    assert np.allclose(dt * li.r / li.tau, p.c_kappa, rtol=1e-12)
    assert np.array_equal(lif.v_threshold, np.full(net.n_rec, p.v_th))
    assert np.array_equal(g.nodes["w_rec"].weight, net.w_rec)
    assert ("w_rec", "rec") in g.edges and ("rec", "w_rec") in g.edges
    # the file tells standard readers what they cannot represent
    warn = g.metadata["neurochip_not_standard"]
    assert "reset by subtraction" in warn and ("ALIF" in warn) == (p.kind == "alif")


def test_lif_network_runs_identically_after_standard_only_import():
    """A LIF network with n_ref = 1 read back *without* neurochip's metadata (as another tool would) gives
    the same spikes: the standard part is a faithful description of a plain LIF network."""
    rng = np.random.default_rng(0)
    p = NeuronParams(kind="lif", tau_m=20.0, tau_out=30.0, v_th=0.5, n_ref=1)
    mask = ~np.eye(12, dtype=bool)
    net = Network(params=p, w_in=rng.standard_normal((12, 4)), w_rec=0.3 * rng.standard_normal((12, 12)) * mask,
                  w_out=rng.standard_normal((2, 12)), b_out=np.zeros(2), B=rng.standard_normal((12, 2)),
                  beta=np.zeros(12), rec_mask=mask)
    g = to_nir(net)
    del g.metadata["neurochip"]
    imp = from_nir(g)
    assert not imp.exact
    x = (rng.random((2, 200, 4)) < 0.2).astype(np.float64)
    a, b = simulate(net, x), simulate(imp.network, x)
    assert a.z.sum() > 50
    assert np.array_equal(a.z, b.z)
    assert np.allclose(a.out, b.out, rtol=1e-9, atol=1e-12)


def test_edited_standard_field_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    net = Network(params=NeuronParams(kind="lif", n_ref=1), w_in=rng.standard_normal((3, 2)), w_rec=np.zeros((3, 3)),
                  w_out=rng.standard_normal((1, 3)), b_out=np.zeros(1), B=np.ones((3, 1)), beta=np.zeros(3))
    g = to_nir(net)
    g.nodes["rec"].v_threshold = g.nodes["rec"].v_threshold * 2
    with pytest.raises(ArtifactError, match="v_threshold disagrees"):
        from_nir(g)


@pytest.mark.parametrize("name", ["ff", "rec"])
def test_snntorch_graph_spikes_agree_and_compile(name):
    """Graphs written by snnTorch itself: import, float spikes == snnTorch's recorded spikes (layer 2 one
    step later: the layer-to-layer projection becomes a W_rec block), then compile to a chip and run."""
    from neurochip.backends import get_backend
    from neurochip.compiler import compile as compile_net

    run = np.load(DATA / "snntorch_runs.npz")
    x, s1, s2 = run[f"{name}_x"], run[f"{name}_s1"], run[f"{name}_s2"]
    imp = read_nir(DATA / f"snntorch_{name}.nir", dt=SNN_DT)
    assert not imp.exact
    assert [n for _, _, n in imp.layers] == [s1.shape[1], s2.shape[1]]
    net = imp.network
    if name == "rec":
        blk = net.w_rec[:10, :10]
        assert np.count_nonzero(blk) > 50  # the RLeaky recurrent matrix really is there
    z = simulate(net, x[None].astype(np.float64)).z[0]
    assert s1.sum() > 20 and s2.sum() > 5
    assert np.array_equal(z[:, :10], s1)
    assert np.array_equal(z[1:, 10:], s2[:-1])
    cn = compile_net(net, "generic")
    r = get_backend("native").run(cn, x[None].astype(np.uint8))
    assert r.spikes.shape == (1, x.shape[0], 13)
    assert np.array_equal(r.spikes[0, :, :10], s1)
    assert np.array_equal(r.spikes[0, 1:, 10:], s2[:-1])


def test_foreign_graph_needs_dt_and_rejects_what_it_cannot_map():
    g = nir.read(str(DATA / "snntorch_ff.nir"))
    with pytest.raises(InvalidNetworkError, match="give dt in seconds"):
        from_nir(g)
    g.nodes["0"] = nir.Affine(weight=np.asarray(g.nodes["0"].weight), bias=np.ones(10))
    with pytest.raises(InvalidNetworkError, match="non-zero bias"):
        from_nir(g, dt=SNN_DT)
    g = nir.read(str(DATA / "snntorch_ff.nir"))
    g.nodes["3"].tau = np.asarray(g.nodes["3"].tau) * 2
    with pytest.raises(InvalidNetworkError, match="one membrane decay"):
        from_nir(g, dt=SNN_DT)


def test_cubalif_with_memoryless_synapse_maps_and_with_memory_is_refused():
    n = 4
    rng = np.random.default_rng(2)
    W = rng.standard_normal((n, 3))
    dt = 1e-3

    def graph(tau_syn):
        return nir.NIRGraph(
            nodes={"input": nir.Input(input_type={"input": np.array([3])}), "w": nir.Linear(weight=W),
                   "lif": nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, 0.02), r=np.full(n, 20.0),
                                      v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n),
                                      w_in=np.full(n, tau_syn / dt)),
                   "output": nir.Output(output_type={"output": np.array([n])})},
            edges=[("input", "w"), ("w", "lif"), ("lif", "output")])

    imp = from_nir(graph(dt), dt=dt)
    assert imp.network.params.alpha == pytest.approx(1 - dt / 0.02, rel=1e-12)
    assert np.allclose(imp.network.w_in, W, rtol=1e-12)  # unit gains: r = tau/dt, w_in = tau_syn/dt
    with pytest.raises(InvalidNetworkError, match="no synaptic current state"):
        from_nir(graph(5e-3), dt=dt)


def test_bad_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "x.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ArtifactError, match="not a readable NIR file"):
        read_nir(bad)
    with pytest.raises(ArtifactError, match="no such NIR file"):
        read_nir(tmp_path / "missing.nir")


def test_cli_import_export_round_trip(tmp_path, capsys):
    from neurochip.cli.main import main
    from neurochip.network import Network as Net

    stem = tmp_path / "imp"
    assert main(["import-nir", str(DATA / "snntorch_rec.nir"), "-o", str(stem)]) == 2  # no dt: one clear error
    assert "give dt in seconds" in capsys.readouterr().err
    assert not (tmp_path / "imp.npz").exists()
    assert main(["import-nir", str(DATA / "snntorch_rec.nir"), "-o", str(stem), "--dt", "1e-4"]) == 0
    net = Net.load(stem)
    assert net.n_rec == 13
    f = tmp_path / "imp.nir"
    assert main(["export-nir", str(stem), "-o", str(f), "--rule", "eprop_random"]) == 0
    assert "not representable for them" in capsys.readouterr().out
    assert main(["export-nir", str(stem), "-o", str(f)]) == 2  # exists, no --force
    back = read_nir(f)
    _same(net, back.network)
    assert back.rule == LearningRule("eprop_random")
