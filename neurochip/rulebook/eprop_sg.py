"""e-prop 3 (Bellec et al. 2020): symmetric e-prop (F = W_out^T) cut into ``truncation``-step windows,
with a learned linear synthetic-gradient module (Jaderberg et al. 2017) predicting the credit carried
across each window boundary (``neurochip.learning.synthetic``). The trainer carries the module
(``RuleSpec.carried``). Not lowered to a chip (the module is extra state: docs/synthetic_gradients.md)."""
from . import RuleSpec, register
from ._feedback import w_out_transpose
from ._synthetic import CARRIED, float_update

SPEC = register(RuleSpec(name="eprop_sg", summary="truncated e-prop (W_out^T) + learned synthetic gradients",
                         feedback=w_out_transpose, local=False, onchip_adapt=False, eligibility=(),
                         float_update=float_update, carried=CARRIED))
