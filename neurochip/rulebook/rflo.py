"""RFLO (Murray 2019, eLife 8:e43299) for spiking neurons: random feedback B and a local trace of the
pseudo-derivative times the filtered presynaptic spikes; no adaptation eligibility (it is a non-leak
Jacobian term), so on a LIF network it equals random e-prop."""
from . import RuleSpec, register
from ._feedback import fixed_random

SPEC = register(RuleSpec(name="rflo", summary="random feedback local online learning (Murray 2019)",
                         feedback=fixed_random, adapt=False, onchip_adapt=False))
