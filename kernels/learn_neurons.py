"""The recurrent neurons' step of on-chip learning (``kernels.learn_trial``), one compiled copy per overflow mode.

The step is the inference one (``kernels.neuron_ops.neuron_core``, docs/fixed_point.md "Recurrent neuron")
plus the pseudo-derivative code psi_j the eligibility needs. The overflow mode is a compile-time literal in
each copy: with it, the registers' limit cases are selects (``sel=True``) and the loop over neurons has no
branch, so LLVM vectorises it. With the mode as a run-time value the loop ran neuron by neuron, branch by
branch: the learning trial's forward pass took ~3x the inference kernel's time on the evidence network
(4.1 vs 1.3 ms per trial, measured, issue 11). The same copies-per-literal scheme as
``kernels.fixed_neurons`` (`_specialise`): the copies are small, and a run compiles only the copy of its
profile's mode.
"""
from __future__ import annotations

from .fixed_neurons import _specialise
from .neuron_ops import neuron_core
from .fixed_ops import OVF_LAVA, OVF_SATURATE, OVF_WRAP, floor_shift

_MODE = OVF_LAVA                                   # the template's literal (each copy has its own)


def _neurons(acc_in, acc_rc, e_in, e_rec, u, v, a, r, zp, z, psi, bias, beta_mant, beta_shift, a_inc, du, dv, da,
             D, S, vth_eff, n_ref, subtract, half_c, vmax, has_u, adaptive, psi_const, psi_shift):
    """Template (literal: _MODE). Every recurrent neuron j, one step: cur = floor_shift(acc_in_j, e_in) +
    floor_shift(acc_rc_j, e_rec) (the raw int64 mantissa sums, not cleared here), the state (u, v, a, r)
    updated in place from z^{t-1} = zp, z^t into z, and psi_j = psi_const if psi_const > 0, else
    dist_j >> psi_shift (dist_j = max(0, vth_eff - |v - A|) >= 0: the floor is the trace format's truncation).
    Arrays int64 [n_rec]. Returns (current-register events, membrane-register events): the wraps or
    saturations this step."""
    ev_u = 0
    ev_v = 0
    for j in range(u.shape[0]):
        cur = floor_shift(acc_in[j], e_in) + floor_shift(acc_rc[j], e_rec)      # exponent on each sum (Dense)
        zj, su, sv, dist, uj, vj, aj, rj = neuron_core(cur, u[j], v[j], a[j], r[j], zp[j], bias[j], beta_mant[j],
                                                       beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref,
                                                       subtract, half_c, vmax, has_u, adaptive, _MODE, True)
        u[j] = uj
        v[j] = vj
        a[j] = aj
        r[j] = rj
        z[j] = zj
        psi[j] = psi_const if psi_const > 0 else dist >> psi_shift
        ev_u += su
        ev_v += sv
    return ev_u, ev_v


NEURONS = {m: _specialise(_neurons, f"_neurons_m{m}", _MODE=m) for m in (OVF_LAVA, OVF_SATURATE, OVF_WRAP)}
NEURONS_LAVA, NEURONS_SATURATE, NEURONS_WRAP = NEURONS[OVF_LAVA], NEURONS[OVF_SATURATE], NEURONS[OVF_WRAP]
