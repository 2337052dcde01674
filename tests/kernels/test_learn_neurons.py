"""kernels.learn_neurons: the learning kernel's vectorised neuron step (one compiled copy per overflow mode,
branch-free register limits) equals the scalar step it replaced, neuron by neuron: `neuron_ops.neuron_core`
with its branchy register forms (sel=False), called from Python, and psi = dist >> psi_shift (or psi_const)
written out here. Every mode, with state and inputs reaching past the registers' limits."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from neurochip.kernels.neuron_ops import neuron_core
from neurochip.kernels.fixed_ops import OVF_LAVA, OVF_SATURATE, OVF_WRAP
from neurochip.kernels.learn_neurons import NEURONS


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), mode=st.sampled_from([OVF_LAVA, OVF_SATURATE, OVF_WRAP]),
       n=st.integers(1, 40), has_u=st.booleans(), adaptive=st.booleans(), subtract=st.booleans(),
       n_ref=st.integers(1, 3), e_in=st.integers(-3, 3), e_rec=st.integers(-3, 3), cb=st.sampled_from([12, 16, 24]),
       mb=st.sampled_from([12, 16, 24]), psi_const=st.sampled_from([0, 0, 5]), psi_shift=st.integers(0, 12))
def test_vectorised_step_equals_the_scalar_step(seed, mode, n, has_u, adaptive, subtract, n_ref, e_in, e_rec, cb,
                                                 mb, psi_const, psi_shift):
    rng = np.random.default_rng(seed)
    D, S = 12, 6
    half_c = 1 << (cb - 1)
    vmax = (1 << (mb - 1)) - 1
    vth_eff = int(rng.integers(1, vmax // 4))
    du = (1 << D) - 1 if not has_u else int(rng.integers(1, 4096))
    dv, da = int(rng.integers(0, 4096)), int(rng.integers(0, 4096)) if adaptive else 0
    a_inc = int(rng.integers(1, 1 << 10)) if adaptive else 0
    beta_shift = 8
    big = 1 << (max(cb, mb) - S + 2)                   # sums whose shifted value passes the registers' limits
    acc_in = rng.integers(-big, big, n).astype(np.int64)
    acc_rc = rng.integers(-big, big, n).astype(np.int64)
    u = rng.integers(-half_c, half_c, n).astype(np.int64)
    v = rng.integers(-vmax, vmax + 1, n).astype(np.int64)
    a = (rng.integers(0, 1 << 12, n) if adaptive else np.zeros(n)).astype(np.int64)
    r = rng.integers(0, n_ref + 1, n).astype(np.int64)
    zp = rng.integers(0, 2, n).astype(np.int64)
    bias = rng.integers(-(1 << 8), 1 << 8, n).astype(np.int64)
    beta = (rng.integers(0, 1 << 10, n) if adaptive else np.zeros(n)).astype(np.int64)
    want = {k: np.zeros(n, np.int64) for k in ("u", "v", "a", "r", "z", "psi")}
    ev_u = ev_v = 0
    for j in range(n):
        cur = (int(acc_in[j]) << e_in if e_in >= 0 else int(acc_in[j]) >> -e_in) + \
              (int(acc_rc[j]) << e_rec if e_rec >= 0 else int(acc_rc[j]) >> -e_rec)
        z, su, sv, dist, uj, vj, aj, rj = neuron_core(cur, int(u[j]), int(v[j]), int(a[j]), int(r[j]), int(zp[j]),
                                                      int(bias[j]), int(beta[j]), beta_shift, a_inc, du, dv, da, D, S,
                                                      vth_eff, n_ref, subtract, half_c, vmax, has_u, adaptive, mode)
        for k, val in zip(("u", "v", "a", "r", "z"), (uj, vj, aj, rj, z)):
            want[k][j] = val
        want["psi"][j] = psi_const if psi_const > 0 else dist >> psi_shift
        ev_u += su
        ev_v += sv
    z = np.zeros(n, np.int64)
    psi = np.zeros(n, np.int64)
    got_u, got_v = NEURONS[mode](acc_in, acc_rc, e_in, e_rec, u, v, a, r, zp, z, psi, bias, beta, beta_shift, a_inc,
                                 du, dv, da, D, S, vth_eff, n_ref, subtract, half_c, vmax, has_u, adaptive, psi_const,
                                 psi_shift)
    for k, arr in (("u", u), ("v", v), ("a", a), ("r", r), ("z", z), ("psi", psi)):
        np.testing.assert_array_equal(arr, want[k], err_msg=k)
    assert (got_u, got_v) == (ev_u, ev_v)
