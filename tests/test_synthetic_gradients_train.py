"""Synthetic gradients through the ordinary trainer (`neurochip.train.train`, ``neurochip train``): the rule's
module is carried across updates (``RuleSpec.carried``), learnt online and written as a checked bundle.

Each test would fail if the trainer ignored the module: `train` must equal `train_sg` (learnt module) bit for
bit and differ from plain truncated training (frozen zero module); the saved module must be the learnt one."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from neurochip import rulebook
from neurochip.errors import ArtifactError, InvalidNetworkError
from neurochip.io import save_bundle
from neurochip.learning.synthetic import (SG_KIND, SG_SCHEMA, SynthGrad, load_module, save_module, sg_step,
                                          train_sg, zero_module)
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule
from neurochip.tasks import get_task
from neurochip.train import train, train_from_config

WEIGHTS = ("w_in", "w_rec", "w_out", "b_out")
# cue ends well before the recall window: T = 45 steps, k = 10 gives 4 window boundaries
TASK_OPTS = dict(n_cues=1, cue_ms=10, gap_ms=5, delay_ms=20, recall_ms=10, group_size=2)


def setup(rule_name="eprop_sg"):
    task = get_task("evidence", **TASK_OPTS)
    net = init_network(task.n_in, 6, task.n_out, NeuronParams(kind="alif", tau_a=100), n_adaptive=3, seed=0)
    return task, net, LearningRule(rule_name, truncation=10, sg_lr=0.5)


def same(a, b):
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in WEIGHTS)


@pytest.mark.parametrize("name", ["eprop_sg", "bptt_sg"])
def test_train_carries_the_module_exactly_as_train_sg(name):
    """train() == train_sg(learn_sg=True) bit for bit (network and module), != plain truncated training."""
    task, net, rule = setup(name)
    n_tr, hist = train(net, rule, task, 6, 4, seed=1, progress=False, eval_every=100, eval_batches=1)
    n_sg, sg, _ = train_sg(net, rule, task, 6, 4, seed=1, eval_batches=1)
    n_fix, _, _ = train_sg(net, rule, task, 6, 4, seed=1, learn_sg=False, eval_batches=1)
    assert isinstance(hist.rule_state, SynthGrad) and np.any(hist.rule_state.w)
    assert np.array_equal(hist.rule_state.w, sg.w)
    assert same(n_tr, n_sg)
    assert not same(n_tr, n_fix)          # the learnt module changed the network's updates
    assert len(hist.train["sg_error"]) == 6


def test_a_given_starting_module_is_used_and_updated():
    """rule_state = a module: the first update is sg_step with that module (network and module)."""
    task, net, rule = setup()
    rng = np.random.default_rng(3)
    sg0 = SynthGrad(0.1 * rng.standard_normal((2 * net.n_rec, 2 * net.n_rec + 1)))
    n1, hist = train(net, LearningRule("eprop_sg", truncation=10, sg_lr=0.5, optimizer="sgd", lr=0.1), task, 1, 4,
                     seed=2, progress=False, eval_every=100, eval_batches=1, rule_state=sg0)
    r = LearningRule("eprop_sg", truncation=10, sg_lr=0.5, optimizer="sgd", lr=0.1)
    g, _, _, sg1 = sg_step(net, r, task.batch(4, "train", 2 * 10**6), sg0)
    assert np.array_equal(hist.rule_state.w, sg1.w)
    assert np.allclose(n1.w_rec, net.w_rec - 0.1 * g.w_rec * net.rec_mask, rtol=0, atol=1e-12)
    n0, _ = train(net, r, task, 1, 4, seed=2, progress=False, eval_every=100, eval_batches=1)
    assert not np.array_equal(n0.w_rec, n1.w_rec)      # the zero default module gives another update


def test_rules_without_carried_state():
    task, net, _ = setup()
    _, hist = train(net, LearningRule("eprop_random"), task, 1, 2, progress=False, eval_batches=1)
    assert hist.rule_state is None and "rule_state" not in hist.to_dict()
    with pytest.raises(InvalidNetworkError, match="carries no state"):
        train(net, LearningRule("eprop_random"), task, 1, 2, progress=False, rule_state=zero_module(net.n_rec))
    assert rulebook.get("eprop_random").carried is None
    assert rulebook.get("eprop_sg").carried is rulebook.get("bptt_sg").carried is not None


def test_module_bundle_round_trip_and_refusals(tmp_path):
    rng = np.random.default_rng(0)
    sg = SynthGrad(rng.standard_normal((8, 9)))
    save_module(sg, tmp_path / "m")
    assert np.array_equal(load_module(tmp_path / "m").w, sg.w)
    assert load_module(tmp_path / "m", n_rec=4).n_rec == 4
    with pytest.raises(ArtifactError, match="for 4 neurons, the network has 5"):
        load_module(tmp_path / "m", n_rec=5)
    # altered weights: the array no longer matches its sha256 (the npz is rewritten with one changed value)
    w = sg.w.copy()
    w[0, 0] += 1e-9
    np.savez(tmp_path / "m.npz", w=w)
    with pytest.raises(ArtifactError, match="sha256|altered"):
        load_module(tmp_path / "m")
    # an edited manifest
    save_module(sg, tmp_path / "m")
    man = json.loads((tmp_path / "m.json").read_text())
    man["meta"]["n_rec"] = 5
    (tmp_path / "m.json").write_text(json.dumps(man))
    with pytest.raises(ArtifactError, match="digest"):
        load_module(tmp_path / "m")
    # truncated npz
    save_module(sg, tmp_path / "m")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "m.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError):
        load_module(tmp_path / "m")
    # well-formed bundles that are not a module
    init_network(3, 4, 2, NeuronParams(), seed=0).save(tmp_path / "net")
    with pytest.raises(ArtifactError, match="expected a 'synthetic_gradient'"):
        load_module(tmp_path / "net")
    save_bundle(tmp_path / "shape", SG_KIND, SG_SCHEMA, {"w": np.zeros((8, 8))}, {"n_rec": 4})
    with pytest.raises(ArtifactError, match=r"\[2N, 2N\+1\]"):
        load_module(tmp_path / "shape")
    bad = np.zeros((8, 9))
    bad[1, 2] = np.nan
    save_bundle(tmp_path / "nan", SG_KIND, SG_SCHEMA, {"w": bad}, {"n_rec": 4})
    with pytest.raises(ArtifactError, match="finite"):
        load_module(tmp_path / "nan")
    save_bundle(tmp_path / "n", SG_KIND, SG_SCHEMA, {"w": np.zeros((8, 9))}, {"n_rec": 3})
    with pytest.raises(ArtifactError, match="n_rec 3"):
        load_module(tmp_path / "n")
    with pytest.raises(ArtifactError, match="not found"):
        load_module(tmp_path / "nope")


def _cfg(name="eprop_sg"):
    return {"task": {"name": "evidence", **TASK_OPTS},
            "network": {"n_rec": 6, "tau_a": 100.0},
            "rule": {"name": name, "truncation": 10, "sg_lr": 0.5},
            "train": {"iterations": 4, "batch_size": 4, "seed": 0, "early_stop": None, "eval_every": 100,
                      "eval_batches": 1, "progress": False}}


def _toml(cfg):
    """The config as TOML (flat tables of strings, numbers, booleans; None values left out)."""
    out = []
    for sec, vals in cfg.items():
        out.append(f"[{sec}]")
        for k, v in vals.items():
            if v is not None:
                out.append(f"{k} = {json.dumps(v) if not isinstance(v, bool) else str(v).lower()}")
    return "\n".join(out) + "\n"


def _cli(*args):
    p = subprocess.run([sys.executable, "-m", "neurochip.cli.main", *map(str, args)], capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_cli_writes_the_learnt_module(tmp_path):
    """``neurochip train --rule eprop_sg`` writes the module the trainer learnt (== train_from_config's)."""
    cfg = _cfg()
    (tmp_path / "c.toml").write_text(_toml(cfg))
    rc, out, err = _cli("train", "--config", tmp_path / "c.toml", "-o", tmp_path / "o", "--no-progress")
    assert rc == 0, err
    assert "synthetic_gradient.npz" in out
    sg = load_module(tmp_path / "o" / "synthetic_gradient", n_rec=6)
    _, hist, metrics = train_from_config(cfg, progress=False)
    assert np.any(sg.w) and np.array_equal(sg.w, hist.rule_state.w)
    assert metrics["rule_state_artifact"] == "synthetic_gradient"
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["rule_state_artifact"] == "synthetic_gradient"


def test_cli_refuses_a_bad_sg_lr_before_training(tmp_path):
    rc, _, err = _cli("train", "--rule", "eprop_sg", "--truncation", "10", "--sg-lr", "2.5", "-o", tmp_path / "o")
    assert rc != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "sg_lr" in err
    assert not (tmp_path / "o").exists()
