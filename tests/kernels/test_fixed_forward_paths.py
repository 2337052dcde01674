"""The fixed-point inference kernel has two compiled paths per overflow mode (kernels.fixed_forward): the
standard LIF loop (`lif_case`) and the general loop. Each compiled copy holds one of them (the other branch is
pruned at compile time), so the choice is made in Python; the general loop must give the LIF case bit for
bit, and the choice must be the LIF loop exactly when its conditions hold."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from knets import random_compiled  # noqa: E402

from neurochip.backends import native  # noqa: E402
from neurochip.kernels import fixed_forward as ff  # noqa: E402

cases = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1), "reset": st.sampled_from(["subtract", "zero"]), "n_ref": st.integers(1, 4),
    "wb": st.sampled_from([2, 8, 9, 16]), "e": st.integers(0, 3), "mb": st.sampled_from([12, 16, 24, 32]),
    "cb": st.sampled_from([10, 16, 24]), "dv": st.sampled_from([0, 1, 300, 4095]), "vth": st.sampled_from([1, 50, 1000]),
    "bias_max": st.sampled_from([0, 200]), "p_in": st.sampled_from([0.2, 0.7]), "T": st.integers(1, 25),
    "B": st.integers(1, 3), "mode": st.sampled_from(["lava", "saturate", "wrap"]),
})


def _run(c, x, force_general: bool):
    with pytest.MonkeyPatch.context() as mp:
        if force_general:
            mp.setattr(ff, "lif_case", lambda *a: False)
        return native.run(c, x, record=("spikes", "outputs", "v"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=cases)
def test_general_loop_equals_lif_loop_on_the_lif_case(k):
    rng = np.random.default_rng(k["seed"])
    c = random_compiled(rng, kind="lif", reset=k["reset"], n_ref=k["n_ref"], wb=k["wb"], e_in=k["e"], e_rec=k["e"],
                        mb=k["mb"], cb=k["cb"], dv=k["dv"], du=4095, vth=k["vth"], bias_max=k["bias_max"])
    c.profile.format.overflow = k["mode"]
    x = (rng.random((k["B"], k["T"], c.n_in)) < k["p_in"]).astype(np.uint8)
    fm = native.chip_format(c)
    assert ff.lif_case(True, c.du, c.da, c.a_inc, 12, fm["mem_bits"], c.vth, fm["S"], c.n_ref)   # the case under test
    a = _run(c, x, False)
    b = _run(c, x, True)
    for f in ("spikes", "v", "out_int"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.counts.to_dict() == b.counts.to_dict()


@pytest.mark.parametrize("merged,du,da,a_inc,expect", [
    (True, 4095, 0, 0, True), (False, 4095, 0, 0, False), (True, 4094, 0, 0, False), (True, 4095, 1, 0, False),
    (True, 4095, 0, 1, False), (np.True_, np.int64(4095), np.int32(0), np.int64(0), True)])
def test_lif_case_conditions(merged, du, da, a_inc, expect):
    assert ff.lif_case(merged, du, da, a_inc, 12, 24, 1000, 6, 1) is expect


@pytest.mark.parametrize("mem_bits,vth,S,n_ref,D,expect", [
    (24, 1000, 6, 1, 12, True), (32, 1000, 6, 1, 12, True), (33, 1000, 6, 1, 12, False),     # v in int32
    (24, (1 << 25) - 1, 6, 1, 12, True), (24, 1 << 25, 6, 1, 12, False),                     # vth << S in int32
    (24, -(1 << 25), 6, 1, 12, False),
    (24, 1000, 6, (1 << 30) - 1, 12, True), (24, 1000, 6, 1 << 30, 12, False),               # r up to 2 n_ref
    (24, 1000, 6, 1, 30, True), (24, 1000, 6, 1, 31, False)])                                # 2^D - dv in int32
def test_lif_case_needs_a_format_that_fits_the_int32_state(mem_bits, vth, S, n_ref, D, expect):
    """`_lif_loop` keeps v, r, z and its scratch row in int32: a format whose values may not fit must take the
    general (int64) loop."""
    du = (1 << D) - 1
    assert ff.lif_case(True, du, 0, 0, D, mem_bits, vth, S, n_ref) is expect


def test_an_alif_network_never_compiles_the_lif_path():
    """The point of the split: running an ALIF network compiles (or loads) the general copy only (its compile
    time on a cold cache drops by ~2/3). In a fresh interpreter, so no other test's run counts."""
    code = ("import sys, numpy as np; sys.path.insert(0, %r); from knets import random_compiled; "
            "from neurochip.backends import native; from neurochip.kernels import fixed_forward as ff; "
            "rng = np.random.default_rng(0); c = random_compiled(rng, kind='alif'); c.profile.format.overflow = 'lava'; "
            "native.run(c, (rng.random((1, 5, c.n_in)) < 0.5).astype(np.uint8)); "
            "from neurochip.kernels.fixed_ops import OVERFLOW_MODES as M; k = ff._KERNELS[M[c.profile.format.overflow]]; "
            "print(len(k[False].signatures), len(k[True].signatures))") % str(Path(__file__).resolve().parent)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "0"]
