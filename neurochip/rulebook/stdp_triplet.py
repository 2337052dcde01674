"""Triplet STDP (Pfister & Gerstner 2006, minimal all-to-all model): pair terms A2+/A2- (stdp_a_plus,
stdp_a_minus) plus triplet terms A3+ (post-post-pre, slow post trace tau_y) and A3- (pre-pre-post,
slow pre trace tau_x). On chip: Loihi's engine with its slow x2 / y2 traces (`compiler.lower_stdp.triplet_products`),
run like pair STDP by `backends.native_stdp`."""
from . import RuleSpec, register
from .stdp import local_grads, lower, native_learn, no_feedback


def float_update(net, rule, batch, trace):
    from ..plasticity import triplet_terms
    dt = net.params.dt
    dws = []
    for pre in (batch.x, trace.z):
        P2, P3, D2, D3 = triplet_terms(pre, trace.z, rule.stdp_tau_plus, rule.stdp_tau_minus, rule.stdp_tau_x,
                                       rule.stdp_tau_y, dt)
        dws.append(rule.stdp_a_plus * P2 + rule.stdp_a3_plus * P3 - rule.stdp_a_minus * D2 - rule.stdp_a3_minus * D3)
    return local_grads(net, rule, *dws)


SPEC = register(RuleSpec(name="stdp_triplet", summary="triplet STDP (Pfister & Gerstner 2006), all-to-all, additive",
                         feedback=no_feedback, adapt=False, onchip_adapt=False, eligibility=("per_synapse",),
                         float_update=float_update, lower=lower, native_learn=native_learn))
