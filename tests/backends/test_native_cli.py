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


def _decision_accuracy(out, target, mask):
    """Accuracy written here from the task definition (one recall window per evidence trial: the decision is
    the argmax of the readout averaged over it), not through neurochip.learning.losses."""
    hits = []
    for b in range(out.shape[0]):
        m = np.asarray(mask[b], bool)
        assert m.any() and np.all(np.diff(np.flatnonzero(m)) == 1)      # one contiguous recall window
        hits.append(int(np.argmax(out[b, m].mean(0))) == int(np.asarray(target[b])[m][0]))
    return float(np.mean(hits))


def test_run_learn_writes_outputs(artifact, tmp_path, capsys):
    from dataclasses import replace

    from neurochip.backends import get_backend
    from neurochip.compiler.artifact import CompiledNetwork
    from neurochip.tasks import get_task

    out = tmp_path / "out"
    rc = main(["run", str(artifact), "--backend", "native", "--learn", "--task", "evidence", "--trials", "8",
               "--batch-size", "4", "--lr", "0.01", "--test-trials", "8", "--epochs", "2", "--seed", "1",
               "--no-progress", "-o", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "spike rate" in text and "syn_ops=" in text and "on-chip learning:" in text
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["neuron_updates"] == 8 * 2250 * (16 + 2)
    lrn = run["learning"]
    assert lrn["iterations"] == 2 and lrn["batch_size"] == 4 and lrn["lr"] == pytest.approx(0.01)
    assert lrn["curve"][-1]["iteration"] == 2 * 2 and lrn["after"] == run["test"]["accuracy"]   # 2 epochs x 2
    assert (out / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    arrays, meta = load_bundle(out / "learned", "learned-weights", 1)
    assert arrays["w_in"].shape == (16, 40) and arrays["w_out"].shape == (2, 16) and arrays["b_out"].shape == (2,)
    assert arrays["w_in"].min() >= -256 and arrays["w_in"].max() <= 255     # 9-bit mantissas
    c = CompiledNetwork.load(artifact)
    assert any(not np.array_equal(arrays[f], np.asarray(getattr(c, f))) for f in ("w_in", "w_rec", "w_out"))
    # measured: 5 w_in and 1 w_out mantissas changed, held-out accuracy 0.625 -> 0.75
    # Independent evaluation: the written learned weights, run by the backend on the same held-out draw
    # (`task.batch(8, 'test', 0)` of the seed-1 evidence task), must give the reported accuracy (recomputed
    # here from the readout), spike rate and event counts.
    test = get_task("evidence", seed=1).batch(8, "test", 0)
    learned = replace(c, **{k: arrays[k] for k in ("w_in", "w_rec", "w_out", "b_out")})  # b_out learns (float, off chip)
    res = get_backend("native").run(learned, test.x)
    assert run["test"]["accuracy"] == pytest.approx(_decision_accuracy(res.outputs, test.target, test.mask), abs=1e-12)
    assert run["counts"] == json.loads(json.dumps(res.counts.to_dict()))
    assert run["spike_rate_hz"] == pytest.approx(res.spikes.mean() * 1000.0, rel=1e-12) and run["spike_rate_hz"] > 1.0


def test_run_errors_are_one_line(artifact, tmp_path, capsys):
    rc = main(["run", str(artifact), "--task", "pattern", "-o", str(tmp_path / "o2")])
    assert rc == 2 and "n_in" in capsys.readouterr().err
    rc = main(["run", str(artifact), "--backend", "tpu", "-o", str(tmp_path / "o3")])
    assert rc == 2 and "unknown backend 'tpu'" in capsys.readouterr().err
    rc = main(["run", str(tmp_path / "missing"), "-o", str(tmp_path / "o4")])
    assert rc != 0 and "error" in capsys.readouterr().err
