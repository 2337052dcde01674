"""backends.lava_runtime: killing a lava session leaves no process and no shared memory behind, including
segments created while the kill is under way and segments open but not (yet) mapped. Independent of lava:
the session here is a plain Python child that makes /dev/shm files the way lava's runtime does."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from neurochip.backends.lava_runtime import _kill_session, _session_pids

# The child: a grandchild maps one segment; the child holds one open without mapping it, then maps a new one
# every 0.2 ms (a run killed during lava's start-up, which creates its channels one by one).
CHILD = r"""
import mmap, os, sys, time
pre = sys.argv[1]
def seg(name, mapped):
    fd = os.open(f"/dev/shm/{pre}{name}", os.O_CREAT | os.O_RDWR, 0o600)
    os.ftruncate(fd, 4096)
    return mmap.mmap(fd, 4096) if mapped else fd
if os.fork() == 0:
    keep = seg("grandchild", True)
    time.sleep(600)
held = [seg("open_only", False)]
for i in range(800):
    held.append(seg(f"m{i}", True))
    time.sleep(0.0002)
time.sleep(600)
"""


def _ours(pre):
    return sorted(f for f in os.listdir("/dev/shm") if f.startswith(pre))


def test_kill_session_leaves_no_segment_even_while_they_are_being_created():
    pre = f"nctest_{os.getpid()}_{uuid.uuid4().hex[:6]}_"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, pre], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:   # the grandchild's, the open-only one and some mapped ones exist
            names = _ours(pre)
            if f"{pre}grandchild" in names and f"{pre}open_only" in names and len(names) >= 12:
                break
            time.sleep(0.005)
        assert len(_ours(pre)) >= 12, "the child did not start creating segments"
        _kill_session(proc)
        assert _session_pids(proc.pid) == []
        left = _ours(pre)
        assert left == [], f"left behind: {left[:5]} ({len(left)} files)"
    finally:
        for f in _ours(pre):
            os.unlink(f"/dev/shm/{f}")
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
