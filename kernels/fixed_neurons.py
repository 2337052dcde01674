"""The fixed-point inference kernel's neuron loops (one step of every recurrent neuron, docs/fixed_point.md
"Recurrent neuron"), as templates that `_specialise` compiles once per combination of literals: `_lif_loop` for
the standard LIF case (int32 state), `_general_loop` for every other network (int64). ``kernels.fixed_forward``
builds its trial and batch loops around them; ``kernels.learn_neurons`` uses `_specialise` for its own loops.
"""
from __future__ import annotations

import types

import numpy as np
from numba import njit, uint64

from .fixed_ops import OVF_LAVA, floor_shift, trunc_decay_by
from .neuron_ops import neuron_core
from .spike_list import spike_pass, spike_words

# --------------------------------------------------------------------------------------------------
# The neuron loops, one compiled copy per combination of literals. A flag that is a run-time value keeps
# its branch in the loop; the overflow mode's branch holds the register-limit code, which stops LLVM from
# vectorising the loop (1.7x slower LIF steps). So each loop below is a template: plain Python reading
# the literals _SUBTRACT / _HAS_BIAS / _MODE as globals, and `_specialise` compiles one copy per value
# (Numba freezes globals as constants; each copy has its own name, so Numba caches it in its own file).
# One loop per compiled function: inlining all copies into one function (inline="always") made Numba's
# IR inliner take ~7x the compile time, and a closure over the literals cannot call inlined functions.
# --------------------------------------------------------------------------------------------------
_SUBTRACT, _HAS_BIAS, _MODE, _LIF_PATH = True, True, OVF_LAVA, True   # the templates' literals (each copy has its own)


def _specialise(template, name: str, nogil: bool = False, **literals):
    """An @njit copy of ``template`` named ``name`` whose globals ``literals`` are compile-time constants."""
    g = dict(template.__globals__)
    g.update(literals)
    f = types.FunctionType(template.__code__, g, name, template.__defaults__)
    f.__qualname__ = name
    f.__doc__ = f"`{template.__name__}` with {literals} (see `_specialise`)."
    return njit(cache=True, nogil=nogil)(f)


def _general_loop(b, t, k_in, merged, acc_a, acc_b, e_in, e_rec, got, u, v, a, r, zp, spk, bias, beta_mant,
                  beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref, subtract, half_c, vmax, has_u, adaptive,
                  record_v, z_out, v_out):
    """Template (literal: _MODE). Every recurrent neuron, one step: reads and clears its accumulators (and its
    activity mark when no input spiked), updates the state, writes z^t into zp, z_out and the spike list
    ``spk``. Returns (spikes, current-register events, membrane-register events, active neurons among those
    without input)."""
    n_rec = u.shape[0]
    ev_u = 0
    ev_v = 0
    for j in range(n_rec):                            # pass 1: state update (no z-dependent stores)
        if merged:                                    # one sum, exponent m: acc_a << m
            cur = np.int64(acc_a[j]) << e_in
        else:
            cur = floor_shift(np.int64(acc_a[j]), e_in) + floor_shift(np.int64(acc_b[j]), e_rec)
            acc_b[j] = 0
        acc_a[j] = 0
        zj, su, sv, _d, uj, vj, aj, rj = neuron_core(cur, u[j], v[j], a[j], r[j], zp[j], bias[j], beta_mant[j],
                                                     beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref, subtract,
                                                     half_c, vmax, has_u, adaptive, _MODE, True)
        u[j] = uj
        v[j] = vj
        a[j] = aj
        r[j] = rj
        zp[j] = zj
        ev_u += su
        ev_v += sv
        if record_v:
            v_out[b, t, j] = vj
    n, act = spike_pass(zp, got, k_in, spk, z_out[b, t])      # pass 2: spike list, activity marks
    return n, ev_u, ev_v, act


def _lif_loop(z_row, v_row, k_in, acc, e, got, v, r, zp, zw, spk, bias, dv, D, S, vth_eff, n_ref, half_c, vmax):
    """Template (literals: _SUBTRACT, _HAS_BIAS, _MODE). `_general_loop` for the standard case: LIF (no
    current memory, no adaptation), merged accumulator (input ``acc[j] << e``); z^t into the row ``z_row``
    (written whole), the spikes as bytes in ``zp`` (uint8, padded to a multiple of 8) and read through ``zw``,
    its uint64 view (`spike_list.spike_words`).
    The state v, r and the scratch row ``v_row`` are int32 [n_rec] (`lif_case` admits only formats whose
    v, threshold, refractory count and decay factor fit 32 bits): 16 lanes per vector where the int64 state
    had 8, and half the bytes per neuron (measured in the kernel, N = 1024, p = 0.1: 2.32 -> 2.21 ms a trial
    with the state alone in int32; pass 1b standalone 0.28 -> 0.16 ns per neuron with int32 arithmetic too).
    The loop carries no flag and no branch at the register limits.

    Fast path (bit-identical): the register limits are almost never reached, and their selects and event
    counts cost about as much as the rest of the update (0.93 against 0.49 ns per neuron, measured). So pass
    1a computes u and v without them (int64) into v_row, flagging any neuron whose u or v leaves its register's
    range; when none does (u, v in range: `reg_current_sel` / `reg_membrane_sel` return them unchanged, no
    event, and every v fits v_row's 32 bits), pass 1b finishes the step from v_row. Else the step runs the full
    loop below from the untouched state (v_row's truncated values are not read)."""
    n_rec = v.shape[0]
    out = uint64(0)
    # trunc_decay(v, dv, D) with its factor 2^D - dv narrowed to int32 (exact: lif_case): both factors are
    # sign-extended 32-bit values, so LLVM multiplies with vpmuldq (32 x 32 -> 64) instead of vpmullq
    mul = np.int64(np.int32((1 << D) - dv))
    for j in range(n_rec):                            # pass 1a: u, v before the register limits (vectorised)
        uj = (np.int64(acc[j]) << e) << S             # this step's input, MSB-aligned (neuron_core, has_u False)
        vj = trunc_decay_by(np.int64(v[j]), mul, D) + uj + (bias[j] if _HAS_BIAS else 0)
        if _SUBTRACT:
            vj -= vth_eff if zp[j] != 0 else 0        # reset by subtraction of z^{t-1}
        # outside [-(half_c - 1), half_c - 1] / [-vmax, vmax] (the exact tests of the register functions)
        out |= uint64(uint64(uj + (half_c - 1)) > uint64(2 * half_c - 2))
        out |= uint64(uint64(vj + vmax) > uint64(2 * vmax))
        v_row[j] = vj
    if out == 0:
        th = np.int32(vth_eff)                        # int32 arithmetic below (lif_case: every value fits)
        nr = np.int32(n_ref)
        one = np.int32(1)
        zero = np.int32(0)
        for j in range(n_rec):                        # pass 1b: threshold, refractory, reset (vectorised)
            acc[j] = 0
            vj = v_row[j]
            r0 = r[j]
            zj = one if (vj > th and r0 <= zero) else zero               # strict >, as lava; not while refractory
            rj = np.int32(r0 + nr * zj - one)
            rj = zero if rj < zero else (nr if rj > nr else rj)
            if not _SUBTRACT:
                vj = zero if zj == one else vj        # hard reset, same step
            v[j] = vj
            r[j] = rj
            zp[j] = zj
        n, act = spike_words(zp, zw, got, k_in, spk, z_row)  # pass 2: spike list, activity marks, z row
        return n, 0, 0, act
    ev_u = 0
    ev_v = 0
    for j in range(n_rec):                            # pass 1: no stores that depend on z (vectorisable)
        cur = np.int64(acc[j]) << e
        acc[j] = 0
        zj, su, sv, _d, _u, vj, _a, rj = neuron_core(cur, 0, v[j], 0, r[j], zp[j], bias[j] if _HAS_BIAS else 0, 0, 0,
                                                     0, 0, dv, 0, D, S, vth_eff, n_ref, _SUBTRACT, half_c, vmax, False,
                                                     False, _MODE, True)
        v[j] = vj
        r[j] = rj
        zp[j] = zj
        ev_u += su
        ev_v += sv
    n, act = spike_words(zp, zw, got, k_in, spk, z_row)      # pass 2: spike list, activity marks, z row
    return n, ev_u, ev_v, act
