"""On-chip e-prop runs of the native backend (``run(..., learn=True)``): targets, the kernel data
(`learn_data`: the three named tuples of ``kernels.learn_types`` built from a `CompiledNetwork`), the
``kernels.eprop_fixed`` driver per pass over the inputs, learned weights, per-trial losses and counts."""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from neurochip.kernels.csr import csc_of, pad_columns, padded_positions, row_gaps

from ..errors import BackendError, ConfigError
from .kernel_cache import bust_stale
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
    """[n_post, n_pre] of a CSR by pre (ptr, idx targets), in ``data``'s dtype (int64 accumulators keep their
    width), 0 where there is no synapse. Filled as [pre, post] (each row written contiguously: 2 against 6 ms
    for 1 M synapses) and returned as its transpose (a view in Fortran order)."""
    data = np.asarray(data)
    wt = np.zeros(n_pre * n_post, data.dtype)
    wt[np.repeat(np.arange(n_pre, dtype=np.int64) * n_post, np.diff(ptr)) + np.asarray(idx, np.int64)] = data
    return wt.reshape(n_pre, n_post).T


POS_MAP_MAX = 1 << 24      # entries of a position map (64 MiB of int32): beyond it, outer_rows scans the rows


def position_map(ptr, idx, n_post: int) -> np.ndarray:
    """int32 [n_pre, n_post]: the position k of target j in presynaptic row i of a CSR (ptr, idx), -1 where
    (i, j) has no synapse; shape (0, 0) when it would not pay or not fit: fewer than a quarter of the pairs
    present, more than `POS_MAP_MAX` entries, or a repeated target in a row (one position per pair).

    The factorised products visit only the post neurons with a nonzero factor this step (``act``); a full row
    is indexed by j directly, and this map gives a row that is not full (e.g. no self-synapse) the same
    O(|act|) visit instead of a scan of the row (kernels.learn_rows.outer_rows: ~25 active posts instead of 99
    targets per recurrent row on the evidence network; the factorised trial 16.1 -> 14.5 ms, loaded machine)."""
    ptr = np.asarray(ptr, np.int64)
    n_pre = ptr.size - 1
    nnz = int(ptr[-1])
    if n_pre * n_post == 0 or n_pre * n_post > POS_MAP_MAX or 4 * nnz < n_pre * n_post:
        return np.zeros((0, 0), np.int32)
    rows = np.repeat(np.arange(n_pre), np.diff(ptr))
    cols = np.asarray(idx, np.int64)[:nnz]
    pos = np.full((n_pre, n_post), -1, np.int32)
    pos[rows, cols] = (np.arange(nnz) - ptr[rows]).astype(np.int32)
    if int((pos >= 0).sum()) != nnz:             # a repeated (i, j): positions would collide
        return np.zeros((0, 0), np.int32)
    return pos


TRACE_DECAYS = ("lazy", "every_step")


def _columns(name: str, ptr, idx, n_post: int, per_synapse: bool) -> dict:
    """The per-synapse kernel's CSC of one projection (`kernels.csr.csc_of`), empty for the factorised rule."""
    if per_synapse:
        cptr, cpre, cq, cgap = csc_of(ptr, idx, n_post)
        cpad = pad_columns(cptr)
        cq_pad = np.zeros(int(cpad[-1]), np.int64)          # padding entries: synapse 0, to which they add 0
        cq_pad[padded_positions(cptr, cpad)] = cq
    else:
        cptr, cpre, cq_pad, cgap = (np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64),
                                    np.zeros(0, np.int64))
        cpad = cptr
    return {f"{name}_cptr": cptr, f"{name}_cpre": cpre, f"{name}_cq": cq_pad, f"{name}_cgap": cgap,
            f"{name}_cpad": cpad}


def _structure(tb, n_rec: int, per_synapse: bool) -> dict:
    """The LearnTables entries that depend only on the connectivity: row shapes, the factorised rule's position
    maps (only when some row is neither full nor full but one: the others never read it) and the per-synapse
    rule's columns. O(synapses); memoised per CompiledNetwork by `learn_data` (45 ms for N = 1024, p = 1)."""
    gaps = {"in_gap": row_gaps(tb.in_ptr, tb.in_idx, n_rec), "rec_gap": row_gaps(tb.rec_ptr, tb.rec_idx, n_rec)}
    pos = {}
    for name in ("in", "rec"):
        ptr, idx = getattr(tb, f"{name}_ptr"), getattr(tb, f"{name}_idx")
        pos[f"{name}_pos"] = (position_map(ptr, idx, n_rec) if not per_synapse and (gaps[f"{name}_gap"] < -1).any()
                              else position_map([0], [], 0))
    return {**gaps, **pos, **_columns("in", tb.in_ptr, tb.in_idx, n_rec, per_synapse),
            **_columns("rec", tb.rec_ptr, tb.rec_idx, n_rec, per_synapse)}


def _bust_stale_kernel_cache() -> None:
    """Numba's cache key is the hash of the file defining a function, not of the modules it calls: the cached
    learning kernels would keep an old ``learn_rows`` / ``fixed_forward`` compiled in. Drop their cache files
    unless stamped with the digest of the sources this process imported (``eprop_fixed.SOURCE_DIGEST``;
    ``backends.kernel_cache``, once per process)."""
    from neurochip.kernels.eprop_fixed import SOURCE_DIGEST
    bust_stale("learn", SOURCE_DIGEST)


_CACHE_CHECKED = []


def learn_data(compiled, seed: int = 0, loss_kind: int = 0, state=None, trace_decay: str = "lazy"):
    """(LearnConsts, LearnTables, LearnState) of ``compiled`` for the learning kernels. ``state``: a
    previous run's `LearnState` to continue from (weights, residual accumulators, bias); default: the
    artifact's weights with zero residuals. trace_decay: per-synapse eligibility's decays while a post is
    inactive, 'lazy' (deferred, one rounding when the post is next active; kernels.learn_cols) or 'every_step'
    (one rounding per step, the semantics before session 20)."""
    if trace_decay not in TRACE_DECAYS:
        raise ConfigError(f"trace_decay must be one of {TRACE_DECAYS}, got {trace_decay!r}")
    import numba  # noqa: F401  (the kernels' tuples are Numba-typed on first call)
    from neurochip.kernels.learn_types import LearnConsts, LearnState, LearnTables
    from .native import chip_format, derived, tables_for

    rule = compiled.rule
    fm = chip_format(compiled)
    tb = tables_for(compiled)
    rt = tb.routes
    n_rec = int(compiled.n_rec)
    nc = int(compiled.n_cores)
    core_of = np.asarray(compiled.core_of, np.int64)
    ls_hops = np.asarray(compiled.ls_hops, np.int64)
    ls_total = int(ls_hops[core_of[:n_rec]].sum()) if ls_hops.size else 0
    be = int(compiled.bias_exp)
    bias = np.asarray(compiled.bias_mant, np.int64)
    bias = bias << be if be >= 0 else bias >> -be        # bias mantissa at its exponent (exact for be >= 0)
    D, S = int(fm["D"]), int(fm["S"])
    a_inc, da = int(compiled.a_inc), int(compiled.da)
    om = getattr(compiled, "out_mask", None)
    out_live = (np.ones(n_rec * int(compiled.n_out), np.uint8) if om is None     # [n_rec * n_out], j n_out + k
                else np.ascontiguousarray(np.asarray(om, bool).T.reshape(-1).astype(np.uint8)))
    C = LearnConsts(
        e_in=int(compiled.e_in), e_rec=int(compiled.e_rec), e_out=int(compiled.e_out), du=int(compiled.du),
        dv=int(compiled.dv), da=da, dk=int(compiled.dk), D=D, S=S, vth_eff=np.int64(int(compiled.vth) << S),
        n_ref=int(compiled.n_ref), subtract=compiled.reset == "subtract",
        half_c=np.int64(1) << (int(fm["cur_bits"]) - 1), vmax=(np.int64(1) << (int(fm["mem_bits"]) - 1)) - 1,
        has_u=int(compiled.du) + 1 != (1 << D), adaptive_n=a_inc != 0 or da != 0,
        beta_shift=int(compiled.beta_shift), a_inc=a_inc, mode=int(fm.get("mode", 0)),
        per_synapse=rule.eligibility == "per_synapse", adapt=bool(rule.adapt), psi_const=int(rule.psi_const),
        trace_stoch=rule.trace_round == "stochastic", w_stoch=rule.rounding == "stochastic",
        seed=(int(rule.seed) * 1_000_003 + int(seed)) & 0x7FFFFFFF,
        emax=(1 << (int(rule.elig_bits) - 1)) - 1, lmax=(1 << (int(rule.ls_bits) - 1)) - 1,
        errmax=(1 << (int(rule.err_bits) - 1)) - 1, amax=(np.int64(1) << (int(rule.acc_bits) - 1)) - 1,
        frac=int(rule.frac_bits), pre_inc_in=int(rule.pre_inc_in), pre_inc_rec=int(rule.pre_inc_rec),
        kap_inc=int(rule.kap_inc), psi_shift=int(rule.psi_shift), e_shift=int(rule.e_shift), m_shift=int(rule.m_shift), pre_t=int(rule.pre_shift[0]),
        pre_r=int(rule.pre_shift[1]), pre_o=int(rule.pre_shift[2]), q_frac=int(rule.q_frac),
        qa_shift=int(rule.qa_shift), l_shift=int(rule.l_shift), err_scale=float(rule.err_scale),
        train_in=bool(rule.train_in), train_rec=bool(rule.train_rec), train_out=bool(rule.train_out),
        train_bias=bool(rule.train_bias), w_min=int(rule.w_min), w_max=int(rule.w_max), reg=bool(rule.reg),
        rate_bits=int(rule.rate_bits), rate_shift=int(rule.rate_shift), f0_code=int(rule.f0_code),
        bias_gain=float(rule.bias_gain), elig_bits=int(rule.elig_bits), acc_bits=int(rule.acc_bits),
        loss_kind=int(loss_kind), scale_out=float(compiled.scale_out), ls_hops_total=ls_total, n_cores=nc,
        n_out_syn=int(out_live.sum()), out_masked=om is not None, lazy=trace_decay == "lazy")
    Tb = LearnTables(
        in_ptr=tb.in_ptr, in_idx=tb.in_idx, rec_ptr=tb.rec_ptr, rec_idx=tb.rec_idx, bias=bias,
        beta_mant=np.asarray(compiled.beta_mant, np.int64), qa_mant=np.asarray(rule.qa_mant, np.int64),
        B_mant=np.ascontiguousarray(rule.B_mant, np.int64), ct=np.asarray(rule.ct, np.int64),
        cr=np.asarray(rule.cr, np.int64), prod_shift=np.asarray(rule.prod_shift, np.int64),
        calib_target=np.asarray(rule.calib_target, np.float64), core_of=core_of,
        dest_ptr=rt.dest_ptr, dest_core=rt.dest_core, dest_syn=rt.dest_syn, dest_hops=rt.dest_hops,
        in_core_syn=rt.in_core_syn, out_live=out_live,
        ro_fan=np.ascontiguousarray(out_live.reshape(n_rec, -1).sum(axis=1, dtype=np.int64)),
        **derived(compiled, f"learn_structure_{C.per_synapse}", lambda c: _structure(tb, n_rec, C.per_synapse)))
    if state is not None:
        if not isinstance(state, LearnState) or state.in_w.shape != tb.in_w.shape or \
                state.rec_w.shape != tb.rec_w.shape or state.w_out_t.shape != tb.w_out_t.shape:
            raise ConfigError("state must be the meta['learn_state'] of a learning run of this compiled network")
        state = LearnState(*[np.array(v, copy=True) for v in state])     # the caller's state is never changed
    else:
        in_w = tb.in_w.astype(np.int32)
        rec_w = tb.rec_w.astype(np.int32)
        w_out_t = np.ascontiguousarray(tb.w_out_t.astype(np.int64))
        state = LearnState(in_w=in_w, rec_w=rec_w, w_out_t=w_out_t, acc_in=np.zeros(in_w.size, np.int64),
                           acc_rec=np.zeros(rec_w.size, np.int64), acc_out=np.zeros(w_out_t.shape, np.int64),
                           b_out=np.asarray(compiled.b_out, np.float64).copy(), gain_exp=np.zeros(3, np.int64),
                           calibrated=np.zeros(3, np.uint8))
    return C, Tb, state


def n_threads() -> int:
    """Parallel chunks per batch: the Numba thread count (results do not depend on it)."""
    import numba
    return max(1, int(numba.get_num_threads()))


def run_learning(compiled, x, targets, *, record=("spikes", "outputs"), seed: int = 0, epochs: int = 1,
                 batch_size: int | None = None, threads: int | None = None, state=None,
                 trace_decay: str = "lazy") -> RunResult:
    """On-chip e-prop over ``epochs`` passes of the trials in ``x`` (validated uint8 [B, T, n_in]).

    batch_size: trials per weight application (default: the compiled rule's batch); threads: parallel
    chunks per batch (default: Numba's thread count; bit-identical for any value); state: a
    `LearnState` from a previous result's ``meta['learn_state']`` to continue (residuals kept).
    The result's meta holds per-trial task losses ``trial_loss`` [epochs * B] (1/2 SSE, or mean CE over
    the trial's masked steps), ``weight_applications``, ``batch_size``, ``learn_state`` and ``kernel_digest``
    (sha256 of the learning kernel's sources this process runs: a run's provenance). trace_decay: see
    `learn_data` (per-synapse eligibility only)."""
    if not _CACHE_CHECKED:
        _bust_stale_kernel_cache()
        _CACHE_CHECKED.append(True)
    from neurochip.kernels.eprop_fixed import SOURCE_DIGEST, learn_run
    from neurochip.kernels.learn_types import (L_ACC_SAT, L_BITS_R, L_BITS_W, L_CLIP, L_LSHOPS, L_LSMACS, L_LSMSG, L_SAT,
                                               L_TRACE, L_WUPD, N_LCOUNTS)
    from .native import chip_format, counts_from_kernel, spike_rate_hz

    rule = compiled.rule
    if rule is None:
        raise BackendError("learn=True needs a compiled learning rule (compiled.rule is None): compile with a "
                           "LearningRule (e.g. eprop_random) for a profile with on-chip learning")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    B, T, _ = x.shape
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ConfigError(f"batch_size must be an integer >= 1 (trials per weight application), got {batch_size!r}")
    if threads is not None and (not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")
    n_rec, n_out, n_in = compiled.n_rec, compiled.n_out, compiled.n_in
    kind, tgt, labels, mask, loss_name = parse_targets(targets, B, T, n_out)
    C, Tb, W = learn_data(compiled, seed, kind, state, trace_decay)
    want_z = "spikes" in record
    cnt = np.zeros(N_LCOUNTS, np.int64)
    nc = int(compiled.n_cores)
    core_syn = np.zeros(nc, np.int64)
    c2c = np.zeros((nc, nc), np.int64)
    z_rec = np.zeros((B, T, n_rec) if want_z else (1, 1, 1), np.uint8)
    y_rec = np.zeros((B, T, n_out), np.int64)
    loss_rec = np.zeros(B)
    nmask = np.zeros(B, np.int64)
    trial_loss = np.zeros(B * int(epochs))
    batch = int(batch_size) if batch_size is not None else int(getattr(rule, "batch", 1) or 1)
    nt = int(threads) if threads is not None else n_threads()
    order = np.arange(B, dtype=np.int64)
    history = []
    n_apply = 0
    t0 = time.perf_counter()
    for ep in range(int(epochs)):
        n_apply = learn_run(C, Tb, W, x, order, tgt, labels, mask, batch, ep * B, n_apply, nt, want_z, z_rec, y_rec,
                            loss_rec, nmask, cnt, core_syn, c2c)
        tl = loss_rec / np.maximum(nmask, 1) if loss_name == "ce" else loss_rec.copy()
        trial_loss[ep * B:(ep + 1) * B] = tl
        out = y_rec / float(compiled.scale_out) + W.b_out[None, None, :]
        h = {"epoch": ep, "loss": float(tl.mean())}
        if loss_name == "ce":
            from neurochip.learning.losses import accuracy
            h["accuracy"] = accuracy(out, labels, mask.astype(bool))
        history.append(h)
    wall = time.perf_counter() - t0
    counts = counts_from_kernel(compiled, B * int(epochs), T, cnt[None, :], core_syn[None], c2c[None],
                                int(chip_format(compiled)["weight_bits"]))
    wb = int(rule.weight_bits)
    tbl = Tb
    n_train = (W.in_w.size if rule.train_in else 0) + (W.rec_w.size if rule.train_rec else 0) + \
        (W.w_out_t.size if rule.train_out else 0)
    counts.trace_updates = int(cnt[L_TRACE])
    counts.weight_updates = int(cnt[L_WUPD])
    counts.learning_signal_msgs = int(cnt[L_LSMSG])
    counts.learning_signal_hops = int(cnt[L_LSHOPS])
    counts.learning_signal_macs = int(cnt[L_LSMACS])
    counts.bits_read += int(cnt[L_BITS_R]) + n_apply * n_train * int(rule.acc_bits) + int(cnt[L_WUPD]) * wb
    counts.bits_written += int(cnt[L_BITS_W]) + n_apply * n_train * int(rule.acc_bits) + int(cnt[L_WUPD]) * wb
    counts.saturations += int(cnt[L_SAT]) + int(cnt[L_CLIP])
    w_in = _dense_from_csr(tbl.in_ptr, tbl.in_idx, W.in_w, n_rec, n_in)
    if sp.issparse(compiled.w_rec):
        m = sp.csc_matrix(compiled.w_rec)
        m.sort_indices()
        w_rec = sp.csr_matrix(sp.csc_matrix((W.rec_w.copy(), m.indices, m.indptr), shape=m.shape))
        d_rec = w_rec - sp.csr_matrix(compiled.w_rec)
    else:
        w_rec = _dense_from_csr(tbl.rec_ptr, tbl.rec_idx, W.rec_w, n_rec, n_rec)
        d_rec = w_rec - np.asarray(compiled.w_rec, np.int32)
    w_out = np.ascontiguousarray(W.w_out_t.T.astype(np.int32))
    b0 = np.asarray(compiled.b_out, np.float64)
    outputs = y_rec / float(compiled.scale_out) + W.b_out[None, None, :]
    return RunResult(
        spikes=z_rec if want_z else np.zeros((B, T, n_rec), np.uint8), outputs=outputs, counts=counts,
        backend="native", out_int=y_rec,
        weights={"w_in": w_in, "w_rec": w_rec, "w_out": w_out, "b_out": W.b_out.copy()},
        weight_updates={"w_in": w_in - np.asarray(compiled.w_in, np.int32), "w_rec": d_rec,
                        "w_out": w_out - np.asarray(compiled.w_out, np.int32), "b_out": W.b_out - b0},
        meta={"wall_s": wall, "mode": "fixed", "learn": True, "epochs": history, "loss": loss_name,
              "kernel_digest": SOURCE_DIGEST,
              "eligibility": rule.eligibility, "rounding": rule.rounding, "weight_applications": n_apply,
              "batch_size": batch, "threads": nt, "trial_loss": trial_loss,
              "learning_saturations": int(cnt[L_SAT]),
              "accumulator_saturations": int(cnt[L_ACC_SAT]), "weight_clips": int(cnt[L_CLIP]),
              "learn_state": W, "gain_exp": W.gain_exp.tolist(), "residual": {"w_in": W.acc_in.copy(), "w_rec": W.acc_rec.copy(),
                                             "w_out": W.acc_out.T.copy()},
              # the learned change still held below the weight LSB, dense [post, pre] in weight LSBs: the
              # accumulators hold the pending decrease x 2^frac_bits (applied change + this = the whole
              # accumulated update, which validate compares with the float rule)
              "pending_lsb": {"w_in": -_dense_from_csr(tbl.in_ptr, tbl.in_idx, W.acc_in, n_rec, n_in) / 2.0 ** rule.frac_bits,
                              "w_rec": -_dense_from_csr(tbl.rec_ptr, tbl.rec_idx, W.acc_rec, n_rec, n_rec) / 2.0 ** rule.frac_bits,
                              "w_out": -W.acc_out.T.astype(np.float64) / 2.0 ** rule.frac_bits},
              "spike_rate_hz": spike_rate_hz(z_rec, compiled) if want_z else None,
              "per_trial_s": wall / max(1, B * int(epochs))},
    )
