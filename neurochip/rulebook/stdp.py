"""Pair-based STDP (Markram 1997; Bi & Poo 1998; all-to-all or nearest pairing, additive or
weight-dependent): a local, unsupervised rule on W_in (pre = inputs) and W_rec (pre = network spikes).
It ignores the task's error: the readout does not learn. Float: `neurochip.plasticity.stdp`; on chip
it is Loihi's 2-factor sum of products dw = A+ y0 x1 - A- x0 y1 (`compiler.lower_stdp`), bit-exact
with lava's LearningDense (tests/crosscheck/test_lava_stdp.py). Grads are descent directions:
SGD with lr = 1 applies exactly the STDP weight change."""
import numpy as np

from . import RuleSpec, register


def no_feedback(net):
    """STDP carries no output error: F = 0 [n_rec, n_out] (never read: float_update replaces the scan)."""
    return np.zeros((net.n_rec, net.n_out))


def local_grads(net, rule, dw_in, dw_rec):
    """Grads = -dw for the matrices the rule trains (W_rec masked), zero readout."""
    from ..learning.gradients import Grads
    g_in = -dw_in if rule.train_in else np.zeros_like(net.w_in)
    g_rec = -dw_rec * net.rec_mask if rule.train_rec else np.zeros_like(net.w_rec)
    return Grads(w_in=np.ascontiguousarray(g_in), w_rec=np.ascontiguousarray(g_rec),
                 w_out=np.zeros_like(net.w_out), b_out=np.zeros_like(net.b_out))


def stdp_pair_dw(net, rule, x, z, weight=None):
    """(dw_in, dw_rec) of pair STDP for inputs x and spikes z [B, T, .], steps weighted by ``weight``."""
    from ..plasticity import pair_terms, stdp_dw
    dt = net.params.dt
    kw = dict(form=rule.stdp_form, w_min=rule.stdp_w_min, w_max=rule.stdp_w_max)
    out = []
    for w, pre in ((net.w_in, x), (net.w_rec, z)):
        P, D = pair_terms(pre, z, rule.stdp_tau_plus, rule.stdp_tau_minus, dt, pairing=rule.stdp_pairing, weight=weight)
        out.append(stdp_dw(w, P, D, rule.stdp_a_plus, rule.stdp_a_minus, **kw))
    return out


def float_update(net, rule, batch, trace):
    dw_in, dw_rec = stdp_pair_dw(net, rule, batch.x, trace.z)
    return local_grads(net, rule, dw_in, dw_rec)


def lower(net, rule, compiled, **kw):
    from ..compiler.lower_stdp import lower_stdp
    return lower_stdp(net, rule, compiled, **kw)


def native_learn(compiled, lowering, x, *a, **kw):
    from ..backends.native_stdp import run_onchip
    return run_onchip(compiled, lowering, x, *a, **kw)


SPEC = register(RuleSpec(name="stdp", summary="pair STDP (all-to-all / nearest, additive / multiplicative), unsupervised",
                         feedback=no_feedback, adapt=False, onchip_adapt=False, eligibility=("per_synapse",),
                         float_update=float_update, lower=lower,
                         native_learn=native_learn))
