"""Process isolation for the lava backend: run the lava job in a child interpreter in its own session,
with a watchdog. On timeout, error or Ctrl-C the whole session is SIGKILLed and the shared-memory
segments its processes mapped are unlinked, so a hung or interrupted lava run leaves nothing behind
(lava's runtime forks one OS process per Process and talks over /dev/shm; a missing stop() hangs the
interpreter, see docs/backends.md)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..errors import BackendError


def _session_pids(sid: int) -> list[int]:
    """PIDs of every process in session ``sid`` (the child and all lava processes it forked)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            fields_ = st[st.rindex(")") + 2:].split()
            # field 6 of stat: session id; zombies (state Z) hold nothing and wait for their reaper
            if int(fields_[3]) == sid and fields_[0] != "Z":
                pids.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _shm_of(pids: list[int]) -> set[str]:
    """/dev/shm files mapped or held open by the given processes (lava's channel segments: a segment is open
    before it is mapped, and a process killed in between would otherwise leave it behind)."""
    segs = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    i = line.find("/dev/shm/")
                    if i >= 0:
                        segs.add(line[i:].strip().replace(" (deleted)", ""))
        except OSError:
            pass
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                t = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if t.startswith("/dev/shm/"):
                segs.add(t.replace(" (deleted)", ""))
    return segs


def _signal(pids, sig) -> None:
    """Send ``sig`` to each of ``pids``; one that has exited already is skipped."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _freeze_session(sid: int) -> list[int]:
    """SIGSTOP every process of session ``sid`` until no new one appears; returns them. A stopped process
    creates no further segment and forks no further process, so the segments found after this are all of
    them (taken while the session ran, a segment created between the scan and the kill leaked: seen once in
    CI as two psm_ files left by a run killed during lava's start-up)."""
    seen: set[int] = set()
    for _ in range(100):
        new = set(_session_pids(sid)) - seen
        if not new:
            break
        _signal(new, signal.SIGSTOP)
        seen |= new
    return sorted(seen)


def _kill_session(proc: subprocess.Popen) -> None:
    """Freeze the child's whole session, then SIGKILL it and unlink the shared memory its processes mapped or
    held open."""
    pids = _freeze_session(proc.pid)
    segs = _shm_of(pids)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _signal(pids, signal.SIGKILL)         # processes that left the group but kept the session
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10.0          # SIGKILL is asynchronous: wait until the session is gone
    while time.monotonic() < deadline:
        left = _session_pids(proc.pid)
        if not left:
            break
        _signal(left, signal.SIGKILL)
        time.sleep(0.05)
    for s in segs:
        try:
            os.unlink(s)
        except OSError:
            pass


def _run_child(jobdir: str, timeout_s: float) -> None:
    env = dict(os.environ)
    env.setdefault("PYTHONWARNINGS", "ignore")
    cmd = [sys.executable, "-m", "neurochip.backends.lava_child", jobdir]
    with open(Path(jobdir) / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, env=env)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_session(proc)
            raise BackendError(f"lava run exceeded its timeout of {timeout_s:.0f} s; the lava processes were "
                               f"killed and their shared memory removed") from None
        except BaseException:             # Ctrl-C or anything else: leave nothing behind
            _kill_session(proc)
            raise
        # the child stops lava itself; make sure no straggler of its session survives
        if _session_pids(proc.pid):
            _kill_session(proc)
    if rc != 0:
        tail = (Path(jobdir) / "stderr.txt").read_text(errors="replace").strip().splitlines()[-8:]
        raise BackendError(f"lava run failed (exit code {rc}): " + " | ".join(tail))
