"""BPTT cut into ``truncation``-step windows (Williams & Peng 1990); not local."""
from . import RuleSpec, register
from ._feedback import w_out_transpose

SPEC = register(RuleSpec(name="truncated_bptt", summary="BPTT truncated to k-step windows",
                         feedback=w_out_transpose, recurrent=True, truncated=True, reset_grad=True, local=False,
                         onchip_adapt=False, eligibility=()))
