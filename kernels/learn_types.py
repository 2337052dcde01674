"""Data of the on-chip learning kernels: three named tuples built once from a `CompiledNetwork`
(``backends.native_learn.learn_data``) instead of long argument lists, and the count columns.

* `LearnConsts`: scalars of the neuron model and of the lowered rule (docs/fixed_point.md "Learning").
* `LearnTables`: read-only arrays (CSR by presynaptic neuron, feedback, gains, routing tables).
* `LearnState`: what a run changes and keeps: weight mantissas, the persistent accumulators (master
  weight fraction / residual, one per trained synapse) and the float readout bias.

Numba compiles one specialisation per tuple type; every field is a scalar or a numpy array.
"""
from __future__ import annotations

from collections import namedtuple

from .neuron_ops import N_COUNTS

# learning count columns 7-15 of the kernels' count row (kernels.neuron_ops defines 0-6 and 16-18)
L_TRACE, L_WUPD, L_LSMSG, L_LSHOPS, L_LSMACS, L_BITS_R, L_BITS_W, L_SAT, L_CLIP = range(7, 16)
L_ACC_SAT = max(16, N_COUNTS)     # batch-accumulator saturations alone (also in L_SAT), after every other column
N_LCOUNTS = L_ACC_SAT + 1
# streams of the counter-based generator (docs/fixed_point.md)
STREAM_TRACE, STREAM_W_IN, STREAM_W_REC, STREAM_W_OUT, STREAM_ELIG_IN, STREAM_ELIG_REC = 1, 2, 3, 4, 5, 6

LearnConsts = namedtuple("LearnConsts", [
    # forward (kernels.neuron_ops.neuron_step / readout_step arguments)
    "e_in", "e_rec", "e_out", "du", "dv", "da", "dk", "D", "S", "vth_eff", "n_ref", "subtract", "half_c", "vmax",
    "has_u", "adaptive_n", "beta_shift", "a_inc", "mode",
    # rule
    "per_synapse", "adapt", "psi_const", "trace_stoch", "w_stoch", "seed", "emax", "lmax", "errmax", "amax",
    "frac", "pre_inc_in", "pre_inc_rec", "kap_inc", "psi_shift", "e_shift", "m_shift", "pre_t", "pre_r", "pre_o", "q_frac", "qa_shift", "l_shift",
    "err_scale", "train_in", "train_rec", "train_out", "train_bias", "w_min", "w_max", "reg", "rate_bits",
    "rate_shift", "f0_code", "bias_gain", "elig_bits", "acc_bits",
    "lazy",                                            # per-synapse: defer the decays of inactive posts (learn_cols)
    # targets and off-core readout
    "loss_kind", "scale_out",
    # routing / counting
    "ls_hops_total", "n_cores",
    # layer map: readout synapses that exist (n_out_syn of n_rec * n_out; out_masked: some are absent)
    "n_out_syn", "out_masked",
])

LearnTables = namedtuple("LearnTables", [
    "in_ptr", "in_idx", "rec_ptr", "rec_idx",          # CSR by presynaptic neuron (int64 ptr, int32 targets)
    "bias", "beta_mant", "qa_mant", "B_mant",          # int64 [n_rec], [n_rec], [n_rec], [n_rec, n_out]
    "ct", "cr", "prod_shift",                          # int64 [3] (in, rec, out)
    "calib_target",                                    # float64 [3]: rms batch update to calibrate to (acc units; 0 = off)
    "core_of", "dest_ptr", "dest_core", "dest_syn", "dest_hops", "in_core_syn",
    "out_live",                                        # uint8 [n_rec * n_out] (j n_out + k): readout synapse exists
    "ro_fan",                                          # int64 [n_rec]: readout synapses of neuron j (n_out without a layer map)
    "in_pos", "rec_pos",                               # int32 [n_pre, n_post]: CSR position of (i, j) in row i, -1 if
                                                       # absent; shape (0, 0) when not built (kernels.learn_rows.outer_rows)
    "in_cptr", "in_cpre", "in_cq", "in_cgap",          # CSC by post of the CSR (kernels.csr.csc_of): int64 [n_post + 1],
    "rec_cptr", "rec_cpre", "rec_cq", "rec_cgap",      # int32 pres, int64 CSR synapse numbers (per padded position; 0
                                                       # at a padding entry, whose product is 0), int64 column shapes
    "in_cpad", "rec_cpad",                             # int64 [n_post + 1]: column starts, padded (csr.pad_columns)
    "in_gap", "rec_gap",                               # int64 [n_pre]: row shape (kernels.csr.row_gaps)
])

LearnState = namedtuple("LearnState", [
    "in_w", "rec_w", "w_out_t",                        # int32 CSR-aligned, int32 CSR-aligned, int64 [n_rec, n_out]
    "acc_in", "acc_rec", "acc_out",                    # int64 persistent accumulators (aligned with the weights)
    "b_out",                                           # float64 [n_out] (off-core)
    "gain_exp",                                        # int64 [3]: per-matrix power-of-two gain on the batch sums
    "calibrated",                                      # uint8 [3]: gain_exp set (by calibration or given)
])
