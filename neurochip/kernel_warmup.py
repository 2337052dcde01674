"""Compile the main job's fixed-point kernels into Numba's on-disk cache while its float training runs.

On a fresh checkout the first fixed-point inference call compiles for ~30 s and the first on-chip learning call
for ~45 s (measured on the 2-core CI machine, session 11): a third of a cold `make demo`. They do not depend on
the trained weights, only on the network's shape, the chip profile and the on-chip rule's form, so a child
process can compile them from the untrained network of the same config on the second core while stage 1 trains;
stage 3 then loads them from the cache (`cache=True` kernels; the cache lives beside the sources).

`running(cfg)` (a context manager) or `start(cfg)` launches ``python -m neurochip.kernel_warmup CONFIG_JSON`` (output discarded) and returns the
process; `finish(proc)` waits for it before the first fixed-point call (never longer than compiling there would
take, since it started earlier) and `stop(proc)` ends it on an interrupt. A failure in the child only costs the
time it took: the parent compiles as it always did. Nothing is written but the cache.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys


def start(cfg: dict) -> subprocess.Popen | None:
    """The warm-up child for the resolved main-job config ``cfg``, or None if it cannot be started."""
    if os.environ.get("NEUROCHIP_NO_WARMUP"):
        return None
    try:
        return subprocess.Popen([sys.executable, "-m", "neurochip.kernel_warmup", json.dumps(cfg, default=str)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    except OSError:
        return None


@contextlib.contextmanager
def running(cfg: dict):
    """`start` on entry, `stop` on exit (an interrupt or an error never leaves the child behind)."""
    proc = start(cfg)
    try:
        yield proc
    finally:
        stop(proc)


def finish(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        proc.wait()


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def warm(cfg: dict) -> None:
    """Compile (and cache) fixed-point inference and on-chip learning for the untrained network of ``cfg``."""
    import warnings
    warnings.simplefilter("ignore")
    from .backends import get_backend
    from .pipeline import compile_for_learning
    from .train import build

    tcfg = {k: cfg[k] for k in ("task", "network", "rule", "train")}
    task, net, rule, _, _ = build(tcfg)
    cn, _ = compile_for_learning(cfg, net, rule, task, 2)
    native = get_backend("native")
    b = task.batch(2, "train", 0)
    native.run(cn, b.x)
    native.run(cn, b.x, learn=True, targets=b, batch_size=2, epochs=1)


if __name__ == "__main__":
    warm(json.loads(sys.argv[1]))
