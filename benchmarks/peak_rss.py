"""Peak resident set size of this process since it started (exec), for the benchmarks' memory columns.

Linux keeps ``ru_maxrss`` across fork + exec: a child started by a large parent (run_all.py has lava,
brian2 and numba loaded, ~1 GiB) reports at least the parent's RSS at fork time. ``VmHWM`` in
/proc/self/status is the high-water mark of this process's own address space, which exec replaces.
"""
from __future__ import annotations

import resource


def peak_rss_bytes() -> int:
    """Peak RSS of this process's own address space (VmHWM); ru_maxrss where /proc is unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024          # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
