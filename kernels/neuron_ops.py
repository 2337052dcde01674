"""The fixed-point neuron and readout steps of docs/fixed_point.md ("Recurrent neuron", "Readout neuron"),
one neuron or readout at a time on scalars, and the columns of the per-trial count row they add their overflow
events to. Shared by the inference kernel (``kernels.fixed_forward``) and the learning kernels
(``kernels.learn_neurons``), so that both run one definition of the neuron.
"""
from __future__ import annotations

from numba import njit

from .fixed_ops import floor_shift, reg_current, reg_current_sel, reg_membrane, reg_membrane_sel, trunc_decay

# columns of the per-trial count array. C_SATURATIONS is the total of the overflow events; the events per
# register kind sit in C_OVF_* (columns 7-15 are the learning kernel's own, `kernels.eprop_fixed`, so one
# 1-D row serves both kernels and `neuron_step` / `readout_step` add to it directly).
C_SPIKES, C_INPUT_SPIKES, C_SYN_OPS, C_PACKETS, C_HOPS, C_SATURATIONS, C_ACTIVE = range(7)
C_OVF_CURRENT, C_OVF_MEMBRANE, C_OVF_READOUT = 16, 17, 18
N_COUNTS = 19


@njit(cache=True, inline="always")
def readout_step(y, acc_out, dk, D, e_out, S, vmax, y_row, mode=0, half_c=1 << 23, cnt=None):
    """Leaky readout, one step (docs/fixed_point.md "Readout neuron"), for every output; writes y and
    y_row [n_out]; adds the overflow events to cnt[C_OVF_READOUT] (cnt: a count row of at least N_COUNTS
    columns, or None) and returns them. Defaults: lava's semantics and 24-bit registers.

    lava (``mode`` OVF_LAVA): the readout is lava's LIF with du = 4095, so its u register holds this
    step's input alone: u = wrap(a_out << S) (int32, then lava's single wrap at the current width), then
    y = sat(int32(trunc0 decay(y) + u)). saturate / wrap: y = reg(trunc0 decay(y) + (a_out << S))."""
    ev = 0
    for k in range(y.shape[0]):
        ik = floor_shift(acc_out[k], e_out) << S                          # input MSB-aligned by S bits
        if mode == 0:                                                     # OVF_LAVA: the readout's u register
            ik, e1 = reg_current(ik, mode, half_c)
            ev += e1
        yk, e2 = reg_membrane(trunc_decay(y[k], dk, D) + ik, mode, vmax)
        ev += e2
        y[k] = yk
        y_row[k] = yk
    if cnt is not None:
        cnt[C_OVF_READOUT] += ev
    return ev


@njit(cache=True, inline="always")
def neuron_core(cur, u0, v0, a0, r0, zpj, bias_j, beta_j, beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref,
                subtract, half_c, vmax, has_u, adaptive, mode, sel=False):
    """`neuron_step` on scalars: the summed synaptic input ``cur`` (exponents applied, exact int64),
    neuron j's state (u0, v0, a0, r0), z_j^{t-1}, its bias and beta; ``mode`` the profile's overflow
    semantics (`fixed_ops.OVF_*`). Returns (z, ev_u, ev_v, dist, u, v, a, r): ev_u / ev_v = 1 when
    the current / membrane register wrapped or saturated this step. Scalars only, so a loop calling it
    carries no array reference counting; the sign-dependent roundings are selects and each register's
    rare limit case sits behind one unsigned range test (`fixed_ops.reg_current` / `reg_membrane`).
    ``sel`` (a literal): ``mode`` is a literal too, use the branch-free register forms
    (`fixed_ops.reg_current_sel` / `reg_membrane_sel`, same results) so a loop over neurons vectorises."""
    uj = cur << S                                                         # input MSB-aligned by S bits
    if has_u:                                                             # du = 2^D - 1: no current memory
        uj += trunc_decay(u0, du + 1, D)
    if sel:
        uj, ev_u = reg_current_sel(uj, mode, half_c)
    else:
        uj, ev_u = reg_current(uj, mode, half_c)
    vj = trunc_decay(v0, dv, D) + uj + bias_j
    if subtract:
        vj -= vth_eff if zpj != 0 else 0                                  # reset by subtraction of z^{t-1}
    if sel:
        vj, ev_v = reg_membrane_sel(vj, mode, vmax)
    else:
        vj, ev_v = reg_membrane(vj, mode, vmax)
    thr = vth_eff
    aj = 0
    if adaptive:                                                          # LIF: a stays 0, A = vth_eff
        aj = trunc_decay(a0, da, D) + a_inc * zpj                         # adaptation, a >= 0 (int64, bounded)
        thr += (beta_j * aj) >> beta_shift
    refr = r0 > 0
    z = 1 if (vj > thr and not refr) else 0                               # strict >, as lava
    dd = vj - thr
    dist = vth_eff - (dd if dd >= 0 else -dd)
    dist = 0 if (refr or dist < 0) else dist
    rj = r0 + n_ref * z - 1
    rj = 0 if rj < 0 else (n_ref if rj > n_ref else rj)
    if not subtract:
        vj = 0 if z == 1 else vj                                          # hard reset, same step
    return z, ev_u, ev_v, dist, uj, vj, aj, rj


@njit(cache=True, inline="always")
def neuron_step(j, acc_in, acc_rec, e_in, e_rec, u, v, a, r, zp, bias, beta_mant, beta_shift, a_inc,
                du, dv, da, D, S, vth_eff, n_ref, subtract, half_c, vmax, has_u, adaptive, mode=0, cnt=None):
    """One recurrent neuron j, one step (docs/fixed_point.md "Recurrent neuron"); updates u, v, a, r
    in place, adds its overflow events to cnt[C_OVF_CURRENT] / cnt[C_OVF_MEMBRANE] (cnt: a count row of
    at least N_COUNTS columns, or None)
    and returns (z, events, dist) with dist = max(0, vth_eff - |v - A|) before any reset (0 while
    refractory: the integer pseudo-derivative before its shift). acc_* are this step's raw mantissa
    sums (int64); ``mode``: the profile's overflow semantics (`fixed_ops.OVF_*`)."""
    cur = floor_shift(acc_in[j], e_in) + floor_shift(acc_rec[j], e_rec)   # exponent on each sum (Dense)
    z, ev_u, ev_v, dist, uj, vj, aj, rj = neuron_core(cur, u[j] if has_u else 0, v[j], a[j] if adaptive else 0,
                                                      r[j], zp[j], bias[j], beta_mant[j] if adaptive else 0,
                                                      beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref, subtract,
                                                      half_c, vmax, has_u, adaptive, mode)
    u[j] = uj
    v[j] = vj
    if adaptive:
        a[j] = aj
    r[j] = rj
    if cnt is not None and ev_u + ev_v != 0:
        cnt[C_OVF_CURRENT] += ev_u
        cnt[C_OVF_MEMBRANE] += ev_v
    return z, ev_u + ev_v, dist
