"""Wrong inputs give one clear line on stderr and a non-zero exit, never a traceback (issue 7)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from neurochip.network import init_network, NeuronParams


def _cli(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "neurochip.cli.main", *map(str, args)], capture_output=True,
                       text=True, cwd=cwd, timeout=300)
    return p.returncode, p.stdout, p.stderr


def _one_line_error(rc, err, *needles):
    assert rc != 0
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("neurochip: error:")
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def small_net(tmp_path_factory):
    d = tmp_path_factory.mktemp("net")
    init_network(8, 20, 2, NeuronParams(kind="alif"), seed=0).save(d / "network")
    return d / "network"


def test_missing_network_file(tmp_path):
    rc, _, err = _cli("compile", tmp_path / "nope", "--chip", "loihi2", "-o", tmp_path / "o")
    _one_line_error(rc, err, "not found")


def test_chip_name_typo(small_net, tmp_path):
    rc, _, err = _cli("compile", small_net, "--chip", "loihi3", "-o", tmp_path / "o")
    _one_line_error(rc, err, "unknown chip 'loihi3'", "loihi2")
    assert not (tmp_path / "o").exists()


def test_network_too_large_for_chip(tmp_path):
    init_network(8, 300, 2, NeuronParams(kind="lif"), seed=0).save(tmp_path / "big")
    rc, _, err = _cli("compile", tmp_path / "big", "--chip", "reckon", "-o", tmp_path / "o")
    _one_line_error(rc, err, "300")
    assert rc == 2
    assert not (tmp_path / "o").exists()


def test_corrupt_network_artifact(small_net, tmp_path):
    import shutil
    for suf in (".npz", ".json"):
        shutil.copy(small_net.with_suffix(suf), tmp_path / f"net{suf}")
    p = tmp_path / "net.npz"
    b = bytearray(p.read_bytes()); b[len(b) // 2] ^= 0x55; p.write_bytes(bytes(b))
    rc, _, err = _cli("compile", tmp_path / "net", "--chip", "loihi2", "-o", tmp_path / "o")
    _one_line_error(rc, err)


def test_config_negative_time_constant(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[network]\ntau_m = -20.0\n")
    rc, _, err = _cli("train", "--config", cfg, "--iterations", "1", "-o", tmp_path / "o")
    _one_line_error(rc, err, "tau_m", "-20")
    assert not (tmp_path / "o").exists()


def test_existing_output_dir_not_overwritten(small_net, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, _, err = _cli("compile", small_net, "--chip", "loihi2", "-o", out)
    _one_line_error(rc, err, "not empty")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


# --- issue 14: one CLI convention -------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["train", "compile", "run", "validate", "bench", "demo", "analyse"])
def test_every_step_accepts_config(cmd, capsys):
    from neurochip.cli.main import main
    assert main([cmd, "--help"]) == 0
    assert "--config" in capsys.readouterr().out


def test_path_forms_and_force_replace_whole(tmp_path, capsys):
    """train -> compile -> run by directory, .npz and .json alike; --force replaces an output directory whole
    (train included), and without --force a non-empty one is refused before any work."""
    from neurochip.cli.main import main
    net_dir = tmp_path / "net"
    net_dir.mkdir()
    (net_dir / "keep.txt").write_text("old")
    args = ["train", "--iterations", "1", "--n-rec", "8", "--batch", "2", "--no-progress", "-o", net_dir]
    assert main([str(a) for a in args]) == 2 and "not empty" in capsys.readouterr().err
    assert main([str(a) for a in args + ["--force"]]) == 0
    assert not (net_dir / "keep.txt").exists() and (net_dir / "network.json").is_file()
    for i, form in enumerate([net_dir, net_dir / "network.npz", net_dir / "network.json", net_dir / "network"]):
        assert main(["compile", str(form), "--chip", "loihi2", "-o", str(tmp_path / f"c{i}")]) == 0, capsys.readouterr().err
    a = json.loads((tmp_path / "c0" / "compiled.json").read_text())["arrays"]
    for i in (1, 2, 3):
        assert json.loads((tmp_path / f"c{i}" / "compiled.json").read_text())["arrays"] == a  # the same network


def test_config_sets_options_not_given(tmp_path, monkeypatch):
    """--config fills the options of a step that the command line did not give; given ones win."""
    from neurochip.cli import main as M
    seen = {}

    def fake_run(args):
        seen.update(vars(args))
        return 0
    cfg = tmp_path / "c.toml"
    cfg.write_text('[chip]\nname = "generic"\nrounding = "stochastic"\n[train]\nseed = 7\n')
    p = M.build_parser()
    sp = p._subparsers._group_actions[0].choices["compile"]
    sp.set_defaults(func=fake_run)
    monkeypatch.setattr(M, "build_parser", lambda: p)
    assert M.main(["compile", "x", "--config", str(cfg), "--rounding", "nearest", "-o", str(tmp_path / "o")]) == 0
    assert seen["chip"] == "generic" and seen["seed"] == 7   # from the file
    assert seen["rounding"] == "nearest"                     # given on the command line: kept
    assert seen["rule"] == "eprop_random"                    # the config's (resolved) rule
