"""On-chip e-prop in fixed point: the batch driver (docs/fixed_point.md "Learning (on-chip e-prop)").

``learn_run(C, Tb, W, ...)`` runs the trials ``order`` in batches of ``batch``: per batch it sets the
gains from the batch's normaliser, runs the batch's trials (``kernels.learn_trial``; independent
until the weights are applied, so they run in parallel chunks, one per thread, each with its own int64
partial accumulators), adds the partial sums to the persistent accumulators (integer addition: the
result does not depend on the chunking, bit-identical to one chunk), and applies one rounded update
per batch, keeping the remainder (master weight = W 2^frac + A).

C, Tb, W: `kernels.learn_types` LearnConsts / LearnTables / LearnState (W's arrays change in place).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .fixed_ops import round_shift, stoch_shift
from .learn_rows import key, rnd
from .learn_trial import learn_trial
from .learn_types import (L_ACC_SAT, L_BITS_R, L_BITS_W, L_CLIP, L_LSHOPS, L_LSMACS, L_LSMSG, L_SAT, L_TRACE,  # noqa: F401
                          L_WUPD, N_LCOUNTS, STREAM_W_IN, STREAM_W_OUT, STREAM_W_REC, LearnConsts, LearnState,
                          LearnTables)
from .provenance import DIGESTS, GROUPS


# The learning kernel's sources as this process imported them (kernels.provenance, read at its import).
# backends.native_learn checks Numba's cache against this digest, not against the files on disk: a cache that
# another process compiled from a changed file (an edit, a mutation test) is then never loaded into this one,
# which runs the code it imported. Learning runs record it (RunResult.meta['kernel_digest']).
SOURCE_FILES = GROUPS["learn"][0]
SOURCE_DIGEST = DIGESTS["learn"]


@njit(cache=True, inline="always")
def rdiv(a, n):
    """round(a / n) for a >= 0, n >= 1 (half up): the per-batch gain from a compile-time numerator."""
    return (a + (n >> 1)) // n


@njit(cache=True)
def calib_exp(pa, nch, target, n):
    """Power-of-two gain e with rms(2^e P) ~= target (accumulator units), P = the batch's summed products
    per synapse over the n synapses that exist (absent readout synapses of a layer map hold P = 0 and are
    not counted); (e, ok) with ok = False when every P is 0 (nothing to calibrate on yet). Float64 sum of
    squares in synapse order (deterministic; the oracle sums in the same order)."""
    ss = 0.0
    for q in range(pa.shape[1]):
        s = np.int64(0)
        for c in range(nch):
            s += pa[c, q]
        x = float(s)
        ss += x * x
    if ss == 0.0 or n == 0:
        return 0, False
    e = int(np.floor(0.5 * np.log2(target * target * n / ss) + 0.5))   # round(log2(target / rms))
    return min(max(e, -62), 30), True


@njit(cache=True)
def apply_proj(w, acc, pa, nch, ge, frac, stochastic, seed, stream, epoch, w_min, w_max, amax, cnt):
    """End of a batch for one projection: A = sat(A + rnd(2^ge sum of the chunks' partial sums)) (acc_bits),
    d = rnd|srnd(A >> frac) (stochastic from key(seed, stream, epoch, q)), A -= d << frac (the residual
    is kept), w = clip(w - d) (each clip counted)."""
    for q in range(w.shape[0]):
        t = np.int64(0)
        for c in range(nch):
            t += pa[c, q]
        s = acc[q] + (rnd(t, -ge) if ge < 0 else t << ge)     # symmetric rounding of a down-scaled sum
        if s > amax:
            s = amax
            cnt[L_SAT] += 1
            cnt[L_ACC_SAT] += 1
        elif s < -amax:
            s = -amax
            cnt[L_SAT] += 1
            cnt[L_ACC_SAT] += 1
        if s == 0:
            acc[q] = 0
            continue
        if stochastic:
            d = stoch_shift(s, frac, key(seed, stream, epoch, q))
        else:
            d = round_shift(s, frac)
        acc[q] = s - (d << frac)
        if d != 0:
            nw = w[q] - d
            if nw > w_max:
                nw = w_max
                cnt[L_CLIP] += 1
            elif nw < w_min:
                nw = w_min
                cnt[L_CLIP] += 1
            if nw != w[q]:
                w[q] = nw
                cnt[L_WUPD] += 1


@njit(cache=True, parallel=True)
def learn_run(C, Tb, W, x, order, tgt, labels, mask, batch, trial0, apply0, n_chunks, record_z, z_out, y_out,
              loss_out, nmask_out, cnt, core_syn, c2c):
    """Learn on trials ``order`` (indices into x [B, T, n_in] uint8) in batches of ``batch`` trials.

    Targets: C.loss_kind 0 = MSE with tgt [B, T, n_out] float64, 1 = CE with labels [B, T] int64; mask
    [B, T] uint8 (steps where the error counts). trial0 / apply0: global trial and weight-application
    numbers of the first trial (keys of the stochastic-rounding generator). n_chunks: parallel chunks
    per batch (results do not depend on it). Records per position m of ``order``: z_out [n, T, n_rec]
    (if record_z), y_out [n, T, n_out], loss_out [n] (task loss), nmask_out [n] (masked steps). Counts
    into cnt [N_LCOUNTS], core_syn [n_cores], c2c [n_cores, n_cores]. Returns the next apply number.
    """
    n = order.shape[0]
    T = x.shape[1]
    nnz_in = W.in_w.shape[0]
    nnz_rec = W.rec_w.shape[0]
    n_out = W.w_out_t.shape[1]
    n_ro = W.w_out_t.shape[0] * n_out
    nc = C.n_cores
    pa_in = np.zeros((n_chunks, nnz_in), np.int64)
    pa_rec = np.zeros((n_chunks, nnz_rec), np.int64)
    pa_out = np.zeros((n_chunks, n_ro), np.int64)
    perr = np.zeros((n_chunks, n_out), np.int64)
    cnt_c = np.zeros((n_chunks, cnt.shape[0]), np.int64)
    cs_c = np.zeros((n_chunks, nc), np.int64)
    c2c_c = np.zeros((n_chunks, nc, nc), np.int64)
    gt = np.zeros(3, np.int64)
    gr = np.zeros(3, np.int64)
    w_out_flat = W.w_out_t.reshape(-1)
    acc_out_flat = W.acc_out.reshape(-1)
    n_apply = apply0
    for s in range(0, n, batch):
        e = min(n, s + batch)
        nb = e - s
        # the float trainer's normalisation: mean over the batch's trials ('mse') or masked steps ('ce')
        n_task = nb
        if C.loss_kind == 1:
            n_task = 0
            for m in range(s, e):
                for t in range(T):
                    n_task += mask[order[m], t] != 0
            n_task = max(n_task, 1)
        for p in range(3):
            gt[p] = rdiv(Tb.ct[p], n_task)
            gr[p] = rdiv(Tb.cr[p], nb * T)
        nch = min(n_chunks, nb)
        pa_in[:nch] = 0
        pa_rec[:nch] = 0
        pa_out[:nch] = 0
        perr[:nch] = 0
        for c in prange(nch):
            lo = s + (nb * c) // nch
            hi = s + (nb * (c + 1)) // nch
            for m in range(lo, hi):
                zt = z_out[m] if record_z else z_out[0]
                lo_, nm = learn_trial(C, Tb, W, x, order[m], trial0 + m, tgt, labels, mask, gt, gr, pa_in[c],
                                      pa_rec[c], pa_out[c], perr[c], record_z, zt, y_out[m], cnt_c[c], cs_c[c],
                                      c2c_c[c])
                loss_out[m] = lo_
                nmask_out[m] = nm
        # ---- end of the batch: one rounded application per trained projection ----
        amax = C.amax
        # per-matrix gain calibration (Adam-equivalent rate): on the first batch with products, the power of
        # two that makes the batch's rms update equal to the target; then fixed (SGD) for the run
        for p in range(3):
            if Tb.calib_target[p] > 0 and W.calibrated[p] == 0:
                e_p, ok = calib_exp(pa_in if p == 0 else (pa_rec if p == 1 else pa_out), nch, Tb.calib_target[p],
                                    pa_in.shape[1] if p == 0 else (pa_rec.shape[1] if p == 1 else C.n_out_syn))
                if ok:
                    W.gain_exp[p] = e_p
                    W.calibrated[p] = 1
        if C.train_in:
            apply_proj(W.in_w, W.acc_in, pa_in, nch, W.gain_exp[0], C.frac, C.w_stoch, C.seed, STREAM_W_IN, n_apply,
                       C.w_min, C.w_max, amax, cnt)
        if C.train_rec:
            apply_proj(W.rec_w, W.acc_rec, pa_rec, nch, W.gain_exp[1], C.frac, C.w_stoch, C.seed, STREAM_W_REC,
                       n_apply, C.w_min, C.w_max, amax, cnt)
        if C.train_out:
            apply_proj(w_out_flat, acc_out_flat, pa_out, nch, W.gain_exp[2], C.frac, C.w_stoch, C.seed, STREAM_W_OUT,
                       n_apply, C.w_min, C.w_max, amax, cnt)
        if C.train_bias:
            # off-core float readout bias: the float SGD step of the batch from the summed error codes, with the
            # readout's power-of-two gain
            for k in range(n_out):
                se = 0
                for c in range(nch):
                    se += perr[c, k]
                W.b_out[k] -= C.bias_gain * se * 2.0 ** W.gain_exp[2] / n_task
        n_apply += 1
    for c in range(n_chunks):
        for k in range(cnt.shape[0]):
            cnt[k] += cnt_c[c, k]
        for k in range(nc):
            core_syn[k] += cs_c[c, k]
            for k2 in range(nc):
                c2c[k, k2] += c2c_c[c, k, k2]
    return n_apply
