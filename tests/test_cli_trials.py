"""Trial counts on the CLI (issue 14): `run | validate | bench` refuse a draw that cannot fit in memory in one
line before allocating it; validate's learning options (--learn-trials / --epochs / --batch-size) are checked
up front and set by --config from [onchip]; the demo's accuracy tolerance is validate's own default."""
import json
import warnings

import pytest

from neurochip.cli.main import main


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    d = tmp_path_factory.mktemp("trials")
    assert main(["train", "--iterations", "1", "--n-rec", "8", "--batch", "2", "--no-progress",
                 "-o", str(d / "net")]) == 0
    with warnings.catch_warnings():              # an untrained 8-neuron net may overflow: warned, not refused
        warnings.simplefilter("ignore")
        assert main(["compile", str(d / "net"), "--chip", "loihi2", "--rule", "eprop_random", "-o", str(d / "c")]) == 0
    return d / "c"


def _refused(capsys, argv, out):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert not out.exists()                       # nothing written
    return err[0]


CASES = [
    ("run", [], "--trials"),
    ("run", ["--learn", "--trials", "8", "--batch-size", "8", "--no-progress"], "--test-trials"),
    ("validate", ["--task", "evidence"], "--trials"),
    ("bench", ["--task", "evidence"], "--trials"),
    ("bench", ["--task", "poisson", "--steps", "1000"], "--trials"),
]


@pytest.mark.parametrize("cmd,extra,opt", CASES)
def test_huge_trials_refused_in_one_line_before_allocating(artifact, tmp_path, capsys, monkeypatch, cmd, extra, opt):
    """Real available memory, an impossible draw: the one line names the option and the estimate in GiB, and
    the task is never asked for the batch (the refusal comes before the allocation)."""
    from neurochip.tasks.evidence import EvidenceTask

    def no_batch(*a, **k):
        raise AssertionError("the batch was drawn before the memory check")
    monkeypatch.setattr(EvidenceTask, "batch", no_batch)
    n = 10 ** 12
    argv = [cmd, artifact, *extra, opt, n, "-o", tmp_path / "o"]
    line = _refused(capsys, argv, tmp_path / "o")
    assert f"{opt} {n}" in line and "GiB" in line and "memory available" in line, line


@pytest.mark.parametrize("cmd,extra,opt", CASES)
def test_refusal_follows_the_memory_available(artifact, tmp_path, capsys, monkeypatch, cmd, extra, opt):
    """A modest draw (64 trials, a few MB) is refused when only 1 MiB is available and runs when the machine's
    memory is: the check compares the estimate with the memory available, it does not cap trial counts.
    (Mutation: the check_memory call removed from run / validate / bench -> the 1 MiB case runs, rc 0, fails.)"""
    import neurochip.network as N
    argv = [cmd, artifact, *extra, opt, 64, "-o", tmp_path / "o"]
    monkeypatch.setattr(N, "available_memory_bytes", lambda: 2 ** 20)
    line = _refused(capsys, argv, tmp_path / "o")
    assert f"{opt} 64" in line and "memory available" in line, line
    monkeypatch.undo()
    argv[-1] = tmp_path / "o2"
    assert main([str(a) for a in argv]) in (0, 4), capsys.readouterr().err   # validate may fail its gate (4)


def test_estimate_matches_the_arrays_validate_holds(artifact):
    """trial_bytes (validate's held-out part) == the bytes of the arrays a validation really holds, counted from
    an independent run: the task batch, the chip run's spikes and readout, simulate's inputs, z, psi, y, out."""
    from neurochip.backends import get_backend
    from neurochip.compiler.artifact import CompiledNetwork
    from neurochip.simulate import check_inputs, simulate
    from neurochip.tasks import get_task
    from neurochip.trial_memory import trial_bytes
    from neurochip.validate import float_network
    cn = CompiledNetwork.load(artifact)
    task = get_task("evidence", seed=0)
    b = task.batch(3, "test", 0)
    chip = get_backend("native").run(cn, b.x)
    net = float_network(cn)
    tr = simulate(net, b.x)
    held = sum(a.nbytes for a in (b.x, b.target, b.mask, chip.spikes, chip.outputs, check_inputs(net, b.x),
                                  tr.z, tr.psi, tr.y, tr.out))
    est = 3 * trial_bytes(cn.n_in, cn.n_rec, cn.n_out, task.n_steps, loss=b.loss, float_reference=True)
    assert est == held


@pytest.mark.parametrize("opt,val", [("--learn-trials", 0), ("--epochs", 0), ("--batch-size", -3), ("--trials", 0),
                                     ("--steps", 0)])
def test_validate_bad_learning_options_refused_first(artifact, tmp_path, capsys, monkeypatch, opt, val):
    """One line naming the option, before the artifact is even loaded."""
    from neurochip.compiler import artifact as A

    def no_load(*a, **k):
        raise AssertionError("loaded before the options were checked")
    monkeypatch.setattr(A.CompiledNetwork, "load", no_load)
    line = _refused(capsys, ["validate", artifact, "--task", "evidence", "--learn", opt, val, "-o", tmp_path / "o"],
                    tmp_path / "o")
    assert line == f"neurochip: error: {opt} must be an integer >= 1, got {val}"


def test_validate_config_sets_the_onchip_amount_of_learning(tmp_path, monkeypatch):
    """--config sets validate's --learn-trials / --epochs / --batch-size from [onchip] (as the demo's validate
    stage uses them) and the accuracy tolerance from [validate]; given options win."""
    from neurochip.cli import main as M
    seen = {}

    def fake_run(args):
        seen.update(vars(args))
        return 0
    cfg = tmp_path / "c.toml"
    cfg.write_text("[onchip]\ntrials = 40\nepochs = 3\nbatch_size = 5\n[validate]\ntrials = 12\n")
    p = M.build_parser()
    p._subparsers._group_actions[0].choices["validate"].set_defaults(func=fake_run)
    monkeypatch.setattr(M, "build_parser", lambda: p)
    assert M.main(["validate", "x", "--config", str(cfg), "--epochs", "2", "-o", str(tmp_path / "o")]) == 0
    assert (seen["learn_trials"], seen["batch_size"], seen["trials"]) == (40, 5, 12)   # from the file
    assert seen["epochs"] == 2                                                       # given: kept
    from neurochip.tolerances import DEFAULT_TOLERANCES
    assert f"accuracy_drop={DEFAULT_TOLERANCES['accuracy_drop']}" in seen["tolerance"]


def test_demo_accuracy_tolerance_is_validates_default():
    """One source of truth: the pipeline config's max_accuracy_drop is validate's accuracy_drop default."""
    from neurochip.config import DEFAULT
    from neurochip.tolerances import DEFAULT_TOLERANCES, effective_tolerances
    assert DEFAULT["validate"]["max_accuracy_drop"] == DEFAULT_TOLERANCES["accuracy_drop"]
    assert effective_tolerances(None, learn=False, task_metrics={"accuracy": 1.0})["accuracy_drop"] \
        == DEFAULT["validate"]["max_accuracy_drop"]


def test_validate_learn_trials_draws_the_training_split(artifact, tmp_path, capsys):
    """--learn-trials N learns on task.batch(N, 'train', 0) (the demo's draw), not on the held-out trials:
    the report counts N learning trials and epochs x ceil(N / batch) weight applications."""
    rc = main([str(a) for a in ["validate", artifact, "--task", "evidence", "--trials", 4, "--learn",
                                "--learn-trials", 6, "--epochs", 2, "--batch-size", 4, "-o", tmp_path / "v"]])
    assert rc in (0, 4), capsys.readouterr().err
    m = json.loads((tmp_path / "v" / "validate.json").read_text())["metrics"]
    assert (m["learning_trials"], m["learning_epochs"], m["learning_batch_size"], m["learning_applications"]) \
        == (6, 2, 4, 4)
