"""Finding a test's child processes, whatever their parent now is (imported as ``from procs import ...``, like
``batches``): the test marks its subprocess's environment, which every descendant inherits."""
from __future__ import annotations

import os


def procs_with_env(mark: str, cmd_part: str = "") -> list[int]:
    """Pids of live processes whose environment holds ``mark`` (our children and theirs, whatever session; an
    orphan too, and not a zombie, whose environment reads empty) and whose command line contains ``cmd_part``."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/environ", "rb") as f:
                    env = f.read()
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read()
                if mark.encode() in env and cmd_part.encode() in cmd:
                    found.append(int(d))
            except OSError:
                pass
    return found
