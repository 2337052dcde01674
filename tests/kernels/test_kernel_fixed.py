"""Fixed-point inference kernel == the pure-Python integer model of docs/fixed_point.md, every integer,
every step, under each profile overflow semantics ('lava', 'saturate', 'wrap'; docs/fixed_point.md
"Registers"), overflow events per register kind included; and its in-kernel event counts == counts
derived from the recorded spikes."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from knets import random_compiled  # noqa: E402
from pyref_fixed import simulate as py_simulate  # noqa: E402

from neurochip.backends import native  # noqa: E402
from neurochip.backends.counts import counts_from_spikes  # noqa: E402

cases = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "kind": st.sampled_from(["lif", "alif"]),
    "reset": st.sampled_from(["subtract", "zero"]),
    "n_ref": st.integers(1, 4),
    "wb": st.sampled_from([2, 8, 9, 16]),
    "e_in": st.integers(-4, 3), "e_rec": st.integers(-4, 3), "e_out": st.integers(-4, 3),
    "mb": st.sampled_from([12, 16, 24, 32]), "cb": st.sampled_from([10, 16, 24]),
    "dv": st.sampled_from([0, 1, 300, 4095]), "du": st.sampled_from([4095, 3000, 0]),
    "da": st.sampled_from([0, 40, 4095]), "dk": st.sampled_from([0, 300, 4095]),
    "vth": st.sampled_from([1, 50, 1000]), "bias_max": st.sampled_from([0, 200]),
    "bias_exp": st.integers(-2, 2), "beta_shift": st.integers(0, 8),
    "p_in": st.sampled_from([0.0, 0.2, 0.7]), "T": st.integers(1, 25), "B": st.integers(1, 3),
    "mode": st.sampled_from(["lava", "saturate", "wrap"]),
    # row shapes (kernels.csr.row_gaps): full rows and rows to every post but one take the kernel's contiguous
    # path (fixed_forward.add_run), any other row the indexed one
    "in_shape": st.sampled_from(["full", "all_but_one", "random"]),
    # 7 neurons: below one spike-scan block (kernels.spike_list.SCAN_BLOCK = 8); 21: two blocks and a remainder
    "n_rec": st.sampled_from([7, 21]),
    "rec_shape": st.sampled_from(["random", "no_self", "full"]),
})
OVF = [f"overflow_{k}" for k in ("current", "membrane", "readout", "accumulator", "trace", "weight")]


def _no_overflow(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "saturations" and k not in OVF}


def _with_row_shapes(c, rng, in_shape: str, rec_shape: str):
    """``c`` with its input rows full (as built), each missing one random post, or random (density 0.6), and
    its recurrent rows random (as built), every post but the neuron itself, or full (self-synapse included)."""
    n_rec, n_in = c.w_in.shape
    if in_shape != "full":
        m = np.ones((n_rec, n_in), bool)
        if in_shape == "all_but_one":
            m[rng.integers(0, n_rec, n_in), np.arange(n_in)] = False
        else:
            m = rng.random((n_rec, n_in)) < 0.6
        c = replace(c, w_in=c.w_in * m, in_mask=m)
    if rec_shape != "random":
        m = np.ones((n_rec, n_rec), bool)
        if rec_shape == "no_self":
            np.fill_diagonal(m, False)
        w = rng.integers(c.w_in.min(initial=-1), c.w_in.max(initial=1) + 1, (n_rec, n_rec)).astype(np.int32) * m
        c = replace(c, w_rec=w, rec_mask=m)
    return c


def _with_mode(c, mode: str):
    """The stand-in profile of `knets.random_compiled` with format.overflow = mode."""
    c.profile.format.overflow = mode
    return c


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_fixed_kernel_equals_python_model(k):
    rng = np.random.default_rng(k["seed"])
    c = random_compiled(rng, kind=k["kind"], reset=k["reset"], n_ref=k["n_ref"], wb=k["wb"], e_in=k["e_in"],
                        e_rec=k["e_rec"], e_out=k["e_out"], mb=k["mb"], cb=k["cb"], dv=k["dv"], du=k["du"], da=k["da"],
                        dk=k["dk"], vth=k["vth"], bias_max=k["bias_max"], bias_exp=k["bias_exp"],
                        beta_shift=k["beta_shift"], n_rec=k["n_rec"])
    c = _with_row_shapes(c, rng, k["in_shape"], k["rec_shape"])
    _with_mode(c, k["mode"])
    x = (rng.random((k["B"], k["T"], c.n_in)) < k["p_in"]).astype(np.uint8)
    r = native.run(c, x, record=("spikes", "outputs", "v"))
    ref = py_simulate(c, x.tolist(), S=6, D=12, mb=k["mb"], cb=k["cb"], mode=k["mode"])
    np.testing.assert_array_equal(r.spikes, np.array(ref["spikes"], np.uint8).reshape(r.spikes.shape))
    np.testing.assert_array_equal(r.v, np.array(ref["v"], np.int64).reshape(r.v.shape))
    np.testing.assert_array_equal(r.out_int, np.array(ref["y"], np.int64).reshape(r.out_int.shape))
    assert r.counts.saturations == ref["saturations"]
    got = r.counts.overflows()
    assert {k: got[k] for k in ref["events"]} == ref["events"]
    assert got["accumulator"] == got["trace"] == got["weight"] == 0
    # counts: the kernel's own == derived independently from the recorded spikes
    cs = counts_from_spikes(c, x, r.spikes)
    got_c, ref_c = _no_overflow(r.counts.to_dict()), _no_overflow(cs.to_dict())
    if k["in_shape"] != "full":
        # per-core input synaptic ops: the routes count every input spike at every fed neuron's core (exact when
        # every input reaches the same neurons, as in a layer map; an upper bound otherwise: kernels.csr.build_routes)
        kernel_pc, exact_pc = np.array(got_c.pop("per_core_syn_ops")), np.array(ref_c.pop("per_core_syn_ops"))
        assert (kernel_pc >= exact_pc).all()
    assert got_c == ref_c


@pytest.mark.parametrize("mode", ["lava", "saturate", "wrap"])
def test_extreme_weights_saturate_and_wrap_counted(mode):
    """Full-scale weights into narrow registers: every register kind reaches its limit, and the events
    are counted per kind exactly as the Python model counts them."""
    rng = np.random.default_rng(3)
    c = _with_mode(random_compiled(rng, wb=16, mb=12, cb=10, e_in=3, e_out=3, vth=1, p_rec=1.0, dk=0), mode)
    x = np.ones((1, 10, c.n_in), np.uint8)
    r = native.run(c, x, record=("spikes", "outputs", "v"))
    ref = py_simulate(c, x.tolist(), S=6, D=12, mb=12, cb=10, mode=mode)
    np.testing.assert_array_equal(r.v, np.array(ref["v"], np.int64).reshape(r.v.shape))
    np.testing.assert_array_equal(r.out_int, np.array(ref["y"], np.int64).reshape(r.out_int.shape))
    got = r.counts.overflows()
    assert all(ref["events"][k] > 0 for k in ("current", "membrane", "readout")), ref["events"]
    assert {k: got[k] for k in ref["events"]} == ref["events"]
    if mode != "wrap":
        assert np.abs(r.v).max() <= (1 << 11) - 1


def test_int32_sums_wrap_like_lava():
    """overflow = 'lava': a sum past int32 wraps before lava's 24-bit wrap of u (fan-in 3000 x 255 x 2^7 x
    2^6 > 2^31); the kernel keeps what the Python model keeps, and the wrap is counted."""
    rng = np.random.default_rng(1)
    c = _with_mode(random_compiled(rng, n_in=3000, n_rec=3, wb=9, e_in=7, vth=1000, p_rec=0.0, du=4095, dv=4095,
                                   kind="lif", n_ref=1), "lava")
    c = replace(c, w_in=np.full((3, 3000), 255, np.int32))
    x = np.ones((1, 3, c.n_in), np.uint8)
    r = native.run(c, x, record=("spikes", "outputs", "v"))
    ref = py_simulate(c, x.tolist(), S=6, D=12, mb=24, cb=24, mode="lava")
    exact = 3000 * 255 * (1 << 7) * (1 << 6)
    assert exact > 2 ** 31
    np.testing.assert_array_equal(r.v, np.array(ref["v"], np.int64).reshape(r.v.shape))
    assert r.counts.overflow_current == ref["events"]["current"] > 0


def test_event_driven_cost_grows_with_spikes():
    """No input and no spikes: zero synaptic operations (nothing is evaluated densely)."""
    rng = np.random.default_rng(0)
    c = random_compiled(rng, kind="lif", vth=1000)
    r = native.run(c, np.zeros((2, 20, c.n_in), np.uint8))
    assert r.counts.syn_ops == 0 and r.counts.spikes == 0 and r.counts.syn_ops_dense > 0
    assert r.counts.neuron_updates == 2 * 20 * (c.n_rec + c.n_out)


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_parallel_equals_serial(threads):
    """prange over the batch: each trial's result equals that trial run alone."""
    import numba
    rng = np.random.default_rng(5)
    c = random_compiled(rng, n_rec=30, p_rec=0.3)
    x = (rng.random((4, 40, c.n_in)) < 0.3).astype(np.uint8)
    old = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        r = native.run(c, x)
    finally:
        numba.set_num_threads(old)
    for b in range(4):
        rb = native.run(c, x[b:b + 1])
        np.testing.assert_array_equal(r.spikes[b], rb.spikes[0])
        np.testing.assert_array_equal(r.out_int[b], rb.out_int[0])
