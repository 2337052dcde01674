"""e-prop with symmetric feedback (Bellec et al. 2020): the learning signal uses W_out^T."""
from . import RuleSpec, register
from ._feedback import w_out_transpose

SPEC = register(RuleSpec(name="eprop_symmetric", summary="e-prop, feedback W_out^T", feedback=w_out_transpose))
