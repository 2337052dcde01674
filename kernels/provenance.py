"""Which kernel sources a process runs: digests of the kernel files as this process imported them, by cache
group, so Numba's on-disk cache can be checked against them (``backends.kernel_cache``).

Why: Numba keys a cached function by the hash of its own file, not of the modules it inlines. A cached
``fixed_forward`` copy keeps the ``spike_list`` / ``fixed_ops`` code it was compiled with after either file
changes (an edit, a ``git pull``, a mutation test), and silently runs it. Each group lists the files its
compiled functions depend on and the cache files of those functions. Plain Python, no Numba.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).parent

# group -> (source files the group's compiled code depends on, glob patterns of the group's cache files: those of
# every file in the group that imports another kernels file, whose cached code can hold an inlined old copy)
GROUPS = {
    "learn": (("eprop_fixed.py", "learn_trial.py", "learn_rows.py", "learn_cols.py", "learn_types.py", "learn_neurons.py",
               "fixed_neurons.py", "neuron_ops.py", "fixed_ops.py", "spike_list.py"),
              ("eprop_fixed.*.nb*", "learn_trial.*.nb*", "learn_rows.*.nb*", "learn_cols.*.nb*", "learn_neurons.*.nb*",
               "learn_types.*.nb*", "fixed_neurons.*.nb*", "neuron_ops.*.nb*")),
    "inference": (("fixed_forward.py", "fixed_neurons.py", "neuron_ops.py", "fixed_ops.py", "spike_list.py",
                   "float_csr.py"),
                  ("fixed_forward.*.nb*", "fixed_neurons.*.nb*", "neuron_ops.*.nb*", "float_csr.*.nb*")),
}


def source_digest(files) -> str:
    """sha256 over the bytes of ``files`` (names in this folder, in order; a missing file counts as empty)."""
    h = hashlib.sha256()
    for name in files:
        f = HERE / name
        h.update(f.read_bytes() if f.exists() else b"")
    return h.hexdigest()


# read once, at import: what this process runs (the files on disk may change after)
DIGESTS = {g: source_digest(files) for g, (files, _) in GROUPS.items()}
