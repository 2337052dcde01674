"""``neurochip analyse``: writes analysis.json, refuses a non-empty output dir, one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neurochip.cli.main import main
from neurochip.network import init_network


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("nets")
    init_network(40, 6, 2, seed=0).save(d / "network")     # evidence: 40 inputs, 2 outputs
    init_network(3, 6, 1, seed=0).save(d / "other")        # fits no task
    from neurochip.compiler import compile
    from neurochip.network import Network
    compile(Network.load(d / "network"), "loihi2").save(d / "compiled")
    from neurochip.rules import LearningRule
    compile(Network.load(d / "network"), "loihi2", LearningRule("eprop_random")).save(d / "learning")
    return d


def test_writes_analysis_json_for_network_and_artifact(saved, tmp_path, capsys):
    out = tmp_path / "a"
    assert main(["analyse", str(saved / "network"), "--trials", "2", "--iters", "2", "-o", str(out)]) == 0
    rep = json.loads((out / "analysis.json").read_text())
    assert set(rep) >= {"float", "units"} and "chip" not in rep
    c = rep["float"]["curvature"]
    assert c["iterations"] == 2 and "surrogate" in c["hessian"]
    # the reported estimate is the last Rayleigh quotient, with its own sign, from steps that flipped no spike
    assert len(c["history"]) == 2 and c["value"] == c["history"][-1] and c["value"] != 0
    assert c["sign"] == int(np.sign(c["value"])) and c["max_flips"] == 0
    assert (out / "analysis.png").stat().st_size > 0
    out2 = tmp_path / "b"
    assert main(["analyse", str(saved / "compiled"), "--trials", "2", "--iters", "2", "-o", str(out2)]) == 0
    rep2 = json.loads((out2 / "analysis.json").read_text())
    assert rep2["kind"] == "compiled" and rep2["chip"]["gap"]["train"]["trials"] == 2
    assert "analysis.json" in capsys.readouterr().out


def test_refuses_non_empty_output_dir(saved, tmp_path, capsys):
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["analyse", str(saved / "network"), "--trials", "2", "--iters", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurochip: error: ") and err.count("\n") == 1 and "not empty" in err
    assert (out / "keep.txt").read_text() == "x" and len(list(out.iterdir())) == 1


@pytest.mark.parametrize("argv, needle", [
    (["analyse", "{d}/missing", "-o", "{o}"], "not found"),
    (["analyse", "{d}/other", "-o", "{o}"], "n_in=40"),
    (["analyse", "{d}/network", "--trials", "0", "-o", "{o}"], "--trials"),
    (["analyse", "{d}/network", "--learn-epochs", "1", "-o", "{o}"], "float network"),
    (["analyse", "{d}/compiled", "--learn-epochs", "1", "-o", "{o}"], "learning rule"),
])
def test_one_line_errors(saved, tmp_path, capsys, argv, needle):
    argv = [a.format(d=saved, o=tmp_path / "o") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurochip: error: ") and err.count("\n") == 1 and needle in err
    assert not (tmp_path / "o").exists()


def test_on_chip_learning_before_the_chip_analysis(saved, tmp_path):
    out = tmp_path / "l"
    assert main(["analyse", str(saved / "learning"), "--trials", "2", "--iters", "1", "--learn-epochs", "1",
                 "--learn-lr", "1e-4", "--learn-batch", "2", "-o", str(out)]) == 0
    rep = json.loads((out / "analysis.json").read_text())
    rec = rep["chip"]["learning_record"]
    assert rep["chip"]["learn_epochs"] == 1 and rec["lr"] == pytest.approx(1e-4) and len(rec["epochs"]) == 1


def test_learn_lr_keeps_the_compiled_rules_settings(saved, tmp_path, monkeypatch):
    """--learn-lr changes only the rate: the trained matrices and the regulariser of the compiled rule stay
    (issue 12: a fresh LearningRule dropped them)."""
    from neurochip.backends import native
    from neurochip.compiler import compile
    from neurochip.network import Network
    from neurochip.rules import LearningRule
    rule = LearningRule("eprop_random", train_in=False, reg_rate=0.0)
    compile(Network.load(saved / "network"), "loihi2", rule).save(tmp_path / "c")
    seen = []
    real = native.run
    monkeypatch.setattr(native, "run", lambda c, *a, **k: (seen.append(c.rule) if k.get("learn") else None) or real(c, *a, **k))
    assert main(["analyse", str(tmp_path / "c"), "--trials", "2", "--iters", "1", "--learn-epochs", "1",
                 "--learn-lr", "1e-4", "--learn-batch", "2", "-o", str(tmp_path / "o")]) == 0
    assert seen and seen[0].lr == pytest.approx(1e-4)
    assert seen[0].train_in is False and seen[0].train_rec is True and float(seen[0].reg_rate) == 0.0
