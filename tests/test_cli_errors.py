"""Wrong inputs give one clear line on stderr and a non-zero exit, never a traceback (issue 7)."""
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
