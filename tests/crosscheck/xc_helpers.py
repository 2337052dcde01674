"""Cross-check helpers: a backend that cannot import is a failure in CI (CI=true), a skip elsewhere.

(Kept out of conftest.py: tests import these by name, and several test folders have a conftest.)
"""
from __future__ import annotations

import importlib
import os

import pytest


def require(module: str, why: str = ""):
    """Import ``module`` or fail (CI) / skip (elsewhere) with the reason.

    lava-nc modules are only located, never imported, here: importing lava sets the global
    multiprocessing start method (and fails if it is already set); lava runs in child interpreters.
    """
    try:
        if module.split(".")[0] == "lava":
            from importlib.util import find_spec
            if find_spec(module) is None:
                raise ImportError(f"No module named {module!r}")
            return None
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        msg = f"{module} is not importable ({e}){': ' + why if why else ''}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI requires every backend: {msg}")
        pytest.skip(msg)


def native_backend():
    """`neurochip.backends.native` if it exists yet, else None (the numpy reference is used alone)."""
    try:
        return importlib.import_module("neurochip.backends.native")
    except ImportError:
        return None
