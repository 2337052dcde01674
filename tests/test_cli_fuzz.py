"""No traceback anywhere in the CLI (issue 14): every bad input gives exactly one line on stderr and a
non-zero exit that is not the 'internal error' code, and is refused before any training starts.

Runs in-process through ``neurochip.cli.main.main(argv)`` (fast: no interpreter start per case). Three
families: hypothesis-drawn bad option values for every subcommand, hypothesis-drawn config files with at
least one bad entry for every step that takes ``--config``, and the issue's known cases.
"""
from __future__ import annotations

import json
import shutil
import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from neurochip.cli.main import INTERNAL_ERROR, main
from neurochip.network import NeuronParams, init_network


@pytest.fixture(autouse=True)
def _no_training(monkeypatch):
    """Any bad input must be refused before training starts: training here is a failure (exit 70)."""
    import neurochip.train as T

    def boom(*a, **k):
        raise AssertionError("training started before the input was refused")
    monkeypatch.setattr(T, "train_from_config", boom)
    monkeypatch.setattr(T, "train", boom)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small evidence-task network (40 in, 2 out), its loihi2 artifact with a rule, a counts file, an empty
    directory, a non-bundle file and a garbage chip profile."""
    from neurochip.compiler import compile
    from neurochip.rules import LearningRule
    d = tmp_path_factory.mktemp("fuzz")
    net = init_network(40, 12, 2, NeuronParams(kind="alif"), seed=0)
    (d / "net").mkdir()
    net.save(d / "net" / "network")
    (d / "chip").mkdir()
    compile(net, "loihi2", LearningRule("eprop_random")).save(d / "chip" / "compiled")
    (d / "empty").mkdir()
    (d / "notabundle.json").write_text('{"hello": 1}')
    (d / "garbage.toml").write_text("this is [not toml")
    (d / "badchip.toml").write_text('name = "x"\n[mesh]\ncols = -1\n')
    return d


def cli(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def assert_one_line(rc: int, err: str, argv) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, (argv, err)
    assert rc != 0, (argv, err)
    assert rc != INTERNAL_ERROR, (argv, err)  # an unexpected exception: a bug, even if it is one line
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith("neurochip"), (argv, err)


# --- bad option values, every subcommand ---------------------------------------------------------------
NOT_INT = ["many", "1.5", "", "nan", "1e3x"]
NOT_POS_INT = ["0", "-1", "-1000000000"] + NOT_INT
NOT_POS_FLOAT = ["nan", "inf", "-inf", "-1", "0", "x", ""]
NOT_NONNEG_FLOAT = ["nan", "inf", "-1", "-1e-9", "x"]
NOT_PATH = ["{d}/nope", "{d}/empty", "{d}/notabundle.json", "{d}/garbage.toml"]
NOT_CHIP = ["loihi3", "", "{d}/nope.toml", "{d}/garbage.toml", "{d}/badchip.toml"]

# command -> (positional args, {option: bad values})
BAD = {
    "train": ([], {"--n-rec": NOT_POS_INT + ["100000000", "1000000000000"], "--iterations": NOT_POS_INT,
                   "--batch": NOT_POS_INT, "--lr": NOT_POS_FLOAT, "--seed": ["-1", "x"], "--task": ["foo", ""],
                   "--rule": ["foo"], "--neuron": ["hh"], "--optimizer": ["rmsprop"],
                   "--early-stop": ["nan", "-1", "inf", "x"], "--config": NOT_PATH}),
    "compile": (["{d}/net"], {"net": NOT_PATH, "--chip": NOT_CHIP, "--rate": NOT_NONNEG_FLOAT,
                              "--v-headroom": NOT_POS_FLOAT, "--seed": ["-1", "x"], "--lr": NOT_POS_FLOAT,
                              "--approximate": ["foo", "reset,bar"], "--reset": ["x"], "--rounding": ["x"],
                              "--eligibility": ["x"], "--rule": ["foo", "bptt_x"], "--config": NOT_PATH}),
    "run": (["{d}/chip"], {"artifact": NOT_PATH, "--trials": NOT_POS_INT, "--test-trials": NOT_POS_INT,
                           "--epochs": NOT_POS_INT, "--batch-size": NOT_POS_INT, "--lr": NOT_POS_FLOAT,
                           "--backend": ["foo"], "--task": ["foo"], "--mode": ["x"], "--config": NOT_PATH}),
    "validate": (["{d}/chip"], {"artifact": NOT_PATH, "--trials": NOT_POS_INT, "--steps": NOT_POS_INT,
                                "--rate": NOT_NONNEG_FLOAT, "--window": ["-1", "x"], "--task": ["foo"],
                                "--tolerance": ["foo=1", "spike_agreement=x", "spike_agreement=nan", "x"],
                                "--backend": ["foo"], "--config": NOT_PATH}),
    "bench": (["{d}/chip"], {"artifact": NOT_PATH, "--trials": NOT_POS_INT, "--steps": NOT_POS_INT,
                             "--rate-hz": NOT_NONNEG_FLOAT, "--step-ms": NOT_POS_FLOAT, "--chip": NOT_CHIP,
                             "--counts": ["{d}/nan_counts.json", "{d}/neg_counts.json", "{d}/nope.json"],
                             "--task": ["foo"], "--approximate": ["foo"], "--config": NOT_PATH}),
    "analyse": (["{d}/net"], {"target": NOT_PATH, "--trials": NOT_POS_INT, "--batches": NOT_POS_INT,
                              "--iters": NOT_POS_INT, "--tol": ["0", "1", "nan", "-1"], "--learn-epochs": ["-1", "x"],
                              "--task": ["foo"], "--config": NOT_PATH}),
    "demo": ([], {"--chip": NOT_CHIP, "--iterations": NOT_POS_INT, "--config": NOT_PATH}),
    "chips": ([], {"profiles": ["loihi3", "{d}/nope.toml", "{d}/garbage.toml", "{d}/badchip.toml"]}),
}
POSITIONAL = {"net", "artifact", "target", "profiles"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(data=st.data())
def test_bad_option_values_one_line(files, tmp_path_factory, capsys, data):
    d = files
    for name, n in (("nan_counts.json", "NaN"), ("neg_counts.json", "-5")):
        (d / name).write_text('{"counts": {"steps": 10, "trials": 1, "syn_ops": %s}}' % n)
    cmd = data.draw(st.sampled_from(sorted(BAD)))
    pos, table = BAD[cmd]
    opts = data.draw(st.lists(st.sampled_from(sorted(table)), min_size=1, max_size=3, unique=True))
    argv = [cmd]
    positional = list(pos)
    flags = []
    for o in opts:
        v = data.draw(st.sampled_from(table[o])).format(d=d)
        if o in POSITIONAL:
            positional = [v]
        else:
            flags += [o, v]
    out = tmp_path_factory.mktemp("o") / "out"
    argv += positional + flags + (["-o", out] if cmd != "chips" else [])
    rc, err = cli(argv, capsys)
    assert_one_line(rc, err, argv)
    assert not out.exists(), argv  # nothing half-written


# --- bad config files ------------------------------------------------------------------------------------
# (section, key) -> bad values; every drawn file holds at least one of these, plus random other entries
BAD_CONFIG = {
    ("train", "iterations"): ["many", 0, -3, 1.5, True, [1]],
    ("train", "batch_size"): [0, "32", -1],
    ("train", "seed"): [-1, "x", 0.5],
    ("train", "early_stop"): [-0.1, "x", float("nan")],
    ("train", "bogus"): [1],
    ("network", "n_rec"): [0, -5, "100", 10**8, 2.5],
    ("network", "tau_m"): [-20.0, 0, "x", float("nan"), float("inf")],
    ("network", "v_th"): [0, -1.0, "0.6"],
    ("network", "n_ref"): [0, 2.5, "5"],
    ("network", "gamma_pd"): ["x", -1.0],
    ("network", "kind"): ["hh", 1],
    ("network", "p_rec"): [0.0, 1.5, "x"],
    ("network", "adaptive_fraction"): [-0.1, 2.0, "half"],
    ("network", "bogus"): [1],
    ("rule", "name"): ["bptt_x", 3],
    ("rule", "lr"): [-1, 0, "x", float("nan")],
    ("rule", "reg_rate"): ["x", -1.0],
    ("rule", "optimizer"): ["rmsprop"],
    ("rule", "train_in"): ["yes", 1],
    ("rule", "bogus"): [1],
    ("task", "name"): ["foo", 1],
    ("task", "seed"): ["x", 1.5],
    ("task", "n_cues"): [0, 2, "7"],
    ("chip", "name"): ["loihi9", "", 3, ["loihi2"]],
    ("chip", "rounding"): ["up", 1],
    ("chip", "bogus"): [1],
    ("onchip", "lr"): [-1, 0, "x", float("inf")],
    ("onchip", "trials"): [0, "x", -1],
    ("onchip", "epochs"): [0, 1.5],
    ("onchip", "batch_size"): [0, "16"],
    ("onchip", "eligibility"): ["both", 1],
    ("lava", "trials"): [-1, "x"],
    ("lava", "timeout_s"): [0, -1.0, "x"],
    ("validate", "trials"): [0, "x"],
    ("validate", "spike_agreement"): [1.5, -0.1, "x"],
    ("validate", "max_accuracy_drop"): [2.0, "x"],
    ("bench", "chips"): [["loihi9"], [], "loihi2", [1]],
    ("bench", "compare_bptt"): ["yes", 1],
    ("bench", "trials"): [0, "x"],
    ("bogus", "x"): [1],
}
GOOD_CONFIG = {("train", "iterations"): [1, 2], ("network", "n_rec"): [8, 20], ("task", "seed"): [0, 5],
               ("chip", "name"): ["loihi2", "generic"], ("onchip", "trials"): [4], ("validate", "trials"): [4],
               ("bench", "chips"): [["loihi2"]], ("rule", "lr"): [1e-3]}


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return str(v)


def toml_text(entries: dict) -> str:
    secs: dict[str, list[str]] = {}
    for (sec, key), v in entries.items():
        secs.setdefault(sec, []).append(f"{key} = {toml_value(v)}")
    return "".join(f"[{s}]\n" + "\n".join(kv) + "\n" for s, kv in secs.items())


CONFIG_STEPS = {"train": [], "compile": ["{d}/net"], "run": ["{d}/chip"], "validate": ["{d}/chip"],
                "bench": ["{d}/chip"], "demo": [], "analyse": ["{d}/net"]}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(data=st.data())
def test_bad_config_files_one_line(files, tmp_path_factory, capsys, data):
    bad_keys = data.draw(st.lists(st.sampled_from(sorted(BAD_CONFIG)), min_size=1, max_size=3, unique=True))
    entries = {k: data.draw(st.sampled_from(BAD_CONFIG[k])) for k in bad_keys}
    for k in data.draw(st.lists(st.sampled_from(sorted(GOOD_CONFIG)), max_size=3, unique=True)):
        entries.setdefault(k, data.draw(st.sampled_from(GOOD_CONFIG[k])))
    cmd = data.draw(st.sampled_from(sorted(CONFIG_STEPS)))
    tmp = tmp_path_factory.mktemp("cfg")
    cfg = tmp / "c.toml"
    cfg.write_text(toml_text(entries))
    out = tmp / "out"
    argv = [cmd, *(p.format(d=files) for p in CONFIG_STEPS[cmd]), "--config", cfg, "-o", out]
    rc, err = cli(argv, capsys)
    assert_one_line(rc, err, (argv, cfg.read_text()))
    assert str(cfg) in err, err  # the line names the file
    assert not out.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=string.printable, max_size=60) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_garbage_config_text_one_line(tmp_path_factory, capsys, text):
    tmp = tmp_path_factory.mktemp("g")
    cfg = tmp / "c.toml"
    cfg.write_text(text + "\n[bogus_section_always_bad]\n", encoding="latin-1")
    rc, err = cli(["train", "--config", cfg, "-o", tmp / "out"], capsys)
    assert_one_line(rc, err, text)


# --- the known cases -----------------------------------------------------------------------------

def _cfg(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_config_value_of_wrong_type(tmp_path, capsys):
    rc, err = cli(["train", "--config", _cfg(tmp_path, '[train]\niterations = "many"\n'), "-o", tmp_path / "o"], capsys)
    assert_one_line(rc, err, "iterations")
    assert "iterations" in err and "many" in err


def test_impossible_network_size_refused_before_allocation(tmp_path, capsys, monkeypatch):
    import neurochip.train as T

    def guarded(*a, **k):  # nothing may even start drawing weights
        raise AssertionError("allocation attempted")
    monkeypatch.setattr(T, "init_network", guarded)
    rc, err = cli(["train", "--n-rec", "100000000", "-o", tmp_path / "o"], capsys)
    assert_one_line(rc, err, "n-rec")
    assert "100000000" in err and "GiB" in err


def test_manifest_sizes_disagree_with_arrays(files, tmp_path, capsys):
    from neurochip.io import manifest_digest
    for suf in (".npz", ".json"):
        shutil.copy(files / "chip" / f"compiled{suf}", tmp_path / f"c{suf}")
    j = tmp_path / "c.json"
    m = json.loads(j.read_text())
    m["meta"]["fields"]["n_rec"]["value"] += 5
    for redigest in (False, True):
        if redigest:
            m["digest"] = manifest_digest(m)
        j.write_text(json.dumps(m))
        for cmd in ("run", "validate", "bench", "analyse"):
            rc, err = cli([cmd, tmp_path / "c", "-o", tmp_path / f"o{cmd}"], capsys)
            assert_one_line(rc, err, (cmd, redigest))
            assert ("digest" if not redigest else "shape") in err


@pytest.mark.parametrize("value", ["NaN", "-5", "Infinity", "2.5"])
def test_bench_counts_nan_or_negative(files, tmp_path, capsys, value):
    c = tmp_path / "counts.json"
    c.write_text('{"counts": {"steps": 100, "trials": 1, "syn_ops": %s, "spikes": 3}}' % value)
    rc, err = cli(["bench", files / "chip", "--counts", c, "-o", tmp_path / "o"], capsys)
    assert_one_line(rc, err, value)
    assert "syn_ops" in err and not (tmp_path / "o").exists()


def test_train_zero_iterations(tmp_path, capsys):
    rc, err = cli(["train", "--iterations", "0", "-o", tmp_path / "o"], capsys)
    assert_one_line(rc, err, "iterations 0")
    assert "iterations" in err


@pytest.mark.parametrize("argv,text,needle", [
    (["--chip", "loihi3"], None, "loihi3"),
    ([], '[chip]\nname = "loihi9"\n', "loihi9"),
    ([], "[onchip]\nlr = -1\n", "lr"),
    # the demo's on-chip form (per-synapse) on a chip with per-neuron traces only: the [onchip] check names both
    (["--chip", "reckon"], None, "eligibility = 'per_synapse': chip 'reckon' supports ['factorised']"),
    # a chip the network does not fit: compile check, before training
    (["--chip", "reckon"], '[onchip]\neligibility = "factorised"\n', "adaptation"),
])
def test_demo_checks_before_training(tmp_path, capsys, argv, text, needle):
    if text is not None:
        argv = argv + ["--config", _cfg(tmp_path, text)]
    rc, err = cli(["demo", *argv, "-o", tmp_path / "o", "--no-progress"], capsys)
    assert_one_line(rc, err, argv)  # the autouse fixture turns any training into exit 70
    assert needle in err


def test_bad_args_are_one_line_not_usage(tmp_path, capsys):
    rc, err = cli(["train", "--iterations", "many", "-o", tmp_path / "o"], capsys)
    assert_one_line(rc, err, "argparse")
    assert "--iterations" in err and "usage" not in err
