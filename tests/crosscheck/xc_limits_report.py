"""Numbers for docs/fixed_point.md "Registers" (run by hand: ``python tests/crosscheck/xc_limits_report.py
[--old DIR] [--slow N]``).

--old DIR: a directory holding a ``kold`` package with the inference kernel from before the register
    semantics (``git show e4ce4a9:kernels/{fixed_forward,fixed_ops,spike_list}.py``): hashes the spikes,
    readout, membrane and event counts of both kernels on networks that never reach a limit (they must
    be identical: the change costs nothing where nothing overflows).
--slow N: runs the slow in-process limit property test with N hypothesis examples (random seeds) and
    prints how many networks, events and int32 wraps it saw.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _configs():
    from neurochip.compiler import CompileOptions, compile
    from neurochip.network import NeuronParams, init_network
    from neurochip.tasks import get_task

    warnings.simplefilter("ignore")
    task = get_task("evidence")
    x = task.batch(8, split="test").x
    out = []
    for name, kind, prof, reset in (("evidence ALIF loihi2", "alif", "loihi2", "auto"),
                                    ("evidence LIF loihi2 zero-reset", "lif", "loihi2", "zero"),
                                    ("evidence ALIF generic", "alif", "generic", "auto")):
        net = init_network(task.n_in, 100, task.n_out, NeuronParams(kind=kind), seed=1)
        c = compile(net, prof, options=CompileOptions.make(reset=reset, approximate=("reset",), overflow="allow"))
        out.append((name, c, x))
    return out


def _hash(r) -> str:
    h = hashlib.sha256()
    for a in (r.spikes, r.out_int, r.v):
        h.update(np.ascontiguousarray(a).tobytes())
    d = r.counts.to_dict()
    d = {k: v for k, v in d.items() if not k.startswith("overflow_")}
    h.update(repr(sorted(d.items())).encode())
    return h.hexdigest()[:16]


def hashes(old_dir: str | None) -> None:
    import neurochip.kernels.fixed_forward as new
    from neurochip.backends import native

    forward_new = new.forward_fixed
    old = None
    if old_dir:
        sys.path.insert(0, old_dir)
        import kold.fixed_forward as old

    def forward_old(x, *a):
        a = list(a)
        del a[28]                      # the overflow mode (after mem_bits) did not exist
        del a[8]                       # nor the packed recurrent rows (rec_pk, after rec_gap)
        return old.forward_fixed(x, *a)

    for name, c, x in _configs():
        new.forward_fixed, new.N_COUNTS = forward_new, 19
        r = native.run(c, x, record=("spikes", "outputs", "v"))
        line = f"{name}: new {_hash(r)} (overflow events {sum(r.counts.overflows().values())})"
        if old is not None:
            new.forward_fixed, new.N_COUNTS = forward_old, 7
            ro = native.run(c, x, record=("spikes", "outputs", "v"))
            line += f", before {_hash(ro)} (saturations {ro.counts.saturations})"
        print(line)
    new.forward_fixed, new.N_COUNTS = forward_new, 19


def slow(n: int, seed: int) -> None:
    import os

    import pytest
    os.environ["NEUROCHIP_LIMIT_EXAMPLES"] = str(n)
    sys.path.insert(0, str(HERE))
    rc = pytest.main(["-q", "-p", "no:cacheprovider", str(HERE / "test_limits_mirror.py"), "-m", "exhaustive",
                      "-k", "slow", f"--hypothesis-seed={seed}"])
    import test_limits_mirror as t
    print("exit", rc, t.COUNT)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default=None)
    ap.add_argument("--slow", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-hash", action="store_true")
    a = ap.parse_args()
    if not a.no_hash:
        hashes(a.old)
    if a.slow:
        slow(a.slow, a.seed)
