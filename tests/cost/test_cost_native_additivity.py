"""Counts from the native backend add up across batches and runs, and so do their energies; the
native kernel's counts cost the same as counts rebuilt independently from its spikes."""
from __future__ import annotations

import numpy as np
import pytest

from neurochip.backend_contract import EventCounts
from neurochip.cost.energy import energy
from neurochip.network import NeuronParams, init_network

# register overflow is invisible in spikes: counts_from_spikes cannot reproduce the overflow counters
SCALARS = [f for f in EventCounts().scalars() if f != "saturations" and not f.startswith("overflow_")]


@pytest.fixture(scope="module")
def setup():
    from neurochip.backends import get_backend
    from neurochip.compiler.pipeline import CompileOptions, compile
    net = init_network(6, 40, 2, NeuronParams(kind="lif", n_ref=1), p_rec=0.3, seed=5)
    c = compile(net, "loihi1", options=CompileOptions.make(approximate=("reset",)))
    x = (np.random.default_rng(0).random((4, 80, 6)) < 0.08).astype(np.uint8)
    return c, x, get_backend("native")


def _run(be, c, x):
    run = getattr(be, "run", be)
    return run(c, x, learn=False)


def test_counts_and_energy_additive_across_batches(setup):
    c, x, be = setup
    whole = _run(be, c, x).counts
    parts = _run(be, c, x[:1]).counts + _run(be, c, x[1:3]).counts + _run(be, c, x[3:]).counts
    for f in SCALARS:
        assert getattr(whole, f) == getattr(parts, f), f
    assert (whole.core_to_core_packets == parts.core_to_core_packets).all()
    assert (whole.per_core_syn_ops == parts.per_core_syn_ops).all()
    prof = c.profile
    e_whole = energy(whole, prof, core_xy=c.core_xy, n_cores=c.n_cores)
    e_parts = energy(parts, prof, core_xy=c.core_xy, n_cores=c.n_cores)
    assert e_whole.total_pj == pytest.approx(e_parts.total_pj, rel=1e-12)
    # Two runs of the same batch cost twice one run.
    twice = whole + whole
    assert energy(twice, prof, core_xy=c.core_xy, n_cores=c.n_cores).total_pj == pytest.approx(2 * e_whole.total_pj)


def test_native_counts_cost_like_counts_from_spikes(setup):
    from neurochip.backends.counts import counts_from_spikes
    c, x, be = setup
    res = _run(be, c, x)
    ref = counts_from_spikes(c, x, res.spikes)
    for f in SCALARS:
        assert getattr(res.counts, f) == getattr(ref, f), f
    a = energy(res.counts, c.profile, core_xy=c.core_xy, n_cores=c.n_cores)
    b = energy(ref, c.profile, core_xy=c.core_xy, n_cores=c.n_cores)
    assert a.total_pj == pytest.approx(b.total_pj) and a.complete == b.complete
    # Every mesh hop in the counts is accounted for by the per-pair matrix the energy model prices.
    assert int((res.counts.core_to_core_packets * c.hops).sum()) == res.counts.mesh_hops
