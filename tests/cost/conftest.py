"""Hand-made chip profiles and compiled-network stand-ins for the cost-model tests."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from neurochip.chips.profile import profile_from_dict

BASE = {
    "name": "toy",
    "mesh": {"cols": 4, "rows": 4, "cores": 16},
    "core": {"max_neurons": 64, "syn_mem_bits": 100_000, "max_fan_in": 4096, "max_fan_out": 4096,
             "syn_overhead_bits": 2},
    "format": {"weight_bits": 8, "weight_exp_min": -7, "weight_exp_max": 7, "membrane_bits": 24,
               "current_bits": 24, "decay_bits": 12, "threshold_bits": 17, "threshold_shift": 6, "bias_bits": 13,
               "trace_bits": 7},
    "learning": {"supported": True, "eligibility": ["factorised"], "accumulator_bits": 16},
    "noc": {"packet_bits": 32},
}


def cost(v, grade="S", scope="per_event"):
    return {"value": v, "grade": grade, "source": "test", "scope": scope}


def make_profile(costs=None, static_mw=None, **over):
    d = copy.deepcopy(BASE)
    d["costs"] = {k: cost(v) if not isinstance(v, dict) else v for k, v in (costs or {}).items()}
    if static_mw is not None:
        d["power"] = {"static_mw_per_core": cost(static_mw)}
    for k, v in over.items():
        d[k] = {**d.get(k, {}), **v} if isinstance(v, dict) else v
    return profile_from_dict(d)


def make_compiled(profile, *, n_in=3, n_rec=4, n_out=2, core_of=None, core_xy=None, kind="lif", n_ref=1,
                  rec_mask=None, rule=None):
    """A stand-in with the CompiledNetwork fields the cost model reads."""
    if core_of is None:
        core_of = np.array([0, 0, 1, 1] + [1] * n_out)
    if core_xy is None:
        core_xy = np.array([[0, 0], [1, 0]])
    core_xy = np.asarray(core_xy)
    hops = np.abs(core_xy[:, None, :] - core_xy[None, :, :]).sum(-1)
    if rec_mask is None:
        rec_mask = ~np.eye(n_rec, dtype=bool)
    return SimpleNamespace(profile=profile, profile_name=profile.name, n_in=n_in, n_rec=n_rec, n_out=n_out,
                           neuron_kind=kind, n_ref=n_ref, rec_mask=rec_mask, core_of=np.asarray(core_of),
                           core_xy=core_xy, hops=hops, ls_hops=hops[core_of[-1]], n_cores=len(core_xy), rule=rule)


@pytest.fixture(scope="session")
def toy():
    """Profile/compiled builders (session scope: stateless, and usable from hypothesis tests)."""
    return SimpleNamespace(make_profile=make_profile, make_compiled=make_compiled)
