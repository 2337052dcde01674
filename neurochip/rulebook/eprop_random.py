"""e-prop with fixed random feedback B (Bellec et al. 2020, after Lillicrap et al. 2016)."""
from . import RuleSpec, register
from ._feedback import fixed_random

SPEC = register(RuleSpec(name="eprop_random", summary="e-prop, fixed random feedback B", feedback=fixed_random))
