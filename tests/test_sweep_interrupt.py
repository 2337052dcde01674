"""An interrupted local sweep stops its running points, and a worker that dies ends the sweep with one line.

An interrupted local sweep stops its running points: after SIGINT to the main process alone (as a job
manager sends it; a terminal's Ctrl-C reaches the whole process group) the main exits and no worker of the pool
is left computing. Before the fix (``ProcessPoolExecutor``) the main either waited for its running points to end
(this test: no exit within 60 s) or exited and left them running, orphaned, until their point ended (minutes for
a chip point, on the cores the next run needed)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SLOW = ('[sweep]\nname = "slow"\n[base]\ntask.name = "evidence"\nnetwork.n_rec = 40\n'
        'train.iterations = 100000\ntrain.batch_size = 16\ntrain.eval_batches = 1\ntrain.eval_every = 100000\n'
        'train.early_stop = false\nanalysis.curvature_trials = 2\nanalysis.curvature_iters = 2\n'
        'analysis.curvature_all = false\n[grid]\n"train.seed" = [0, 1]\n')


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(tmp_path):
    spec = tmp_path / "slow.toml"
    spec.write_text(SLOW)
    code = "import sys; from neurochip.cli.main import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", code, "sweep", str(spec), "-o", str(tmp_path / "o"),
                             "--workers", "2", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # its own group: a signal reaches the main alone
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = [c for c in _children(proc.pid) if "spawn_main" in _cmdline(c)]
        time.sleep(0.2)
    return proc, workers


def _cleanup(proc, workers):
    if proc.poll() is None:
        proc.kill()
    for w in workers:
        if _alive(w):
            os.kill(w, signal.SIGKILL)


def test_sigint_to_the_main_process_stops_the_running_points(tmp_path):
    out = tmp_path / "o"
    proc, workers = _start(tmp_path)
    try:
        assert len(workers) == 2, f"the pool's two workers did not start: {_children(proc.pid)}"
        time.sleep(3)                                        # both are inside their (long) point now
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0
        assert "interrupted" in err
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        left = [w for w in workers if _alive(w)]
        assert not left, f"workers still computing after the sweep was interrupted: {left}"
        assert not list((out / "points").glob("*.json"))     # nothing half-written, nothing finished
    finally:
        _cleanup(proc, workers)


def test_a_worker_that_dies_ends_the_sweep_with_one_line(tmp_path):
    """SIGKILL to one worker (as the OOM killer sends it): the main exits non-zero with a one-line error and no
    traceback, and stops the other worker. A ``multiprocessing.Pool`` would wait for ever for the lost point."""
    proc, workers = _start(tmp_path)
    try:
        assert len(workers) == 2, f"the pool's two workers did not start: {_children(proc.pid)}"
        time.sleep(3)
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode not in (0, None)
        assert "worker process died" in err and "re-run the same command to resume" in err, err
        assert "Traceback" not in err, err
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(workers[1]):
            time.sleep(0.2)
        assert not _alive(workers[1])
    finally:
        _cleanup(proc, workers)
