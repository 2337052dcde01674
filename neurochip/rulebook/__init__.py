"""The rule registry: one module per learning rule declares, in one place, everything the rest of the
project needs to know about it (DESIGN.md "Rule registry"); nothing else branches on rule names.

A rule module builds a `RuleSpec` and calls `register`. Its fields:

float side (read by ``neurochip.learning.gradients`` and ``neurochip.learning.optim``)
    feedback(net) -> F [n_rec, n_out]   the matrix that carries the output error to the neurons
                                         (W_out^T for exact gradients, B for random feedback, ...)
    recurrent      the backward pass follows the recurrent (network) path through time (exact BPTT)
    truncated      the backward pass is cut into ``LearningRule.truncation``-step windows
    adapt          the ALIF adaptation eligibility (eps^a) is kept
    reset_grad     default of ``LearningRule.reset_grad`` (differentiate the reset path)
    post_update(net, new, inc, rule) -> new   optional hook after an optimiser step (eprop_adaptive
                                         moves B with W_out); None = nothing
    float_update(net, rule, batch, trace) -> Grads   optional: a local plasticity rule (STDP, R-STDP)
                                         computes its own update from the simulated spikes; `grads`
                                         then skips the adjoint scan (feedback/recurrent/truncated/adapt
                                         are not read). Grads are descent directions: SGD with lr = 1
                                         applies exactly the rule's weight change. None = gradient rule
    lower(net, rule, compiled, **kw)   optional: the rule's own on-chip lowering for a compiled network
                                         (STDP family: ``compiler.lower_stdp.lower_stdp``; not called by
                                         ``compiler.lower_rule``, which refuses such a rule rather than
                                         lowering it as e-prop)
    native_learn(compiled, lowering, x, ...)   optional: the rule's own on-chip learning run
                                         (STDP family: ``backends.native_stdp.run_onchip``)
    carried        optional: extra trainable state the trainer carries across updates (the synthetic-
                                         gradient module of eprop_sg / bptt_sg): an object with
                                         init(net, rule) -> state, step(net, rule, batch, state) ->
                                         (Grads, loss, metrics, state after its own online update),
                                         save(state, stem) / load(stem) (a checked bundle, no pickle) and
                                         ``artifact`` (the file stem ``neurochip train`` writes). None = no state
on-chip side (read by ``compiler.lower_rule``, ``compiler.check``, the cost model and ``validate``)
    local          the rule has an online, forward-in-time form a chip can run
    onchip_adapt   the on-chip form keeps the adaptation eligibility (per-synapse eligibility only)
    eligibility    the on-chip eligibility forms it supports ('per_synapse', 'factorised')
    feedback_on_chip  'fixed': F is quantised once at compile time (B_mant)

Registering a rule twice, or a spec with a bad field, raises `ConfigError`. The built-in rules are
imported at the bottom of this module, so ``names()`` always lists them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigError

ELIGIBILITY_FORMS = ("per_synapse", "factorised")


@dataclass(frozen=True)
class RuleSpec:
    name: str
    summary: str
    feedback: Callable[[Any], Any]
    recurrent: bool = False
    truncated: bool = False
    adapt: bool = True
    reset_grad: bool = False
    local: bool = True
    onchip_adapt: bool = True
    eligibility: tuple[str, ...] = ELIGIBILITY_FORMS
    feedback_on_chip: str = "fixed"
    post_update: Callable[[Any, dict, dict, Any], dict] | None = None
    float_update: Callable[[Any, Any, Any, Any], Any] | None = None
    lower: Callable[..., Any] | None = None
    native_learn: Callable[..., Any] | None = None
    carried: Any = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ConfigError(f"rule name must be an identifier, got {self.name!r}")
        if not callable(self.feedback):
            raise ConfigError(f"rule {self.name}: feedback must be a function net -> F [n_rec, n_out]")
        if self.local and self.recurrent:
            raise ConfigError(f"rule {self.name}: a rule that needs the recurrent backward path cannot be local")
        for f in ("post_update", "float_update", "lower", "native_learn"):
            if getattr(self, f) is not None and not callable(getattr(self, f)):
                raise ConfigError(f"rule {self.name}: {f} must be a function or None")
        if self.carried is not None and not all(callable(getattr(self.carried, f, None))
                                                for f in ("init", "step", "save", "load")):
            raise ConfigError(f"rule {self.name}: carried must have init, step, save and load functions")
        bad = set(self.eligibility) - set(ELIGIBILITY_FORMS)
        if bad:
            raise ConfigError(f"rule {self.name}: eligibility forms {sorted(bad)}; known: {', '.join(ELIGIBILITY_FORMS)}")


_REGISTRY: dict[str, RuleSpec] = {}


def register(spec: RuleSpec) -> RuleSpec:
    """Add ``spec`` to the registry (its name must be new); returns it."""
    if spec.name in _REGISTRY:
        raise ConfigError(f"learning rule {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> RuleSpec:
    """The spec of rule ``name``; `ConfigError` naming the known rules otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown learning rule {name!r}; known: {', '.join(_REGISTRY)}") from None


def names() -> tuple[str, ...]:
    """Registered rule names, in registration order."""
    return tuple(_REGISTRY)


def local_names() -> tuple[str, ...]:
    """Rules with an on-chip (online, local) form."""
    return tuple(n for n, s in _REGISTRY.items() if s.local)


def _discover() -> None:
    """Import every rule module of this package (a new rule is one new module: nothing to edit here).
    The built-in rules first, in `BUILTIN` order, then any other module alphabetically."""
    import importlib
    import pkgutil
    mods = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for m in [b for b in BUILTIN if b in mods] + [m for m in mods if m not in BUILTIN]:
        importlib.import_module(f"{__name__}.{m}")


BUILTIN = ("bptt", "truncated_bptt", "eprop_symmetric", "eprop_random", "eprop_adaptive", "rflo")
_discover()
