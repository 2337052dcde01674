"""Local plasticity rules in float: spike traces and STDP / triplet STDP / reward-modulated STDP updates
(pure functions over spike arrays; the on-chip form is `neurochip.compiler.lower_stdp`)."""
from .stdp import (pair_terms, reward_weights, spike_trace, stdp_dw, trial_rewards, triplet_terms)  # noqa: F401
