"""The fixed-point form of a lowered e-prop-family rule (`CompiledRule`), the output of the lower_rule pass
(`compiler.lower_rule`, whose module docstring gives the integer semantics of every field) and the input of
the on-chip learning kernels (`kernels.learn_trial`). Saved in an artifact by `compiler.serial`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """Fixed-point learning constants (scalars, strings, numpy arrays only; their integer semantics are in
    `compiler.lower_rule`'s module docstring).

    Widths: trace_bits (unsigned pre/post traces), elig_bits (signed per-synapse ebar / h), ls_bits
    (signed learning signal), err_bits (signed error code), acc_bits (signed batch accumulator =
    residual), weight_bits; frac_bits = acc_bits - weight_bits (accumulator bits below the weight LSB).
    ct / cr / prod_shift: int64 [3] for (in, rec, out): task and regulariser gain numerators and the
    product shift (lower_rule's docstring); pre_shift int64 [3]: rounding shift of the raw (task, regulariser,
    readout) products before the gain (0 at Loihi 2 widths); m_shift: factorised post-factor shift. B_mant: int32 [n_rec, n_out] feedback mantissas (exponent b_exp:
    B_float ~= B_mant / 2^b_exp). calib_target float64 [3]: rms batch update (accumulator units) the
    per-matrix gain is calibrated to on the first batch (0: no calibration, gain 1). qa_mant: int64 [n_rec] adaptation-eligibility gains. w_lsb float64 [3]:
    float weight of one mantissa step per projection (in, rec, out). bias_gain: float b_out change per
    error-code unit at N = 1 (the bias is off-core float). lr, reg_rate, target_rate_hz, batch: the float
    hyper-parameters as used. ``scales`` float64 [8]: float value of one integer unit of (pre_in,
    pre_rec, psi, ebar_in, ebar_rec, L, err, zkap), for validation and docs.
    """

    name: str
    eligibility: str
    rounding: str
    seed: int
    trace_round: str            # 'trunc' | 'stochastic': rounding of the per-neuron trace decays
    adapt: bool                 # eps^a (ALIF adaptation eligibility) kept
    psi_const: int              # 0: pseudo-derivative; > 0: fixed psi code (RFLO)
    trace_bits: int
    elig_bits: int
    ls_bits: int
    err_bits: int
    acc_bits: int
    weight_bits: int
    frac_bits: int
    pre_inc_in: int
    pre_inc_rec: int
    kap_inc: int
    psi_shift: int
    e_shift: int
    m_shift: int
    pre_shift: np.ndarray
    q_frac: int
    qa_shift: int
    qa_mant: np.ndarray
    B_mant: np.ndarray
    b_exp: int
    l_shift: int
    err_scale: float
    ct: np.ndarray
    cr: np.ndarray
    prod_shift: np.ndarray
    calib_target: np.ndarray
    reg: bool
    rate_bits: int
    rate_shift: int
    f0_code: int
    bias_gain: float
    train_in: bool
    train_rec: bool
    train_out: bool
    train_bias: bool
    w_min: int
    w_max: int
    lr: float
    reg_rate: float
    target_rate_hz: float
    batch: int
    w_lsb: np.ndarray
    scales: np.ndarray

    def to_dict(self) -> dict:
        d = {}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return d
