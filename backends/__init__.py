"""Backends: one module per executor, each exposing the same ``run(compiled, inputs, *, learn, record,
...) -> RunResult``. ``get_backend(name)`` imports lazily (lava and brian2 are heavy)."""
from __future__ import annotations

import importlib

from ..errors import BackendError, ConfigError

BACKENDS = {"native": "neurochip.backends.native", "lava": "neurochip.backends.lava",
            "brian2": "neurochip.backends.brian2"}


def get_backend(name: str):
    """The backend module ``name`` ('native' | 'lava' | 'brian2'); it has ``run()``.

    Raises `ConfigError` for an unknown name (listing the known ones) and `BackendError` when the
    backend's module or its simulator cannot be imported."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    try:
        return importlib.import_module(BACKENDS[name])
    except ImportError as e:
        raise BackendError(f"backend {name!r} is unavailable: {e}") from None


__all__ = ["BACKENDS", "get_backend"]
