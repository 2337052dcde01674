"""`LearningRule`: which float rule trains the network, with its parameters; the same object is
lowered by the compiler into its on-chip (fixed-point) form.

Names: ``bptt`` (exact gradient, pseudo-derivative), ``truncated_bptt`` (gradient truncated to the
last ``truncation`` steps), ``eprop_symmetric`` (feedback = W_out^T), ``eprop_random`` (fixed random
feedback B), ``eprop_adaptive`` (B follows W_out's updates, with weight decay on both), ``rflo``
(Murray 2019: random feedback through B and local eligibility traces of the post-synaptic derivative,
here the pseudo-derivative, times the filtered pre-synaptic activity; unlike e-prop it drops the ALIF
adaptation eligibility, so on a LIF network it equals random e-prop).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

from . import rulebook
from .errors import InvalidNetworkError

RULES = rulebook.names()                 # every registered rule (neurochip/rulebook/: one module per rule)
EPROP_RULES = tuple(n for n in RULES if n.startswith("eprop_"))
ONCHIP_RULES = rulebook.local_names()   # rules with a local, forward-in-time form a chip can run


@dataclass(frozen=True)
class LearningRule:
    """A learning rule and its hyper-parameters.

    name:            one of `RULES` (the rule registry, `neurochip.rulebook`)
    lr:              learning rate (Adam step size or SGD rate), dimensionless
    optimizer:       'adam' or 'sgd'
    reset_grad:      differentiate the reset path (True for autodiff-style BPTT; e-prop drops it).
                     None = rule default (True for bptt/truncated_bptt, False otherwise)
    truncation:      k steps for truncated_bptt (the backward pass is cut into k-step windows counted
                     from the end of the sequence; the readout filter is kept exact)
    reg_rate:        firing-rate regularisation strength c_reg (loss c_reg * sum_j (f_j - f0)^2)
    target_rate_hz:  f0, Hz
    adaptive_decay:  weight decay on W_out and B each update for eprop_adaptive (P15)
    train_in/train_rec/train_out: which weights learn
    train_bias:      whether the readout bias b_out learns (the e-prop reference codes have no bias)
    eligibility:     on-chip eligibility form: 'per_synapse' (exact e-prop traces) or 'factorised'
                     (pre trace x post term, as ReckOn); float rules are always exact
    STDP family (read only by the stdp / stdp_triplet / rstdp rules, `neurochip.plasticity`):
    stdp_a_plus, stdp_a_minus:   pair amplitudes A+ (pre before post), A- (post before pre), weight units
    stdp_tau_plus, stdp_tau_minus:  trace time constants tau+ (pre trace), tau- (post trace), ms
    stdp_pairing:    'all' (all-to-all: traces add up) or 'nearest' (traces reset to 1 at a spike)
    stdp_form:       'additive' or 'multiplicative' (soft bounds: A+ (w_max - w), A- (w - w_min))
    stdp_w_min, stdp_w_max:  bounds of the multiplicative form, weight units (w_min < w_max)
    stdp_a3_plus, stdp_a3_minus, stdp_tau_x, stdp_tau_y:  triplet terms (Pfister & Gerstner 2006), ms
    reward_tau_e:    eligibility-trace time constant of R-STDP, ms
    reward_baseline: subtract the reward prediction (batch mean reward) from the reward
    synthetic gradients (read only by eprop_sg / bptt_sg, `neurochip.learning.synthetic`; ``truncation`` = k):
    sg_lr:           normalised-LMS step of the linear synthetic-gradient module, in (0, 2)
    sg_discount:     gamma in [0, 1]: the module's prediction is injected (and bootstrapped) times gamma
    """

    name: str = "eprop_random"          # a registered rule (`neurochip.rulebook.names()`)
    lr: float = 5e-3
    optimizer: Literal["adam", "sgd"] = "adam"
    reset_grad: bool | None = None
    truncation: int | None = None
    reg_rate: float = 1.0
    target_rate_hz: float = 10.0
    adaptive_decay: float = 0.01
    train_in: bool = True
    train_rec: bool = True
    train_out: bool = True
    train_bias: bool = True
    eligibility: Literal["per_synapse", "factorised"] = "per_synapse"
    stdp_a_plus: float = 0.01
    stdp_a_minus: float = 0.0105
    stdp_tau_plus: float = 20.0
    stdp_tau_minus: float = 20.0
    stdp_pairing: Literal["all", "nearest"] = "all"
    stdp_form: Literal["additive", "multiplicative"] = "additive"
    stdp_w_min: float = -1.0
    stdp_w_max: float = 1.0
    stdp_a3_plus: float = 0.0
    stdp_a3_minus: float = 0.0
    stdp_tau_x: float = 100.0
    stdp_tau_y: float = 100.0
    reward_tau_e: float = 200.0
    reward_baseline: bool = True
    sg_lr: float = 0.05
    sg_discount: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in RULES:
            raise InvalidNetworkError(f"unknown learning rule {self.name!r}; known: {', '.join(RULES)}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise InvalidNetworkError(f"lr must be a finite number > 0, got {self.lr!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise InvalidNetworkError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.name == "truncated_bptt":
            if not isinstance(self.truncation, int) or self.truncation < 1:
                raise InvalidNetworkError(f"truncated_bptt needs truncation k >= 1 steps, got {self.truncation!r}")
        if self.truncation is not None and (not isinstance(self.truncation, int) or self.truncation < 1):
            raise InvalidNetworkError(f"truncation must be an integer k >= 1 steps (or None), got {self.truncation!r}")
        if not (isinstance(self.sg_lr, (int, float)) and math.isfinite(self.sg_lr) and 0 < self.sg_lr < 2):
            raise InvalidNetworkError(f"sg_lr (synthetic-gradient NLMS step) must be in (0, 2), got {self.sg_lr!r}")
        if not (isinstance(self.sg_discount, (int, float)) and math.isfinite(self.sg_discount)
                and 0 <= self.sg_discount <= 1):
            raise InvalidNetworkError(f"sg_discount must be in [0, 1], got {self.sg_discount!r}")
        if self.reg_rate < 0 or not math.isfinite(self.reg_rate):
            raise InvalidNetworkError(f"reg_rate must be finite and >= 0, got {self.reg_rate!r}")
        if self.target_rate_hz < 0 or not math.isfinite(self.target_rate_hz):
            raise InvalidNetworkError(f"target_rate_hz must be finite and >= 0 Hz, got {self.target_rate_hz!r}")
        if self.eligibility not in ("per_synapse", "factorised"):
            raise InvalidNetworkError(f"eligibility must be 'per_synapse' or 'factorised', got {self.eligibility!r}")
        self._check_stdp()

    def _check_stdp(self) -> None:
        def num(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for f in ("stdp_a_plus", "stdp_a_minus", "stdp_a3_plus", "stdp_a3_minus"):
            if not (num(getattr(self, f)) and getattr(self, f) >= 0):
                raise InvalidNetworkError(f"{f} must be a finite number >= 0 (weight units), got {getattr(self, f)!r}")
        for f in ("stdp_tau_plus", "stdp_tau_minus", "stdp_tau_x", "stdp_tau_y", "reward_tau_e"):
            if not (num(getattr(self, f)) and getattr(self, f) > 0):
                raise InvalidNetworkError(f"{f} must be a finite number > 0 ms, got {getattr(self, f)!r}")
        if self.stdp_pairing not in ("all", "nearest"):
            raise InvalidNetworkError(f"stdp_pairing must be 'all' or 'nearest', got {self.stdp_pairing!r}")
        if self.stdp_form not in ("additive", "multiplicative"):
            raise InvalidNetworkError(f"stdp_form must be 'additive' or 'multiplicative', got {self.stdp_form!r}")
        if not (num(self.stdp_w_min) and num(self.stdp_w_max) and self.stdp_w_min < self.stdp_w_max):
            raise InvalidNetworkError(f"stdp_w_min < stdp_w_max must be finite numbers, got "
                                      f"{self.stdp_w_min!r}, {self.stdp_w_max!r}")
        if not isinstance(self.reward_baseline, bool):
            raise InvalidNetworkError(f"reward_baseline must be true or false, got {self.reward_baseline!r}")

    @property
    def differentiates_reset(self) -> bool:
        if self.reset_grad is not None:
            return self.reset_grad
        return rulebook.get(self.name).reset_grad

    @property
    def is_eprop(self) -> bool:
        return self.name in EPROP_RULES

    @property
    def is_local(self) -> bool:
        """True when the rule has an online, local form a chip can run."""
        return self.name in ONCHIP_RULES

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LearningRule":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InvalidNetworkError(f"unknown learning-rule option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)
