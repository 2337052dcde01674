"""The learning kernel's provenance: Numba's cache is checked against the digest of the sources this process
imported (kernels.eprop_fixed.SOURCE_DIGEST), and every learning run records that digest.

Session 13 found why this matters: a long run whose first kernel call came while a mutation test had the
kernel file changed loaded the mutated code that test had cached (its results differed from the same run's
repeat), and nothing in its output said so."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from neurochip.backends import native_learn
from neurochip.kernels import eprop_fixed


def _cache_with(tmp_path, stamp: str | None):
    d = native_learn.kernel_cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    for name in ("eprop_fixed.learn_run-1.py310.nbi", "learn_trial.learn_trial-9.py310.1.nbc",
                 "learn_neurons._neurons_m0-20.py310.nbi"):
        (d / name).write_bytes(b"x")
    if stamp is not None:
        (d / "learn_run.deps.sha256").write_text(stamp)


def _cached(tmp_path):
    return sorted(p.name for p in tmp_path.rglob("*.nb*"))


def test_cache_dir_is_where_numba_caches(tmp_path, monkeypatch):
    """kernel_cache_dir is the folder Numba's own locator picks for a kernels file (with NUMBA_CACHE_DIR)."""
    from numba.core.caching import UserProvidedCacheLocator
    from neurochip.kernels import learn_trial
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("numba.core.config.CACHE_DIR", str(tmp_path))
    loc = UserProvidedCacheLocator(learn_trial.learn_trial.py_func, learn_trial.__file__)
    assert Path(loc.get_cache_path()) == native_learn.kernel_cache_dir()
    assert native_learn.kernel_cache_dir().parent == tmp_path


def test_digest_is_of_the_imported_sources():
    here = Path(eprop_fixed.__file__).parent
    h = hashlib.sha256()
    for name in eprop_fixed.SOURCE_FILES:
        h.update((here / name).read_bytes())
    assert eprop_fixed.SOURCE_DIGEST == h.hexdigest()            # the tree is not being edited under the test
    assert {"learn_rows.py", "learn_trial.py", "fixed_forward.py"} <= set(eprop_fixed.SOURCE_FILES)


def test_cache_kept_only_under_this_process_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    _cache_with(tmp_path, eprop_fixed.SOURCE_DIGEST)
    native_learn._bust_stale_kernel_cache()
    assert len(_cached(tmp_path)) == 3                             # stamped with our sources: kept
    # another process stamped (and cached) different sources, e.g. a file changed after our import
    _cache_with(tmp_path, "0" * 64)
    native_learn._bust_stale_kernel_cache()
    assert _cached(tmp_path) == []                                 # dropped: we compile what we imported
    assert (native_learn.kernel_cache_dir() / "learn_run.deps.sha256").read_text() == eprop_fixed.SOURCE_DIGEST
    # the files on disk are not what decides: with our digest changed (as if our import were older than the
    # disk), the same stamp written from disk is refused
    _cache_with(tmp_path, eprop_fixed.SOURCE_DIGEST)
    monkeypatch.setattr(eprop_fixed, "SOURCE_DIGEST", "f" * 64)
    native_learn._bust_stale_kernel_cache()
    assert _cached(tmp_path) == []


def test_learning_run_records_the_digest():
    from neurochip.backends import native
    from neurochip.compiler.pipeline import compile
    from neurochip.rules import LearningRule
    from neurochip.train import build
    task, net = build({"task": {"name": "evidence", "n_cues": 3, "delay_ms": 150.0}, "network": {"kind": "lif"}})[:2]
    b = task.batch(1, split="test", index=0)
    c = compile(net, "loihi2", LearningRule("eprop_random", lr=1e-3))
    r = native.run(c, b.x[:, :40], learn=True,
                   targets={"target": b.target[:, :40], "mask": b.mask[:, :40], "loss": b.loss})
    assert r.meta["kernel_digest"] == eprop_fixed.SOURCE_DIGEST and len(r.meta["kernel_digest"]) == 64
