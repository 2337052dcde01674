"""Ctrl-C during the main job: exit 130, one line, no half-written output directory, no stray children."""
import os
import signal
import subprocess
import sys
import time


def test_ctrl_c_leaves_nothing(tmp_path):
    out = tmp_path / "demo"
    p = subprocess.Popen([sys.executable, "-m", "neurochip.cli.main", "demo", "-o", str(out), "--no-progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    # wait until the job is inside its staged directory (training has started), then interrupt
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(tmp_path.glob(".demo.partial-*")):
        time.sleep(0.2)
    assert any(tmp_path.glob(".demo.partial-*")), "the main job never started"
    time.sleep(1.0)
    os.kill(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.iterdir()), sorted(x.name for x in tmp_path.iterdir())
    # no process of its session survives
    left = subprocess.run(["pgrep", "-s", str(p.pid)], capture_output=True, text=True).stdout.split()
    assert not left, left
