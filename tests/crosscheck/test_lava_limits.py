"""native == lava-nc, bit for bit, with every register kind driven to and past its limit (issue 15).

lava-nc 0.10's own `PyLifModelBitAcc` + `PyDenseModelBitAcc` (and our `ChipNeuron` where lava has no model:
subtractive reset, refractory period, ALIF) on hypothesis-generated edge networks: large exponents,
fan-in in the thousands, bursts where every input fires at once, no leak, short readout time constants
with many neurons spiking in one step. A lava run costs seconds (process spawn + compile), so each
example packs 12-16 independent networks as diagonal blocks of ONE lava network (a block computes in
lava exactly what it computes alone: no synapse crosses blocks); each block is also run alone natively
and compared with its slice, and the compiler's bounds are checked on it (`xc_edge.run_native_checked`).
CI: >= 200 networks through real lava (asserted); the slow variant adds more.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from xc_edge import EXAMPLE_SHARED, EXAMPLE_SUBS, blocks, build_sub, compiled_from, run_native_checked, shared_params, sub_network
from xc_fixed_ref import run_reference
from xc_helpers import require

COUNT = {"networks": 0, "lava_runs": 0, "events": {"current": 0, "membrane": 0, "readout": 0}, "over": 0}


@st.composite
def lava_case(draw, lava_lif=True):
    sh = draw(shared_params(lava_lif=lava_lif))
    subs = draw(st.lists(sub_network(shape="small"), min_size=12, max_size=16))
    wide = draw(st.sampled_from([None, None, "wide_in", "wide_out"]))      # at most one wide block (lava cost)
    if wide:
        subs.append(draw(sub_network(shape=wide)))
    return sh, subs, draw(st.integers(8, 25))


def _compare(case):
    lava = require("neurochip.backends.lava")
    require("lava.proc.lif.process", "lava-nc is a required dependency")
    from neurochip.backends import native

    sh, subs, T = case
    built = [build_sub(sh, s, T) for s in subs]
    parts = [p for p, _ in built]
    c = compiled_from(sh, parts)
    x = np.concatenate([xb for _, xb in built], axis=1)[None]
    r = lava.run(c, x, record=("spikes", "outputs", "v"))
    COUNT["lava_runs"] += 1
    want_model = "lava PyLifModelBitAcc" if sh["reset"] == "zero" and sh["n_ref"] == 1 and sh.get("kind") == "lif" else "ChipNeuron"
    assert r.meta["neuron_model"].endswith(want_model)
    n, _ = run_native_checked(native, c, x)
    for name, got, want in (("spikes", n.spikes, r.spikes), ("v", n.v, r.v), ("readout", n.out_int, r.out_int)):
        bad = np.argwhere(got != want)
        assert bad.size == 0, f"native {name} differs from lava first at [b,t,j]={bad[0].tolist()} ({sh})"
    ref = run_reference(c, x)                 # the in-process mirror (test_limits_mirror.py) on the same run
    np.testing.assert_array_equal(ref["v"], r.v)
    np.testing.assert_array_equal(ref["y"], r.out_int)
    for (si, sr, so), (p, xb) in zip(blocks(parts), built):
        rb, bb = run_native_checked(native, compiled_from(sh, [p]), xb[None])
        np.testing.assert_array_equal(rb.spikes[0], r.spikes[0][:, sr])
        np.testing.assert_array_equal(rb.v[0], r.v[0][:, sr])
        np.testing.assert_array_equal(rb.out_int[0], r.out_int[0][:, so])
        COUNT["networks"] += 1
        COUNT["over"] += bool(bb["can_overflow"])
        for k in COUNT["events"]:
            COUNT["events"][k] += rb.counts.overflows()[k]


SET = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=13, **SET)
@given(lava_case())
@example((EXAMPLE_SHARED, EXAMPLE_SUBS + [dict(EXAMPLE_SUBS[2], seed=10 + k) for k in range(11)], 12))
def test_lava_own_lif_at_the_limits(case):
    _compare(case)


@settings(max_examples=3, **SET)
@given(lava_case(lava_lif=False))
def test_chip_neuron_at_the_limits(case):
    """Subtractive reset / refractory / ALIF on our lava model: lava's Dense and port arithmetic (int32
    channels) with our neuron in lava's register semantics."""
    _compare(case)


def test_lava_limit_counts():
    """After the two tests above: >= 200 networks through real lava, every register kind overflowed."""
    if COUNT["lava_runs"] == 0:
        pytest.skip("run together with the lava limit tests")
    assert COUNT["networks"] >= 200, COUNT
    assert all(v > 0 for v in COUNT["events"].values()), COUNT


@pytest.mark.exhaustive
@settings(max_examples=int(os.environ.get("NEUROCHIP_LAVA_LIMIT_EXAMPLES", "60")), **{**SET, "derandomize": False})
@given(lava_case())
def test_lava_own_lif_at_the_limits_slow(case):
    _compare(case)
