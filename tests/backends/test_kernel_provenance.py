"""The learning kernel's provenance: Numba's cache is checked against the digest of the sources this process
imported (kernels.eprop_fixed.SOURCE_DIGEST), and every learning run records that digest.

Session 13 found why this matters: a long run whose first kernel call came while a mutation test had the
kernel file changed loaded the mutated code that test had cached (its results differed from the same run's
repeat), and nothing in its output said so."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from neurochip.backends import kernel_cache, native_learn
from neurochip.kernels import eprop_fixed


def _cache_with(tmp_path, stamp: str | None):
    d = kernel_cache.kernel_cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    for name in ("eprop_fixed.learn_run-1.py310.nbi", "learn_trial.learn_trial-9.py310.1.nbc",
                 "learn_neurons._neurons_m0-20.py310.nbi"):
        (d / name).write_bytes(b"x")
    if stamp is not None:
        (d / "learn.deps.sha256").write_text(stamp)


def _cached(tmp_path):
    return sorted(p.name for p in tmp_path.rglob("*.nb*"))


def test_cache_dir_is_where_numba_caches(tmp_path, monkeypatch):
    """kernel_cache_dir is the folder Numba's own locator picks for a kernels file (with NUMBA_CACHE_DIR)."""
    from numba.core.caching import UserProvidedCacheLocator
    from neurochip.kernels import learn_trial
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("numba.core.config.CACHE_DIR", str(tmp_path))
    loc = UserProvidedCacheLocator(learn_trial.learn_trial.py_func, learn_trial.__file__)
    assert Path(loc.get_cache_path()) == kernel_cache.kernel_cache_dir()
    assert kernel_cache.kernel_cache_dir().parent == tmp_path


def test_digest_is_of_the_imported_sources():
    here = Path(eprop_fixed.__file__).parent
    h = hashlib.sha256()
    for name in eprop_fixed.SOURCE_FILES:
        h.update((here / name).read_bytes())
    assert eprop_fixed.SOURCE_DIGEST == h.hexdigest()            # the tree is not being edited under the test
    assert {"learn_rows.py", "learn_cols.py", "learn_trial.py", "fixed_neurons.py"} <= set(eprop_fixed.SOURCE_FILES)


def test_cache_kept_only_under_this_process_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    _cache_with(tmp_path, eprop_fixed.SOURCE_DIGEST)
    native_learn._bust_stale_kernel_cache()
    assert len(_cached(tmp_path)) == 3                             # stamped with our sources: kept
    # another process stamped (and cached) different sources, e.g. a file changed after our import
    _cache_with(tmp_path, "0" * 64)
    native_learn._bust_stale_kernel_cache()
    assert _cached(tmp_path) == []                                 # dropped: we compile what we imported
    assert (kernel_cache.kernel_cache_dir() / "learn.deps.sha256").read_text() == eprop_fixed.SOURCE_DIGEST
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


def test_each_group_lists_every_kernel_file_its_code_imports():
    """A group's digest must cover every kernels file its compiled code can inline: each file of a group, and
    each kernels module those import (transitively), is in the group (else an edit there leaves a stale cache)."""
    import re

    from neurochip.kernels.provenance import GROUPS, HERE
    for group, (files, patterns) in GROUPS.items():
        todo, seen = list(files), set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo += [m + ".py" for m in re.findall(r"^from \.(\w+) import", (HERE / name).read_text(), re.M)]
        seen.discard("provenance.py")                 # the digests themselves: plain Python, nothing compiled
        assert seen <= set(files), (group, sorted(seen - set(files)))
        # and the group drops the cache of every file in it that imports another kernels file
        importers = {f[:-3] for f in files
                     if set(re.findall(r"^from \.(\w+) import", (HERE / f).read_text(), re.M)) - {"provenance"}}
        assert importers <= {p.split(".")[0] for p in patterns}, (group, sorted(importers))


def test_inference_cache_dropped_unless_stamped_with_our_sources(tmp_path, monkeypatch):
    """The inference kernels (fixed_forward copies, float_csr) inline spike_list and fixed_ops: their cache is
    checked like the learning kernel's. Found in session 17: a mutation of spike_list.py passed the kernel ==
    Python model test because the cached fixed_forward copies still held the unmutated code."""
    from neurochip.kernels.provenance import DIGESTS
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    d = kernel_cache.kernel_cache_dir()
    names = ("fixed_forward._trial_lif_m0-250.py310.nbi", "fixed_forward._lif_loop_sb_m0-170.py310.1.nbc",
             "float_csr.forward_float_csr-40.py310.nbi")

    def fill(stamp):
        d.mkdir(parents=True, exist_ok=True)
        for name in names:
            (d / name).write_bytes(b"x")
        (d / "learn_trial.learn_trial-9.py310.1.nbc").write_bytes(b"x")     # another group's: never touched here
        kernel_cache.stamp_path("inference").write_text(stamp)

    fill(DIGESTS["inference"])
    kernel_cache.bust_stale("inference")
    assert len(_cached(tmp_path)) == 4
    fill("0" * 64)
    kernel_cache.bust_stale("inference")
    assert _cached(tmp_path) == ["learn_trial.learn_trial-9.py310.1.nbc"]
    assert kernel_cache.stamp_path("inference").read_text() == DIGESTS["inference"]


def test_native_run_checks_the_inference_cache(monkeypatch):
    """run_fixed and run_float call the check before their kernels (once per process)."""
    from neurochip.backends import native
    from neurochip.network import init_network
    from neurochip.compiler.pipeline import compile
    calls = []
    monkeypatch.setattr(kernel_cache, "_CHECKED", set())
    monkeypatch.setattr(kernel_cache, "bust_stale", lambda g, digest=None: calls.append(g))
    c = compile(init_network(3, 8, 2, seed=0), "loihi2")
    x = np.zeros((1, 5, 3), np.uint8)
    native.run(c, x)
    native.run(c, x)
    assert calls == ["inference"]                     # once per process
    monkeypatch.setattr(kernel_cache, "_CHECKED", set())
    native.run(c, x, mode="float")
    assert calls == ["inference", "inference"]
