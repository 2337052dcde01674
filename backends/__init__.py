"""Backends: one module per executor, each exposing the same ``run(compiled, inputs, *, learn, targets,
record, seed, ...) -> RunResult`` and declaring a ``CAPABILITIES`` (`neurochip.backend_contract.Capabilities`:
fixed or float arithmetic, learning, what it records, which extra options run() takes, limits).

Callers choose a backend by what it declares, never by its name: ``backends_with(arithmetic='fixed')``
lists the chip backends, ``capabilities(name)`` tells what one does. Adding a backend is one module
plus one line in `BACKENDS`. ``get_backend(name)`` imports lazily (lava and brian2 load their
simulators only inside run())."""
from __future__ import annotations

import importlib

from ..backend_contract import Capabilities
from ..errors import BackendError, ConfigError

BACKENDS = {"native": "neurochip.backends.native", "lava": "neurochip.backends.lava",
            "brian2": "neurochip.backends.brian2"}


def get_backend(name: str):
    """The backend module ``name``; it has ``run()`` and ``CAPABILITIES``.

    Raises `ConfigError` for an unknown name (listing the known ones) and `BackendError` when the
    backend's module cannot be imported or declares no capabilities."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    try:
        mod = importlib.import_module(BACKENDS[name])
    except ImportError as e:
        raise BackendError(f"backend {name!r} is unavailable: {e}") from None
    if not isinstance(getattr(mod, "CAPABILITIES", None), Capabilities):
        raise BackendError(f"backend {name!r} declares no CAPABILITIES (neurochip.backend_contract.Capabilities)")
    return mod


def capabilities(name: str) -> Capabilities:
    """What backend ``name`` declares (`Capabilities`)."""
    return get_backend(name).CAPABILITIES


def backends_with(*, arithmetic: str | None = None, learns: bool | None = None,
                  accepts_network: bool | None = None) -> list[str]:
    """Names of the importable backends whose declared capabilities match every given condition
    (in registry order)."""
    out = []
    for name in BACKENDS:
        try:
            c = capabilities(name)
        except (BackendError, ConfigError):
            continue
        if arithmetic is not None and c.arithmetic != arithmetic:
            continue
        if learns is not None and c.learns != learns:
            continue
        if accepts_network is not None and c.accepts_network != accepts_network:
            continue
        out.append(name)
    return out


def require(name: str, *, arithmetic: str | None = None, learns: bool = False, accepts_network: bool = False,
            purpose: str = "this") -> object:
    """The backend module ``name`` after checking it declares what ``purpose`` needs; otherwise one
    `ConfigError` line naming what is missing and the backends that have it."""
    mod = get_backend(name)
    c: Capabilities = mod.CAPABILITIES
    need = []
    if arithmetic is not None and c.arithmetic != arithmetic:
        need.append(f"{arithmetic}-point arithmetic (it runs {c.arithmetic})")
    if learns and not c.learns:
        need.append("learning (it runs inference only)")
    if accepts_network and not c.accepts_network:
        need.append("a float Network as input")
    if need:
        ok = backends_with(arithmetic=arithmetic, learns=True if learns else None,
                           accepts_network=True if accepts_network else None)
        raise ConfigError(f"backend {name!r} cannot serve {purpose}: it lacks {'; '.join(need)}; "
                          f"backends that can: {', '.join(ok) or 'none'}")
    return mod


__all__ = ["BACKENDS", "backends_with", "capabilities", "get_backend", "require"]
