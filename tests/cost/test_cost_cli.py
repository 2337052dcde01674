"""`neurochip bench` end to end on a small compiled network (poisson inputs, a few steps)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neurochip.cli.main import main
from neurochip.network import NeuronParams, init_network


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    from neurochip.compiler.pipeline import compile
    net = init_network(8, 24, 2, NeuronParams(kind="lif", n_ref=1), p_rec=0.5, seed=3)
    c = compile(net, "loihi2")
    stem = tmp_path_factory.mktemp("art") / "net"
    c.save(stem)
    return stem


def test_bench_cli_two_chips(artifact, tmp_path, capsys):
    out = tmp_path / "bench"
    rc = main(["bench", str(artifact), "--chip", "loihi2,loihi1", "--approximate", "reset", "--task", "poisson",
               "--rate-hz", "50", "--steps", "60", "--trials", "2", "--compare", "bptt", "-o", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| | loihi2 | loihi1 |" in text and "energy / inference (uJ)" in text
    for f in ("bench.json", "energy_breakdown.png", "traffic_heatmap.png", "bptt_scaling.png"):
        assert (out / f).stat().st_size > 0
    rep = {r["chip"]: r for r in json.loads((out / "bench.json").read_text())["chips"]}
    l2, l1 = rep["loihi2"], rep["loihi1"]
    # loihi2 publishes only an all-in figure: energy is exactly syn_ops x 6.8 pJ.
    syn = next(ln for ln in l2["inference"]["lines"] if ln["category"] == "synaptic")
    assert l2["inference"]["mode"] == "all_in"
    assert l2["inference"]["total_pj"] == pytest.approx(syn["count"] * 6.8)
    # loihi1: real-time static power for 2 x 60 steps of 1 ms on the used cores.
    assert l1["inference"]["static_pj"] == pytest.approx(0.82 * l1["n_cores"] * 120 * 1e6)
    assert l1["inference"]["per_trial_uj"] == pytest.approx(l1["inference"]["total_pj"] / 2 * 1e-6)
    # NeuroBench effective ACs (nonzero weights only, z^{t-1} for the recurrent layer) never exceed the
    # backend's synaptic ops (every existing synapse) and stay close to them.
    nb = l1["neurobench"]["SynapticOperations"]["Effective_ACs"] * 2
    syn1 = next(ln for ln in l1["inference"]["lines"] if ln["category"] == "synaptic")["count"]
    assert 0.8 * syn1 <= nb <= syn1 * 1.0001
    assert l1["bptt"]["total_pj"] > l1["inference"]["total_pj"]


def test_bench_cli_saved_counts_and_misfit(artifact, tmp_path, capsys):
    counts = {"steps": 100, "trials": 1, "syn_ops": 1000, "spikes": 10, "neuron_updates": 2600}
    cj = tmp_path / "run.json"
    cj.write_text(json.dumps({"counts": counts}))
    out = tmp_path / "b2"
    rc = main(["bench", str(artifact), "--counts", str(cj), "--task", "poisson", "--steps", "20", "--trials", "1",
               "-o", str(out)])
    assert rc == 0
    rep = json.loads((out / "bench.json").read_text())["chips"][0]
    assert rep["inference"]["total_pj"] == pytest.approx(1000 * 6.8)
    # An existing output directory is refused without --force.
    rc = main(["bench", str(artifact), "--counts", str(cj), "--task", "poisson", "--steps", "20", "-o", str(out)])
    assert rc != 0 and "not empty" in capsys.readouterr().err


def test_bench_auto_approximations(tmp_path):
    from neurochip.compiler.pipeline import compile
    net = init_network(8, 20, 2, NeuronParams(kind="alif", n_ref=5), seed=4)
    stem = tmp_path / "alif"
    compile(net, "loihi2").save(stem)
    out = tmp_path / "b"
    rc = main(["bench", str(stem), "--chip", "reckon", "--task", "poisson", "--steps", "30", "--trials", "1",
               "-o", str(out)])
    rep = json.loads((out / "bench.json").read_text())["chips"][0]
    assert rc == 2 and "does not fit" in rep["error"] and "adaptation" in rep["error"]
    out2 = tmp_path / "b2"
    rc = main(["bench", str(stem), "--chip", "reckon", "--approximate", "auto", "--task", "poisson", "--steps", "30",
               "--trials", "1", "-o", str(out2)])
    rep = json.loads((out2 / "bench.json").read_text())["chips"][0]
    assert rc == 0 and rep["chip"] == "reckon"
    note = " ".join(rep["notes"])
    assert "approximations accepted" in note and "adaptation" in note and "refractory" in note
