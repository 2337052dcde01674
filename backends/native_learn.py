"""On-chip e-prop runs of the native backend (``run(..., learn=True)``): targets, tables, the
``kernels.eprop_fixed`` kernel per pass over the inputs, learned weights and counts."""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..errors import BackendError, ConfigError
from .result import RunResult


def parse_targets(targets, B: int, T: int, n_out: int):
    """-> (loss_kind 0 mse | 1 ce, tgt [B, T, n_out] float64, labels [B, T] int64, mask [B, T] uint8, loss)."""
    if targets is None:
        raise ConfigError("learn=True needs targets (a task Batch, a dict with target/mask/loss, or an array)")
    if isinstance(targets, dict):
        tg, mask, loss = targets.get("target"), targets.get("mask"), targets.get("loss")
    elif hasattr(targets, "target"):
        tg, mask, loss = targets.target, getattr(targets, "mask", None), getattr(targets, "loss", None)
    else:
        tg, mask, loss = targets, None, None
    tg = np.asarray(tg)
    if loss is None:
        loss = "ce" if np.issubdtype(tg.dtype, np.integer) and tg.shape == (B, T) else "mse"
    if loss not in ("mse", "ce"):
        raise ConfigError(f"targets loss must be 'mse' or 'ce', got {loss!r}")
    mask = np.ones((B, T), bool) if mask is None else np.asarray(mask, bool)
    if mask.shape != (B, T):
        raise BackendError(f"targets mask has shape {mask.shape}, expected [batch, time] = {(B, T)}")
    if loss == "mse":
        if tg.shape != (B, T, n_out):
            raise BackendError(f"mse targets have shape {tg.shape}, expected [batch, time, n_out] = {(B, T, n_out)}")
        if not np.isfinite(tg).all():
            raise BackendError("mse targets contain NaN or inf")
        return 0, np.ascontiguousarray(tg, np.float64), np.zeros((1, 1), np.int64), mask.astype(np.uint8), loss
    if tg.shape != (B, T):
        raise BackendError(f"ce targets (labels) have shape {tg.shape}, expected [batch, time] = {(B, T)}")
    lab = np.where(mask, tg, 0).astype(np.int64)
    if lab.size and (lab.min() < 0 or lab.max() >= n_out):
        raise BackendError(f"ce labels must be in [0, n_out={n_out}), got [{int(lab.min())}, {int(lab.max())}]")
    return 1, np.zeros((1, 1, 1)), np.ascontiguousarray(lab), mask.astype(np.uint8), loss


def _dense_from_csr(ptr, idx, data, n_post, n_pre) -> np.ndarray:
    w = np.zeros((n_post, n_pre), np.int32)
    pre = np.repeat(np.arange(n_pre), np.diff(ptr))
    w[idx, pre] = data
    return w


def run_learning(compiled, x, targets, *, record=("spikes", "outputs"), seed: int = 0, epochs: int = 1,
                 batch_size: int | None = None) -> RunResult:
    """On-chip e-prop over ``epochs`` passes of the trials in ``x`` (validated uint8 [B, T, n_in])."""
    from neurochip.kernels.eprop_fixed import (L_BITS_R, L_BITS_W, L_CLIP, L_LSHOPS, L_LSMACS, L_LSMSG, L_SAT,
                                               L_TRACE, L_WUPD, N_LCOUNTS, learn_trials)
    from .native import chip_format, tables_for, counts_from_kernel, spike_rate_hz

    rule = compiled.rule
    if rule is None:
        raise BackendError("learn=True needs a compiled learning rule (compiled.rule is None): compile with a "
                           "LearningRule (e.g. eprop_random) for a profile with on-chip learning")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    B, T, _ = x.shape
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ConfigError(f"batch_size must be an integer >= 1 (trials per weight application), got {batch_size!r}")
    n_rec, n_out, n_in = compiled.n_rec, compiled.n_out, compiled.n_in
    kind, tgt, labels, mask, loss_name = parse_targets(targets, B, T, n_out)
    fm = chip_format(compiled)
    tb = tables_for(compiled)
    in_w = tb.in_w.astype(np.int32)
    rec_w = tb.rec_w.astype(np.int32)
    w_out_t = np.ascontiguousarray(tb.w_out_t.astype(np.int64))
    rt = tb.routes
    nc = int(compiled.n_cores)
    core_of = np.asarray(compiled.core_of, np.int64)
    ls_hops = np.asarray(compiled.ls_hops, np.int64)
    ls_total = int(ls_hops[core_of[:n_rec]].sum()) if ls_hops.size else 0
    be = int(compiled.bias_exp)
    bias = np.asarray(compiled.bias_mant, np.int64)
    bias = bias << be if be >= 0 else bias >> -be
    want_z = "spikes" in record
    cnt = np.zeros(N_LCOUNTS, np.int64)
    core_syn = np.zeros(nc, np.int64)
    c2c = np.zeros((nc, nc), np.int64)
    z_rec = np.zeros((B, T, n_rec) if want_z else (1, 1, 1), np.uint8)
    y_rec = np.zeros((B, T, n_out), np.int64)
    loss_rec = np.zeros(B)
    apply_every = int(batch_size) if batch_size is not None else 1
    seed_mix = (int(rule.seed) * 1_000_003 + int(seed)) & 0x7FFFFFFF
    order = np.arange(B, dtype=np.int64)
    history = []
    n_apply = 0
    t0 = time.perf_counter()
    b_out = np.asarray(compiled.b_out, np.float64)
    # per-synapse accumulators: 4 bytes when the profile's accumulator fits (memory traffic is the cost)
    ac_store = np.zeros(in_w.size + rec_w.size, np.int32 if int(rule.acc_bits) <= 32 else np.int64)
    for ep in range(int(epochs)):
        n_apply = learn_trials(
            x, order, tgt, labels, mask, kind, b_out, float(compiled.scale_out),
            tb.in_ptr, tb.in_idx, in_w, tb.rec_ptr, tb.rec_idx, rec_w, w_out_t,
            int(compiled.e_in), int(compiled.e_rec), int(compiled.e_out), int(compiled.du), int(compiled.dv),
            int(compiled.da), int(compiled.dk), fm["D"], fm["S"], int(compiled.vth), bias,
            np.asarray(compiled.beta_mant, np.int64), int(compiled.beta_shift), int(compiled.a_inc),
            int(compiled.n_ref), compiled.reset == "subtract", fm["cur_bits"], fm["mem_bits"],
            rule.eligibility == "per_synapse", bool(rule.adapt), int(rule.psi_const),
            rule.trace_round == "stochastic", rule.rounding == "stochastic", seed_mix, int(rule.epoch_steps),
            apply_every, int(rule.elig_bits), int(rule.ls_bits), int(rule.err_bits), int(rule.acc_bits),
            int(rule.frac_bits), int(rule.pre_inc_in), int(rule.pre_inc_rec), int(rule.kap_inc),
            int(rule.psi_shift), int(rule.e_shift), int(rule.m_shift), int(rule.q_frac), int(rule.qa_shift),
            np.asarray(rule.qa_mant, np.int64), np.asarray(rule.B_mant, np.int64), int(rule.l_shift),
            float(rule.err_scale), np.asarray(rule.lr_mant, np.int64), np.asarray(rule.lr_shift, np.int64),
            bool(rule.train_in), bool(rule.train_rec), bool(rule.train_out), int(rule.w_min), int(rule.w_max),
            core_of, rt.dest_ptr, rt.dest_core, rt.dest_syn, rt.dest_hops, rt.in_core_syn, ls_total, nc,
            ep * B, n_apply, want_z, z_rec, y_rec, loss_rec, cnt, core_syn, c2c, ac_store)
        out = y_rec / float(compiled.scale_out) + b_out[None, None, :]
        h = {"epoch": ep, "loss": float(loss_rec.mean())}
        if loss_name == "ce":
            from neurochip.learning.losses import accuracy
            h["accuracy"] = accuracy(out, labels, mask.astype(bool))
        history.append(h)
    wall = time.perf_counter() - t0
    counts = counts_from_kernel(compiled, B * int(epochs), T, cnt[None, :7], core_syn[None], c2c[None], fm["weight_bits"])
    wb = int(rule.weight_bits)
    n_train = (in_w.size if rule.train_in else 0) + (rec_w.size if rule.train_rec else 0) + \
        (w_out_t.size if rule.train_out else 0)
    counts.trace_updates = int(cnt[L_TRACE])
    counts.weight_updates = int(cnt[L_WUPD])
    counts.learning_signal_msgs = int(cnt[L_LSMSG])
    counts.learning_signal_hops = int(cnt[L_LSHOPS])
    counts.learning_signal_macs = int(cnt[L_LSMACS])
    counts.bits_read += int(cnt[L_BITS_R]) + n_apply * n_train * int(rule.acc_bits) + int(cnt[L_WUPD]) * wb
    counts.bits_written += int(cnt[L_BITS_W]) + int(cnt[L_WUPD]) * wb
    counts.saturations += int(cnt[L_SAT]) + int(cnt[L_CLIP])
    w_in = _dense_from_csr(tb.in_ptr, tb.in_idx, in_w, n_rec, n_in)
    if sp.issparse(compiled.w_rec):
        m = sp.csc_matrix(compiled.w_rec)
        m.sort_indices()
        w_rec = sp.csr_matrix(sp.csc_matrix((rec_w, m.indices, m.indptr), shape=m.shape))
        d_rec = w_rec - sp.csr_matrix(compiled.w_rec)
    else:
        w_rec = _dense_from_csr(tb.rec_ptr, tb.rec_idx, rec_w, n_rec, n_rec)
        d_rec = w_rec - np.asarray(compiled.w_rec, np.int32)
    w_out = np.ascontiguousarray(w_out_t.T.astype(np.int32))
    outputs = y_rec / float(compiled.scale_out) + b_out[None, None, :]
    return RunResult(
        spikes=z_rec if want_z else np.zeros((B, T, n_rec), np.uint8), outputs=outputs, counts=counts,
        backend="native", out_int=y_rec,
        weights={"w_in": w_in, "w_rec": w_rec, "w_out": w_out},
        weight_updates={"w_in": w_in - np.asarray(compiled.w_in, np.int32), "w_rec": d_rec,
                        "w_out": w_out - np.asarray(compiled.w_out, np.int32)},
        meta={"wall_s": wall, "mode": "fixed", "learn": True, "epochs": history, "loss": loss_name,
              "eligibility": rule.eligibility, "rounding": rule.rounding, "weight_applications": n_apply,
              "learning_saturations": int(cnt[L_SAT]), "weight_clips": int(cnt[L_CLIP]),
              "spike_rate_hz": spike_rate_hz(z_rec, compiled) if want_z else None,
              "per_trial_s": wall / max(1, B * int(epochs))},
    )
