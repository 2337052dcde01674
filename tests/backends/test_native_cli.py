"""`neurochip run ARTIFACT --backend native [--learn]`: end to end on a small evidence-accumulation net."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neurochip.cli.main import main
from neurochip.compiler.pipeline import compile
from neurochip.io import load_bundle
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule


@pytest.fixture
def artifact(tmp_path):
    net = init_network(40, 16, 2, NeuronParams(kind="alif"), seed=0)
    c = compile(net, "loihi2", LearningRule("eprop_random", lr=1e-3, eligibility="factorised"))
    c.save(tmp_path / "compiled")
    return tmp_path / "compiled"


def test_run_learn_writes_outputs(artifact, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(artifact), "--backend", "native", "--learn", "--task", "evidence", "--trials", "3",
               "--epochs", "2", "--seed", "1", "-o", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "spike rate" in text and "syn_ops=" in text and "epoch 1:" in text
    run = json.loads((out / "run.json").read_text())
    assert 0.0 <= run["test"]["accuracy"] <= 1.0 and run["spike_rate_hz"] >= 0
    assert run["counts"]["neuron_updates"] == 3 * 2250 * (16 + 2)
    assert len(run["learning"]["epochs"]) == 2 and run["learning"]["counts"]["trace_updates"] > 0
    assert (out / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    arrays, meta = load_bundle(out / "learned", "learned-weights", 1)
    assert arrays["w_in"].shape == (16, 40) and arrays["w_out"].shape == (2, 16)
    assert arrays["w_in"].min() >= -256 and arrays["w_in"].max() <= 255     # 9-bit mantissas


def test_run_errors_are_one_line(artifact, tmp_path, capsys):
    rc = main(["run", str(artifact), "--task", "pattern", "-o", str(tmp_path / "o2")])
    assert rc == 2 and "n_in" in capsys.readouterr().err
    rc = main(["run", str(artifact), "--backend", "tpu", "-o", str(tmp_path / "o3")])
    assert rc == 2 and "unknown backend 'tpu'" in capsys.readouterr().err
    rc = main(["run", str(tmp_path / "missing"), "-o", str(tmp_path / "o4")])
    assert rc != 0 and "error" in capsys.readouterr().err
