"""Truncated BPTT with synthetic gradients (decoupled neural interfaces, Jaderberg et al. 2017): BPTT
cut into ``truncation``-step windows, a learned linear module predicts the adjoint carried across each
boundary (``neurochip.learning.synthetic``); the trainer carries the module (``RuleSpec.carried``). Not local."""
from . import RuleSpec, register
from ._feedback import w_out_transpose
from ._synthetic import CARRIED, float_update

SPEC = register(RuleSpec(name="bptt_sg", summary="truncated BPTT + learned synthetic gradients",
                         feedback=w_out_transpose, recurrent=True, reset_grad=True, local=False,
                         onchip_adapt=False, eligibility=(), float_update=float_update, carried=CARRIED))
