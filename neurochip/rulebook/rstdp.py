"""Reward-modulated STDP (three-factor; Izhikevich 2007, Fremaux & Gerstner 2016): each step's pair-STDP
term enters a decaying eligibility trace (reward_tau_e); the trial's reward (1 if the network's
decision is right, else 0) arrives at the trial's last step and, minus the reward prediction (the
batch's mean reward when reward_baseline), multiplies the eligibility. Only W_in / W_rec learn; the
readout is fixed. On chip: Loihi's 3-factor form, eligibility in tag_1, reward broadcast in y2/y3
(`compiler.lower_stdp.rstdp_products`), run by `backends.native_stdp`."""
from . import RuleSpec, register
from .stdp import local_grads, lower, native_learn, no_feedback, stdp_pair_dw


def float_update(net, rule, batch, trace):
    from ..plasticity import reward_weights, trial_rewards
    R = trial_rewards(trace.out, batch.target, batch.mask)
    wt = reward_weights(R, batch.x.shape[1], rule.reward_tau_e, net.params.dt, rule.reward_baseline)
    dw_in, dw_rec = stdp_pair_dw(net, rule, batch.x, trace.z, weight=wt)
    return local_grads(net, rule, dw_in, dw_rec)


SPEC = register(RuleSpec(name="rstdp", summary="reward-modulated STDP (eligibility x (reward - baseline))",
                         feedback=no_feedback, adapt=False, onchip_adapt=False, eligibility=("per_synapse",),
                         float_update=float_update, lower=lower, native_learn=native_learn))
