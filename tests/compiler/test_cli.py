"""`neurochip compile` and `neurochip chips` end to end."""
import json

import pytest

from neurochip.cli.main import main
from neurochip.compiler import CompiledNetwork
from neurochip.network import init_network


@pytest.fixture()
def net_stem(tmp_path):
    stem = tmp_path / "net"
    init_network(10, 40, 2, seed=5, p_rec=0.5).save(stem)
    return stem


def test_compile_writes_everything(net_stem, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["compile", str(net_stem), "--chip", "loihi2", "--rule", "eprop_random", "--rounding", "stochastic", "-o", str(out)])
    assert rc == 0
    for f in ("compiled.npz", "compiled.json", "report.json", "coremap.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0
    assert (out / "coremap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cn = CompiledNetwork.load(out / "compiled")
    rep = json.loads((out / "report.json").read_text())
    assert rep == cn.report and rep["quantize"]["rounding"] == "stochastic"
    assert cn.provenance["rule"]["name"] == "eprop_random"
    text = capsys.readouterr().out
    assert "projection" in text and "fan-in/4096" in text and "learning-signal hops" in text


def test_compile_chip_by_path(net_stem, tmp_path):
    from neurochip.chips import BUILTIN_DIR
    toml = tmp_path / "mychip.toml"
    toml.write_text((BUILTIN_DIR / "generic.toml").read_text().replace('name = "generic"', 'name = "mychip"'))
    assert main(["compile", str(net_stem), "--chip", str(toml), "-o", str(tmp_path / "o")]) == 0
    assert CompiledNetwork.load(tmp_path / "o" / "compiled").profile_name == "mychip"


def test_constraint_error_one_line_exit_2(net_stem, tmp_path, capsys):
    rc = main(["compile", str(net_stem), "--chip", "reckon", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "neuron_model" in err and "needs" in err and "available" in err
    assert not (tmp_path / "o" / "compiled.npz").exists()


def test_approximate_flag(net_stem, tmp_path):
    rc = main(["compile", str(net_stem), "--chip", "reckon", "--approximate", "adaptation,refractory", "-o", str(tmp_path / "o")])
    assert rc == 0
    # the approximations took effect and are recorded: ALIF lowered to LIF without adaptation, refractory 1 step
    cn = CompiledNetwork.load(tmp_path / "o" / "compiled")
    assert cn.neuron_kind == "lif" and cn.n_ref == 1 and not cn.beta_mant.any() and cn.da == 0
    assert cn.report["quantize"]["adaptation_dropped"] is True
    assert cn.provenance["options"]["check"]["approximate"] == ["adaptation", "refractory"]


def test_chips_lists_profiles(capsys):
    assert main(["chips"]) == 0
    out = capsys.readouterr().out
    for name in ("loihi1", "loihi2", "reckon", "generic"):
        assert name in out
    assert "8192" in out and "all_in_sop:D" in out


def test_compile_keeps_the_trained_rules_settings(tmp_path):
    """A network from a train output: --rule lowers the trained rule (its trained matrices, regulariser and
    rate target kept), with --rule / --lr applied; a bare network file gets the rule's defaults."""
    d = tmp_path / "trained"
    d.mkdir()
    init_network(10, 40, 2, seed=5, p_rec=0.5).save(d / "network")
    trained = {"name": "eprop_symmetric", "lr": 0.002, "train_in": False, "reg_rate": 0.25, "target_rate_hz": 12.0}
    (d / "metrics.json").write_text(json.dumps({"config": {"rule": trained}, "rule": "eprop_symmetric"}))
    assert main(["compile", str(d), "--chip", "loihi2", "--rule", "eprop_random", "--lr", "0.001", "-o",
                 str(tmp_path / "o")]) == 0
    pr = CompiledNetwork.load(tmp_path / "o" / "compiled").provenance["rule"]
    assert pr["name"] == "eprop_random" and pr["lr"] == 0.001
    assert pr["train_in"] is False and pr["reg_rate"] == 0.25 and pr["target_rate_hz"] == 12.0
    assert main(["compile", str(d / "network"), "--chip", "loihi2", "--rule", "eprop_random", "-o",
                 str(tmp_path / "o2")]) == 0     # the stem form finds the same metrics
    pr2 = CompiledNetwork.load(tmp_path / "o2" / "compiled").provenance["rule"]
    assert pr2["train_in"] is False and pr2["lr"] == 0.002
    bare = tmp_path / "bare"
    init_network(10, 40, 2, seed=5, p_rec=0.5).save(bare)
    assert main(["compile", str(bare), "--chip", "loihi2", "--rule", "eprop_random", "-o", str(tmp_path / "o3")]) == 0
    assert CompiledNetwork.load(tmp_path / "o3" / "compiled").provenance["rule"]["train_in"] is True


def test_compile_refuses_unreadable_training_metrics(tmp_path, capsys):
    d = tmp_path / "trained"
    d.mkdir()
    init_network(10, 40, 2, seed=5, p_rec=0.5).save(d / "network")
    (d / "metrics.json").write_text(json.dumps({"config": {"rule": {"name": "eprop_random", "bogus": 1}}}))
    assert main(["compile", str(d), "--chip", "loihi2", "--rule", "eprop_random", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err and len(err.strip().splitlines()) == 1
