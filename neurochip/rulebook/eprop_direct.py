"""e-prop with direct random feedback into readout-less neurons (Noekland 2016 direct feedback alignment,
per neuron): F_j = (W_out^T)_j for a neuron with readout synapses, B_j for one without (a hidden layer of
a layered `Network`: its ``out_mask`` column is all False, so W_out^T gives it no learning signal and
symmetric e-prop would train it by the rate regulariser alone). Without a layer map every neuron has a
readout and this is symmetric e-prop. On chip F is quantised once at compile time, like symmetric
e-prop's W_out^T (benchmarks/multilayer_feedback.py, docs/rules.md)."""
import numpy as np

from . import RuleSpec, register


def direct_feedback(net):
    wt = np.asarray(net.w_out).T
    return np.ascontiguousarray(np.where(net.has_readout[:, None], wt, np.asarray(net.B)))


SPEC = register(RuleSpec(name="eprop_direct",
                         summary="e-prop, W_out^T to neurons with a readout, random B (direct feedback) to the others",
                         feedback=direct_feedback))
