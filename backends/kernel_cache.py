"""Numba's cache of the kernels, checked against the sources this process imported (``kernels.provenance``).

A group's cache files are dropped, once per process and before its first kernel call, unless they carry the
stamp of this process's digest for the group. Not the files on disk: when those changed after the import,
another process may have cached the changed code under the same file stamps (session 13 lost a long run to a
mutation test's cached kernel that way).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHECKED: set = set()


def kernel_cache_dir() -> Path:
    """The folder where Numba caches the functions of ``neurochip/kernels``: its ``__pycache__``, or, with
    NUMBA_CACHE_DIR set, the subfolder Numba's user-provided cache locator uses there,
    ``<kernels folder name>_<sha1 of its absolute path>`` (numba.core.caching, ``get_suitable_cache_subpath``)."""
    import neurochip.kernels as k
    kdir = os.path.dirname(os.path.abspath(k.__file__))       # as Numba sees it: not resolved through links
    env = os.environ.get("NUMBA_CACHE_DIR")
    if not env:
        return Path(kdir) / "__pycache__"
    return Path(env) / f"{os.path.basename(kdir)}_{hashlib.sha1(kdir.encode()).hexdigest()}"


def stamp_path(group: str) -> Path:
    return kernel_cache_dir() / f"{group}.deps.sha256"


def bust_stale(group: str, digest: str | None = None) -> None:
    """Drop ``group``'s cache files unless stamped with ``digest`` (default: this process's,
    ``kernels.provenance.DIGESTS[group]``); then stamp the cache with it."""
    from neurochip.kernels.provenance import DIGESTS, GROUPS
    digest = DIGESTS[group] if digest is None else digest
    cache = kernel_cache_dir()
    stamp = stamp_path(group)
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return
        for pat in GROUPS[group][1]:
            for f in cache.glob(pat):
                f.unlink(missing_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:                      # a read-only cache: numba recompiles or reuses, nothing to do here
        pass


def ensure_fresh(group: str) -> None:
    """`bust_stale` for ``group``, once per process (call before the group's first kernel call)."""
    if group not in _CHECKED:
        bust_stale(group)
        _CHECKED.add(group)
