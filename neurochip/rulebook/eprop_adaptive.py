"""e-prop with adaptive feedback (Bellec et al. 2020, pitfall P15): B receives W_out's updates, and both
decay by ``LearningRule.adaptive_decay`` each step (Kolen-Pollack)."""
from . import RuleSpec, register
from ._feedback import fixed_random


def _post_update(net, new: dict, inc: dict, rule) -> dict:
    lam = rule.adaptive_decay
    B = net.B + (inc["w_out"].T if "w_out" in inc else 0.0)
    new["B"] = (1 - lam) * B
    new["w_out"] = (1 - lam) * new.get("w_out", net.w_out)
    return new


SPEC = register(RuleSpec(name="eprop_adaptive", summary="e-prop, B follows W_out's updates with weight decay",
                         feedback=fixed_random, post_update=_post_update))
