"""An interrupted local sweep stops its running points, and a worker that dies ends the sweep with one line.

After SIGINT to the main process alone (as a job manager sends it; a terminal's Ctrl-C reaches the whole process
group) the main exits and no worker of the pool is left computing. Before the fix the main either waited for its
running points to end (this test: no exit within 60 s) or exited and left them running, orphaned, until their
point ended (minutes for a chip point, on the cores the next run needed). The workers are found by a mark in
the environment they inherit (`procs.procs_with_env`), so an orphan is found too."""
import os
import signal
import subprocess
import sys
import time
import uuid

from procs import procs_with_env

SLOW = ('[sweep]\nname = "slow"\n[base]\ntask.name = "evidence"\nnetwork.n_rec = 40\n'
        'train.iterations = 100000\ntrain.batch_size = 16\ntrain.eval_batches = 1\ntrain.eval_every = 100000\n'
        'train.early_stop = false\nanalysis.curvature_trials = 2\nanalysis.curvature_iters = 2\n'
        'analysis.curvature_all = false\n[grid]\n"train.seed" = [0, 1]\n')


def _start(tmp_path):
    """The slow two-point sweep with 2 workers in its own session; returns (process, mark, worker pids)."""
    spec = tmp_path / "slow.toml"
    spec.write_text(SLOW)
    mark = f"NEUROCHIP_TEST_MARK={uuid.uuid4().hex}"
    env = {**os.environ, mark.split("=")[0]: mark.split("=")[1]}
    code = "import sys; from neurochip.cli.main import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", code, "sweep", str(spec), "-o", str(tmp_path / "o"),
                             "--workers", "2", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env)  # a signal reaches the main alone
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = procs_with_env(mark, "spawn_main")
        time.sleep(0.2)
    assert len(workers) == 2, f"the pool's two workers did not start: {workers}"
    time.sleep(3)                                            # both are inside their (long) point now
    return proc, mark, workers


def _left(mark: str) -> list[int]:
    """The marked workers still alive, after up to 20 s for them to end."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and procs_with_env(mark, "spawn_main"):
        time.sleep(0.2)
    return procs_with_env(mark, "spawn_main")


def _cleanup(proc, mark):
    if proc.poll() is None:
        proc.kill()
    for w in procs_with_env(mark):
        os.kill(w, signal.SIGKILL)


def test_sigint_to_the_main_process_stops_the_running_points(tmp_path):
    proc, mark, _ = _start(tmp_path)
    try:
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0
        assert "interrupted" in err
        left = _left(mark)
        assert not left, f"workers still computing after the sweep was interrupted: {left}"
        assert not list((tmp_path / "o" / "points").glob("*.json"))  # nothing half-written, nothing finished
    finally:
        _cleanup(proc, mark)


def test_a_worker_that_dies_ends_the_sweep_with_one_line(tmp_path):
    """SIGKILL to one worker (as the OOM killer sends it): the main exits non-zero with a one-line error and no
    traceback, and stops the other worker. A ``multiprocessing.Pool`` would wait for ever for the lost point."""
    proc, mark, workers = _start(tmp_path)
    try:
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode not in (0, None)
        assert "worker process died" in err and "re-run the same command to resume" in err, err
        assert "Traceback" not in err, err
        left = _left(mark)
        assert not left, f"the other worker is still computing: {left}"
    finally:
        _cleanup(proc, mark)
