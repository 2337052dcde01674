"""Exact BPTT with the pseudo-derivative (the reference); needs the whole backward pass: not local."""
from . import RuleSpec, register
from ._feedback import w_out_transpose

SPEC = register(RuleSpec(name="bptt", summary="exact gradient (BPTT, surrogate pseudo-derivative)",
                         feedback=w_out_transpose, recurrent=True, reset_grad=True, local=False,
                         onchip_adapt=False, eligibility=()))
