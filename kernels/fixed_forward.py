"""Fixed-point inference: LIF/ALIF recurrent layer + leaky readout, event driven, exactly as
docs/fixed_point.md (int64 arithmetic in registers; stored widths from the chip profile).

Propagation is by presynaptic neuron over CSR tables built once per run (``kernels.csr``, recoded by
``backends.native.fixed_tables``): a step costs (input spikes + recurrent spikes) x fan-out, driven by
the previous step's spike list, plus one pass over the neurons. Every trial of the batch is
independent (the backend runs slices of the batch on threads; the kernel releases the GIL); counts
are written per trial into ``cnt[b, :]`` (columns ``C_*``) and per-core arrays, and summed by the
backend into `EventCounts`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from .fixed_ops import OVF_LAVA, OVF_SATURATE, OVF_WRAP
from .fixed_neurons import _general_loop, _lif_loop, _specialise
from .neuron_ops import (C_ACTIVE, C_HOPS, C_INPUT_SPIKES, C_OVF_CURRENT, C_OVF_MEMBRANE, C_OVF_READOUT,  # noqa: F401
                         C_PACKETS, C_SATURATIONS, C_SPIKES, C_SYN_OPS, N_COUNTS, readout_step)

_MODE, _LIF_PATH = OVF_LAVA, True      # the trial template's literals (each copy has its own, see _specialise)


@njit(cache=True, inline="always")
def add_run(acc, w, p0, n, m):
    """acc[post] += w[p0 + k], k < n, for a row of shape m >= -1 (`kernels.csr.row_gaps`): position k is post k
    (m = -1, a full row) or post k + [k >= m] (every post but m: a recurrent row without its self-synapse).
    Two contiguous runs and no target index read, so LLVM vectorises both (int32 accumulators: 16 lanes),
    where an indexed row adds event by event. The same additions as the indexed loop, in the same order per
    target (one per synapse), so the sums are bit-identical."""
    m0 = n if m < 0 else m
    for k in range(m0):                               # unsigned indices: no wrap-around test, vectorises
        acc[uint64(k)] += w[uint64(p0 + k)]
    for k in range(m0, n):                            # positions m.. reach posts m + 1..
        acc[uint64(k + 1)] += w[uint64(p0 + k)]


@njit(cache=True, inline="always")
def mark_run(got, n, m):
    """got[post] = 1 for every post of a row of shape m >= -1 (as `add_run`): the activity marks of a spike."""
    m0 = n if m < 0 else m
    for k in range(m0):
        got[uint64(k)] = 1
    for k in range(m0, n):
        got[uint64(k + 1)] = 1


def _trial(b, x, in_ptr, in_idx, in_w, in_gap, rec_ptr, rec_idx, rec_w, rec_gap, rec_pk, w_out_t, merged, acc_proto,
           e_in, e_rec, e_out, du, dv, da, dk, D, S, vth, bias, beta_mant, beta_shift, a_inc,
           n_ref, subtract, cur_bits, mem_bits,
           core_of, dest_ptr, dest_core, dest_syn, dest_hops, in_core_syn, n_cores,
           record_v, z_out, y_out, v_out, cnt, core_syn, c2c):
    """Template (literals: _MODE, _LIF_PATH and this mode's copies _LIF_SB, _LIF_S, _LIF_B, _LIF_Z, _GENERAL). Trial ``b`` of
    `forward_fixed` (arguments as there). _LIF_PATH (True only for the standard LIF case, see `lif_case`) is a
    compile-time constant: Numba prunes the branch not taken before typing, so a copy compiles one neuron
    path only (the LIF path alone costs ~2/3 of a general copy's compile time)."""
    T, n_in = x.shape[1], x.shape[2]
    n_rec = rec_ptr.shape[0] - 1
    n_out = w_out_t.shape[1]
    packed = rec_pk.shape[0] == rec_idx.shape[0]     # the indexed rows read rec_pk (one stream, not two)
    vth_eff = np.int64(vth) << S                      # threshold MSB-aligned with v
    half_c = np.int64(1) << (cur_bits - 1)
    vmax = (np.int64(1) << (mem_bits - 1)) - 1
    has_u = du + 1 != (1 << D)
    adaptive = a_inc != 0 or da != 0
    v32 = np.zeros(n_rec, np.int32)                  # the LIF path's state (int32, see `_lif_loop`)
    r32 = np.zeros(n_rec, np.int32)
    zp8 = np.zeros((n_rec + 7) // 8 * 8, np.uint8)  # its spikes, as bytes (pad bytes stay 0)
    zw = zp8.view(np.uint64)                          # ... read 8 at a time by spike_words
    v_scr = np.zeros(n_rec, np.int32)                 # its scratch row
    has_bias = False
    for j in range(n_rec):
        if bias[j] != 0:
            has_bias = True
    u = np.zeros(n_rec, np.int64)
    v = np.zeros(n_rec, np.int64)
    a = np.zeros(n_rec, np.int64)
    r = np.zeros(n_rec, np.int64)
    zp = np.zeros(n_rec, np.int64)                    # z^{t-1}, overwritten with z^t neuron by neuron
    acc_a = np.zeros(n_rec, acc_proto.dtype)          # input sums (all sums when merged)
    acc_b = np.zeros(n_rec, acc_proto.dtype)          # recurrent sums (unused when merged)
    acc_r = acc_a if merged else acc_b
    got = np.zeros(n_rec, np.uint8)                   # reached by a recurrent spike (steps without input)
    spk = np.zeros(n_rec, np.int32)                   # spike list of the last step, ascending
    n_sp = 0
    acc_out = np.zeros(n_out, np.int64)
    y = np.zeros(n_out, np.int64)
    nspk = np.zeros(n_rec, np.int64)
    if not _LIF_PATH:                                 # the LIF path writes every row whole (spike_words)
        z_out[b] = 0
    n_spk = 0
    n_inspk = 0
    syn = 0
    pk = 0
    hp = 0
    ev_u = 0
    ev_v = 0
    act = 0
    crow = cnt[b]
    crow[C_OVF_READOUT] = 0
    for t in range(T):
        k_in = 0
        for i in range(n_in):                         # input spikes x^t
            if x[b, t, i] != 0:
                k_in += 1
                p0 = in_ptr[i]
                n = in_ptr[i + 1] - p0
                if in_gap[i] >= -1:                   # a row to every post (but one): contiguous, vectorised
                    add_run(acc_a, in_w, p0, n, in_gap[i])
                else:
                    for q in range(p0, p0 + n):       # indexed, not sliced: a slice is an array view whose
                        acc_a[uint64(in_idx[uint64(q)])] += in_w[uint64(q)]   # reference count costs atomics
                syn += n
        n_inspk += k_in
        for s_ in range(n_sp):                        # recurrent spikes z^{t-1}
            i = spk[s_]
            p0 = rec_ptr[i]
            if rec_gap[i] >= -1:                      # every post (but one, itself at p = 1): vectorised
                add_run(acc_r, rec_w, p0, rec_ptr[i + 1] - p0, rec_gap[i])
                if k_in == 0:
                    mark_run(got, rec_ptr[i + 1] - p0, rec_gap[i])
                continue
            # indexed from the row pointer, not through slices of rec_idx / rec_w: two views a spike cost their
            # reference counts' atomic operations (N = 256, p = 0.1: 0.48 -> 0.43 ms a trial, measured)
            p1 = rec_ptr[i + 1]
            if packed:                                # target and weight in one int32 (see _forward)
                if k_in == 0:
                    for q in range(p0, p1):
                        sw = rec_pk[uint64(q)]
                        acc_r[uint64(sw & 0xFFFF)] += sw >> 16
                        got[uint64(sw & 0xFFFF)] = 1
                else:
                    for q in range(p0, p1):
                        sw = rec_pk[uint64(q)]
                        acc_r[uint64(sw & 0xFFFF)] += sw >> 16      # arithmetic shift: the signed weight
                continue
            if k_in == 0:                             # activity marks matter only without input
                for q in range(p0, p1):
                    acc_r[uint64(rec_idx[uint64(q)])] += rec_w[uint64(q)]
                    got[uint64(rec_idx[uint64(q)])] = 1
            else:
                for q in range(p0, p1):
                    acc_r[uint64(rec_idx[uint64(q)])] += rec_w[uint64(q)]
        if _LIF_PATH:                                 # the standard LIF case, constants folded
            # the copy for this reset and bias, called directly: a dispatching function between them built a
            # tuple of the arrays every step (reference counts again; N = 256: 0.52 -> 0.48 ms a trial). Four
            # call sites, not one through a variable: each compiled copy is its own Numba type
            z_row = z_out[b, t]
            if subtract:
                if has_bias:
                    n_sp, su, sv, ac = _LIF_SB(z_row, v_scr, k_in, acc_a, e_in, got, v32, r32, zp8, zw, spk,  # noqa: F821
                                               bias, dv, D, S, vth_eff, n_ref, half_c, vmax)
                else:
                    n_sp, su, sv, ac = _LIF_S(z_row, v_scr, k_in, acc_a, e_in, got, v32, r32, zp8, zw, spk,  # noqa: F821
                                              bias, dv, D, S, vth_eff, n_ref, half_c, vmax)
            elif has_bias:
                n_sp, su, sv, ac = _LIF_B(z_row, v_scr, k_in, acc_a, e_in, got, v32, r32, zp8, zw, spk,  # noqa: F821
                                          bias, dv, D, S, vth_eff, n_ref, half_c, vmax)
            else:
                n_sp, su, sv, ac = _LIF_Z(z_row, v_scr, k_in, acc_a, e_in, got, v32, r32, zp8, zw, spk,  # noqa: F821
                                          bias, dv, D, S, vth_eff, n_ref, half_c, vmax)
            if record_v:
                for j in range(n_rec):
                    v_out[b, t, j] = v32[j]
        else:
            n_sp, su, sv, ac = _GENERAL(b, t, k_in, merged, acc_a, acc_b, e_in, e_rec, got, u, v, a, r, zp, spk, bias,
                                        beta_mant, beta_shift, a_inc, du, dv, da, D, S, vth_eff, n_ref, subtract,
                                        half_c, vmax, has_u, adaptive, record_v, z_out, v_out)
        ev_u += su
        ev_v += sv
        act += n_rec if k_in > 0 else ac
        # readout: z^t reaches the leaky readout the same step
        acc_out[:] = 0
        for s_ in range(n_sp):
            i = spk[s_]
            for k in range(n_out):
                acc_out[k] += w_out_t[i, k]
            nspk[i] += 1                              # syn ops and routing counts from per-neuron totals
        n_spk += n_sp
        if n_sp > 0:
            act += n_out
        readout_step(y, acc_out, dk, D, e_out, S, vmax, y_out[b, t], _MODE, half_c, crow)   # -> crow[C_OVF_READOUT]
    # Per-spike counts are linear in each neuron's spike count: fan-out + readout synapses per spike, one
    # packet per spike per destination core (multicast by core), summed once per trial.
    for c in range(n_cores):
        core_syn[b, c] += n_inspk * in_core_syn[c]
    for i in range(n_rec):
        ni = nspk[i]
        if ni > 0:
            syn += ni * (rec_ptr[i + 1] - rec_ptr[i] + n_out)
            src = core_of[i]
            for q in range(dest_ptr[i], dest_ptr[i + 1]):
                c = dest_core[q]
                c2c[b, src, c] += ni
                core_syn[b, c] += ni * dest_syn[q]
                hp += ni * dest_hops[q]
            pk += ni * (dest_ptr[i + 1] - dest_ptr[i])
    cnt[b, C_SPIKES] = n_spk
    cnt[b, C_INPUT_SPIKES] = n_inspk
    cnt[b, C_SYN_OPS] = syn
    cnt[b, C_PACKETS] = pk
    cnt[b, C_HOPS] = hp
    cnt[b, C_OVF_CURRENT] = ev_u
    cnt[b, C_OVF_MEMBRANE] = ev_v
    cnt[b, C_SATURATIONS] = ev_u + ev_v + cnt[b, C_OVF_READOUT]
    cnt[b, C_ACTIVE] = act


def _forward(x, in_ptr, in_idx, in_w, in_gap, rec_ptr, rec_idx, rec_w, rec_gap, rec_pk, w_out_t, merged, acc_proto,
             e_in, e_rec, e_out, du, dv, da, dk, D, S, vth, bias, beta_mant, beta_shift, a_inc,
             n_ref, subtract, cur_bits, mem_bits,
             core_of, dest_ptr, dest_core, dest_syn, dest_hops, in_core_syn, n_cores,
             record_v, z_out, y_out, v_out, cnt, core_syn, c2c):
    """Template (literals: this mode's _TRIAL; `forward_fixed` picks the copy for ``mode``). Simulate a
    batch in fixed point, trial after trial. The GIL is released: `backends.native.run_fixed`
    runs slices of the batch on several threads (one compiled kernel; a numba ``prange`` version cost
    as much compile time again for the same speed).

    x [B, T, n_in] uint8 (0/1); in_ptr/in_idx/in_w: CSR of W_in by input (pre) -> recurrent targets;
    rec_*: CSR of W_rec by presynaptic recurrent neuron (existing synapses only, ascending target);
    in_gap / rec_gap int64 [n_pre]: each row's shape (`kernels.csr.row_gaps`; rows to every post, or every post
    but one, go through `add_run`);
    rec_pk int32: rec_idx and rec_w packed, (w << 16) | idx, for every synapse when every target index fits 16 bits
    and every mantissa 16 signed bits (empty otherwise): an indexed row then reads one array, not two (N = 1024 /
    4096, p = 0.1: kernel 3.8 % / 4.4 % faster, measured); the full rows still go through rec_w;
    indices unsigned (uint16/uint32), mantissas int8/16/32/64; w_out_t [n_rec, n_out] readout mantissas
    by presynaptic neuron. ``merged`` (both exponents >= 0): in_w and rec_w are pre-shifted to the common
    exponent ``e_in`` = min(e_in, e_rec) and summed in one accumulator ((a << e1) + (b << e2) ==
    ((a << (e1 - m)) + (b << (e2 - m))) << m exactly); otherwise each sum gets its own floor shift.
    ``acc_proto``: an empty array of the accumulator dtype (int32 when every partial sum fits, see
    `backends.native.fixed_tables`). The summation order differs from docs/fixed_point.md's
    (inputs before recurrent spikes) only in ways integer addition cannot see (no partial sum overflows).
    ``mode``: the profile's overflow semantics (`fixed_ops.OVF_*`, docs/fixed_point.md "Registers").
    Routing: for recurrent neuron i, dest_ptr[i]..dest_ptr[i+1] list its destination cores (dest_core),
    the synapses it reaches there (dest_syn) and the hops (dest_hops); in_core_syn [n_cores]: recurrent
    neurons per core (synaptic ops one input spike causes on each core).
    Outputs (preallocated): z_out [B, T, n_rec] uint8 (zeroed here); y_out [B, T, n_out] int64 readout
    state; v_out [B, T, n_rec] int64 when record_v; cnt [B, N_COUNTS] (zeroed by the caller: the readout
    events are added to it); core_syn [B, n_cores];
    c2c [B, n_cores, n_cores] packets.
    """
    for b in range(x.shape[0]):
        _TRIAL(b, x, in_ptr, in_idx, in_w, in_gap, rec_ptr, rec_idx, rec_w, rec_gap, rec_pk, w_out_t, merged,  # noqa: F821
               acc_proto,
               e_in, e_rec, e_out, du, dv, da, dk, D, S, vth, bias, beta_mant, beta_shift, a_inc,
               n_ref, subtract, cur_bits, mem_bits, core_of, dest_ptr, dest_core, dest_syn, dest_hops, in_core_syn,
               n_cores, record_v, z_out, y_out, v_out, cnt, core_syn, c2c)


def _mode_kernel(mode: int) -> dict:
    """The kernel copies for overflow ``mode``, {lif_case: copy}: each has its own copies of the neuron
    loops, the trial and the batch loop, compiled on first use (a run of a lava profile never compiles the
    saturate / wrap copies, an ALIF network never the LIF path)."""
    lif = {f"_LIF_{k}": _specialise(_lif_loop, f"_lif_loop_{k.lower()}_m{mode}", _SUBTRACT=s, _HAS_BIAS=hb, _MODE=mode)
           for k, s, hb in (("SB", True, True), ("S", True, False), ("B", False, True), ("Z", False, False))}
    gen = _specialise(_general_loop, f"_general_loop_m{mode}", _MODE=mode)
    out = {}
    for path, tag in ((True, "lif"), (False, "general")):
        trial = _specialise(_trial, f"_trial_{tag}_m{mode}", _MODE=mode, _LIF_PATH=path, _GENERAL=gen, **lif)
        out[path] = _specialise(_forward, f"_forward_{tag}_m{mode}", nogil=True, _TRIAL=trial)
    return out


_KERNELS = {m: _mode_kernel(m) for m in (OVF_LAVA, OVF_SATURATE, OVF_WRAP)}


def lif_case(merged, du, da, a_inc, D, mem_bits, vth, S, n_ref) -> bool:
    """The standard LIF case that `_lif_loop` runs: one merged accumulator, no current memory (du = 2^D - 1,
    u = this step's input), no adaptation, and a format whose stored values fit `_lif_loop`'s int32 state: v
    (mem_bits <= 32), the threshold vth << S, the refractory count (up to 2 n_ref in pass 1b) and the decay
    factor 2^D - dv (D <= 30). Every other network runs `_general_loop` (int64), which computes the LIF case
    too, bit for bit (tests/kernels/test_fixed_forward_paths.py)."""
    fits32 = (int(mem_bits) <= 32 and abs(int(vth) << int(S)) < (1 << 31) and 0 <= int(n_ref) < (1 << 30)
              and int(D) <= 30)
    return (bool(merged) and int(du) + 1 == (1 << int(D)) and int(a_inc) == 0 and int(da) == 0) and fits32


def forward_fixed(x, in_ptr, in_idx, in_w, in_gap, rec_ptr, rec_idx, rec_w, rec_gap, rec_pk, w_out_t, merged, acc_proto,
                  e_in, e_rec, e_out, du, dv, da, dk, D, S, vth, bias, beta_mant, beta_shift, a_inc,
                  n_ref, subtract, cur_bits, mem_bits, mode,
                  core_of, dest_ptr, dest_core, dest_syn, dest_hops, in_core_syn, n_cores,
                  record_v, z_out, y_out, v_out, cnt, core_syn, c2c):
    """Simulate a batch in fixed point: `_forward` (the compiled copy for overflow ``mode`` and `lif_case`,
    nogil; its docstring lists the arguments)."""
    _KERNELS[mode][lif_case(merged, du, da, a_inc, D, mem_bits, vth, S, n_ref)](x, in_ptr, in_idx, in_w, in_gap, rec_ptr, rec_idx, rec_w, rec_gap, rec_pk,
                   w_out_t, merged, acc_proto,
                   e_in, e_rec, e_out, du, dv, da, dk, D, S, vth, bias, beta_mant, beta_shift, a_inc,
                   n_ref, subtract, cur_bits, mem_bits, core_of, dest_ptr, dest_core, dest_syn, dest_hops,
                   in_core_syn, n_cores, record_v, z_out, y_out, v_out, cnt, core_syn, c2c)
