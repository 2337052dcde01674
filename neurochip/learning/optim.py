"""Optimisers (Adam, SGD) and the update step that turns `Grads` into a new `Network`.

State is plain data (dicts of numpy arrays), so a run can be checkpointed without pickle.
eprop_adaptive (eprop_spec 2.4, pitfall P15): B receives the same increment as W_out^T and both are
multiplied by (1 - rule.adaptive_decay) after every update (Kolen-Pollack), so B tends to W_out^T.
Adam epsilon convention (``OptState.adam_eps_form``): 'textbook' (Kingma & Ba, Algorithm 1: eps is
added to sqrt of the bias-corrected v) or 'reference' (the TensorFlow e-prop code and NEST's
``WeightOptimizerAdam``: the bias correction is folded into the step size,
lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), and eps is added to sqrt(v) *without* bias correction, i.e.
Kingma & Ba's "epsilon hat"). The two differ only through eps; at e-prop gradient sizes (|g| ~ 1e-5..1e-3)
the first step differs by several percent, so a run reproduces NEST / TF only with 'reference'.
Learning-rate schedule (`step_decay_lr`): the step size of update ``it`` (0-based) is
``rule.lr * decay ** (it // every)``; the training loop passes it to `apply_update` as ``lr``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import rulebook
from ..errors import InvalidNetworkError
from ..network import Network
from ..rules import LearningRule
from .gradients import GRAD_FIELDS, Grads


ADAM_EPS_FORMS = ("textbook", "reference")


@dataclass
class OptState:
    """Optimiser state: step count and Adam moments per array (empty for SGD)."""

    step: int = 0
    m: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)
    adam_eps_form: str = "textbook"   # 'textbook' | 'reference' (TF e-prop code, NEST); module docstring
    adam_eps: float = 1e-8            # NEST's and TF1's default

    def __post_init__(self) -> None:
        if self.adam_eps_form not in ADAM_EPS_FORMS:
            raise InvalidNetworkError(f"adam_eps_form must be one of {ADAM_EPS_FORMS}, got {self.adam_eps_form!r}")
        if not (np.isfinite(self.adam_eps) and self.adam_eps >= 0):
            raise InvalidNetworkError(f"adam_eps must be finite and >= 0, got {self.adam_eps!r}")


def sgd_step(g: np.ndarray, lr: float) -> np.ndarray:
    return -lr * g


def adam_step(name: str, g: np.ndarray, st: OptState, lr: float, b1: float = 0.9, b2: float = 0.999,
              eps: float | None = None) -> np.ndarray:
    """Adam increment (Kingma & Ba 2015) for array ``name``; st.step must already be incremented.
    ``eps`` defaults to ``st.adam_eps``; ``st.adam_eps_form`` picks where it enters (module docstring)."""
    eps = st.adam_eps if eps is None else eps
    m = st.m.get(name); v = st.v.get(name)
    if m is None:
        m = np.zeros_like(g); v = np.zeros_like(g)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    st.m[name], st.v[name] = m, v
    if st.adam_eps_form == "reference":
        # beta powers by repeated products, as NEST's WeightOptimizerAdam accumulates them
        p1 = p2 = 1.0
        for _ in range(st.step):
            p1 *= b1; p2 *= b2
        lr_t = lr * np.sqrt(1.0 - p2) / (1.0 - p1)
        return -(lr_t * m / (np.sqrt(v) + eps))
    mh = m / (1 - b1 ** st.step)
    vh = v / (1 - b2 ** st.step)
    return -lr * mh / (np.sqrt(vh) + eps)


def step_decay_lr(lr: float, it: int, decay: float = 1.0, every: int = 100) -> float:
    """Step-decay schedule: the learning rate of update ``it`` (0-based) is
    ``lr * decay ** (it // every)`` (decay = 1: constant). Multiplies the Adam step size (the moments
    are unchanged) or the SGD rate."""
    return float(lr) * float(decay) ** (int(it) // int(every))


def increments(rule: LearningRule, g: Grads, st: OptState, lr: float | None = None) -> dict[str, np.ndarray]:
    """Increment per trained array (untrained arrays are absent); ``lr`` overrides rule.lr (schedules)."""
    lr = rule.lr if lr is None else float(lr)
    st.step += 1
    train = {"w_in": rule.train_in, "w_rec": rule.train_rec, "w_out": rule.train_out, "b_out": rule.train_out and rule.train_bias}
    out = {}
    for name in GRAD_FIELDS:
        if not train[name]:
            continue
        gi = getattr(g, name)
        out[name] = adam_step(name, gi, st, lr) if rule.optimizer == "adam" else sgd_step(gi, lr)
    return out


def apply_update(net: Network, rule: LearningRule, g: Grads, st: OptState, lr: float | None = None) -> Network:
    """One optimiser step: returns the updated network (validated). Masked and diagonal recurrent
    entries have zero gradient, hence zero Adam moments and zero increment: they stay zero.
    ``lr`` (default rule.lr) is this step's learning rate, e.g. from `step_decay_lr`."""
    inc = increments(rule, g, st, lr)
    new = {k: getattr(net, k) + d for k, d in inc.items()}
    net.zero_absent(**{k: v for k, v in new.items() if k != "b_out"})   # exact zeros where no synapse exists
    post = rulebook.get(rule.name).post_update     # e.g. eprop_adaptive moves B with W_out
    if post is not None:
        new = post(net, new, inc, rule)
    return net.with_weights(**new)
