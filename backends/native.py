"""Native backend: Numba kernels for fixed-point inference, on-chip e-prop, and the float reference.

``run(compiled, inputs, *, learn=False, targets=None, record=("spikes", "outputs"), mode="fixed",
seed=0, epochs=1, batch_size=None) -> RunResult``

- ``mode='fixed'``: docs/fixed_point.md exactly (``kernels.fixed_forward``), batch in parallel, every
  event counted in the kernel.
- ``mode='float'``: the CompiledNetwork's ``*_float`` weights through ``kernels.float_csr`` (the float
  reference's arithmetic and summation order over existing synapses only): spikes and outputs
  identical to `neurochip.simulate` (`backends.native_float`).
- ``learn=True`` (fixed mode only): on-chip e-prop (``kernels.eprop_fixed``) with the compiled rule
  (``compiled.rule``, a `CompiledRule`), trials in order, weights applied at each learning-epoch boundary;
  ``epochs`` passes over the inputs; ``RunResult.weights`` holds the learned int mantissas and
  ``meta['epochs']`` the per-epoch loss / accuracy (measured during learning, from the outputs).
"""
from __future__ import annotations

import os
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import BackendError, ConfigError
from .result import EventCounts, RunResult

NAME = "native"
RECORDABLE = ("spikes", "outputs", "v", "out_int")
# Declared capabilities (neurochip.backend_contract): callers ask these, never the name.
from ..backend_contract import Capabilities  # noqa: E402
CAPABILITIES = Capabilities(
    arithmetic="fixed", modes=("fixed", "float"), learning="compiled_rule", learned=("w_in", "w_rec", "w_out"),
    learning_note="the compiled on-chip rule exactly as lowered (kernels.eprop_fixed), fixed point",
    records=RECORDABLE, options=("mode",), bit_exact_with=("lava",), counts="kernel")
# Register widths used when a CompiledNetwork carries no profile (lava-nc's LIF: 24-bit u/v, shift 6, lava's
# overflow semantics)
DEFAULT_FORMAT = {"S": 6, "D": 12, "mem_bits": 24, "cur_bits": 24, "weight_bits": 9, "overflow": "lava"}


@dataclass(frozen=True)
class Tables:
    """Event-driven tables of one compiled network (built once per run)."""

    in_ptr: np.ndarray
    in_idx: np.ndarray
    in_w: np.ndarray
    rec_ptr: np.ndarray
    rec_idx: np.ndarray
    rec_w: np.ndarray
    w_out_t: np.ndarray
    routes: object


# What the backend derives from an artifact (CSR tables, routes, recoded weights, counts) is built once per
# CompiledNetwork object and kept beside it in this one map, artifact -> {name: value}. The artifact is frozen
# (its arrays never change) and the entry goes with it (weak keys), so a run of a new or edited artifact
# rebuilds. `clear_derived()` drops everything (memory, tests).
DERIVED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def derived(compiled, name: str, build):
    """``build(compiled)`` memoised under ``name`` for this CompiledNetwork object (see `DERIVED`); unhashable
    stand-ins are built every time."""
    try:
        per = DERIVED.get(compiled)
    except TypeError:
        return build(compiled)
    if per is None:
        per = DERIVED.setdefault(compiled, {})
    if name not in per:
        per[name] = build(compiled)
    return per[name]


def clear_derived() -> None:
    """Forget every memoised table of every artifact."""
    DERIVED.clear()


def _count_rec(compiled) -> int:
    m = compiled.rec_mask
    return int(m.count_nonzero()) if sp.issparse(m) else int(np.count_nonzero(m))


def n_rec_synapses(compiled) -> int:
    """Existing recurrent synapses (rec_mask dense bool or scipy CSR), memoised per CompiledNetwork (a
    dense N = 4096 mask costs ~5 ms to count, as much as a 100-step run)."""
    return derived(compiled, "n_rec_synapses", _count_rec)


def chip_format(compiled) -> dict:
    """Register widths, shifts and overflow semantics of ``compiled``'s profile (DEFAULT_FORMAT without a
    profile; a format without ``overflow`` is lava's). ``mode`` is the kernels' int code (`fixed_ops.OVF_*`)."""
    from neurochip.kernels.fixed_ops import OVERFLOW_MODES

    f = getattr(compiled.profile, "format", None)
    if f is None:
        d = dict(DEFAULT_FORMAT)
    else:
        d = {"S": int(f.threshold_shift), "D": int(f.decay_bits), "mem_bits": int(f.membrane_bits),
             "cur_bits": int(f.current_bits), "weight_bits": int(f.weight_bits),
             "overflow": str(getattr(f, "overflow", "lava"))}
    if d["overflow"] not in OVERFLOW_MODES:
        raise ConfigError(f"format.overflow = {d['overflow']!r}; known: {', '.join(OVERFLOW_MODES)}")
    d["mode"] = OVERFLOW_MODES[d["overflow"]]
    return d


def build_tables(compiled, w_in=None, w_rec=None, w_out=None) -> Tables:
    """CSR tables (by presynaptic neuron) and routes for ``compiled`` (optionally other mantissas)."""
    from neurochip.kernels.csr import build_routes, csr_by_pre, weight_dtype

    w_in = np.asarray(compiled.w_in if w_in is None else w_in)
    w_rec = compiled.w_rec if w_rec is None else w_rec
    if not sp.issparse(w_rec):
        w_rec = np.asarray(w_rec)
    w_out = np.asarray(compiled.w_out if w_out is None else w_out)
    dt = max(weight_dtype(w_in), weight_dtype(w_rec.data if sp.issparse(w_rec) else w_rec), key=lambda d: d.itemsize)
    ip, ii, iw = csr_by_pre(w_in, getattr(compiled, "in_mask", None), dt)       # a layer map's absent inputs are not synapses
    rp, ri, rw = csr_by_pre(w_rec, compiled.rec_mask, dt)
    return Tables(ip, ii, iw, rp, ri, rw, np.ascontiguousarray(w_out.T.astype(np.int64)), build_routes(compiled))


def tables_for(compiled) -> Tables:
    """`build_tables` memoised per CompiledNetwork object, so repeated runs of one artifact skip the
    O(synapses) CSR build."""
    return derived(compiled, "tables", build_tables)


@dataclass(frozen=True)
class FixedTables:
    """`Tables` recoded for the inference kernel (same synapses, same order): unsigned target indices
    (uint16 up to 65536 neurons: no wrap-around test, 2 bytes per synapse), and, when both exponents are
    >= 0, W_in and W_rec pre-shifted to the smaller one so one accumulator holds the whole input sum
    (``merged``; exact, see `kernels.fixed_forward.forward_fixed`). ``acc_proto`` is an empty array of the
    accumulator dtype: int32 when no target's sum of |mantissas| reaches 2^31 (no partial sum can
    overflow), else int64. ``in_gap`` / ``rec_gap`` name the rows that reach every post (or every post but
    one): the kernel adds those as contiguous vectorised runs instead of index by index."""

    in_ptr: np.ndarray
    in_idx: np.ndarray
    in_w: np.ndarray
    rec_ptr: np.ndarray
    rec_idx: np.ndarray
    rec_w: np.ndarray
    w_out_t: np.ndarray
    merged: bool
    e_in: int
    e_rec: int
    acc_proto: np.ndarray
    in_gap: np.ndarray          # int64 [n_in]: each row's shape (`kernels.csr.row_gaps`): full / all posts but m / other
    rec_gap: np.ndarray         # int64 [n_rec]: the same for the recurrent rows (p = 1: every post but itself)
    rec_pk: np.ndarray          # int32: (rec_w << 16) | rec_idx per synapse, or empty (`pack_rows`)


def pack_rows(idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """int32 (w << 16) | idx per synapse, when every index fits 16 unsigned bits and every mantissa 16 signed
    bits; else an empty array. The kernel reads idx = pk & 0xFFFF and w = pk >> 16 (arithmetic: the sign comes
    back), the same values as from the two arrays."""
    idx = np.asarray(idx, np.int64)
    w = np.asarray(w, np.int64)
    if idx.size and (idx.min() < 0 or idx.max() > 0xFFFF or w.min() < -(1 << 15) or w.max() >= (1 << 15)):
        return np.zeros(0, np.int32)
    return ((w << 16) | idx).astype(np.int32)


def _narrow_int(a: np.ndarray) -> np.ndarray:
    """``a`` in the narrowest of int8/16/32/64 that holds every value."""
    if a.size == 0:
        return a.astype(np.int16)
    lo, hi = int(a.min()), int(a.max())
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return a.astype(dt)
    return a.astype(np.int64)


def fixed_tables(compiled, tb: Tables) -> FixedTables:
    """`FixedTables` from the shared `Tables` of ``compiled`` (O(synapses), memoised by `fixed_tables_for`)."""
    from neurochip.kernels.csr import row_gaps

    n_rec = compiled.n_rec
    e_in, e_rec = int(compiled.e_in), int(compiled.e_rec)
    merged = e_in >= 0 and e_rec >= 0
    in_w = np.asarray(tb.in_w, np.int64)
    rec_w = np.asarray(tb.rec_w, np.int64)
    if merged:
        m = min(e_in, e_rec)
        in_w, rec_w = in_w << (e_in - m), rec_w << (e_rec - m)
        e_in = e_rec = m
    idx_dt = np.uint16 if n_rec <= (1 << 16) else np.uint32
    bound_in = np.bincount(tb.in_idx, np.abs(in_w).astype(np.float64), minlength=n_rec)
    bound_rec = np.bincount(tb.rec_idx, np.abs(rec_w).astype(np.float64), minlength=n_rec)
    bound = max(float((bound_in + bound_rec).max(initial=0)) if merged else
                max(float(bound_in.max(initial=0)), float(bound_rec.max(initial=0))), 0.0)
    acc_dt = np.int32 if bound < 2.0 ** 31 - 2.0 ** 20 else np.int64   # margin for float rounding of the bound
    w_dt = np.result_type(_narrow_int(in_w).dtype, _narrow_int(rec_w).dtype)
    return FixedTables(np.ascontiguousarray(tb.in_ptr, np.int64), tb.in_idx.astype(idx_dt), in_w.astype(w_dt),
                       np.ascontiguousarray(tb.rec_ptr, np.int64), tb.rec_idx.astype(idx_dt), rec_w.astype(w_dt),
                       np.ascontiguousarray(_narrow_int(np.asarray(tb.w_out_t, np.int64))),
                       merged, e_in, e_rec, np.zeros(0, acc_dt),
                       row_gaps(tb.in_ptr, tb.in_idx, n_rec), row_gaps(tb.rec_ptr, tb.rec_idx, n_rec),
                       pack_rows(tb.rec_idx, rec_w))


def fixed_tables_for(compiled, tb: Tables | None = None) -> FixedTables:
    """`fixed_tables` memoised per CompiledNetwork (only when built from its own `tables_for`)."""
    if tb is not None:
        return fixed_tables(compiled, tb)
    return derived(compiled, "fixed_tables", lambda c: fixed_tables(c, tables_for(c)))


def check_inputs(compiled, inputs, binary: bool = True, backend: str = "native fixed-point") -> np.ndarray:
    """Inputs [batch, time, n_in] of 0/1 spikes -> contiguous uint8; `BackendError` naming the problem.
    Shared by every chip backend (``backend`` names the caller in the message)."""
    x = np.asarray(inputs)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != compiled.n_in:
        raise BackendError(f"inputs must have shape [batch, time, n_in={compiled.n_in}], got {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise BackendError(f"inputs need at least one trial and one step, got shape {x.shape}")
    if binary and x.dtype != np.uint8 and x.dtype != bool and not np.isin(x, (0, 1)).all():
        raise BackendError(f"{backend} backend takes binary input spikes (0/1); graded inputs are not supported")
    if binary and x.dtype == np.uint8 and x.max() > 1:
        raise BackendError(f"{backend} backend takes binary input spikes (0/1), got values up to {int(x.max())}")
    return np.ascontiguousarray(x, dtype=np.uint8)


def _check_record(record) -> tuple:
    record = tuple(record or ())
    bad = [r for r in record if r not in RECORDABLE]
    if bad:
        raise ConfigError(f"record: unknown name(s) {bad}; known: {', '.join(RECORDABLE)}")
    return record


def _overflow_columns(tot) -> dict:
    """EventCounts overflow fields from a summed count row (zeros for a row without the C_OVF_* columns)."""
    from neurochip.kernels import fixed_forward as ff

    if tot.shape[0] <= ff.C_OVF_READOUT:
        return {}
    return {"overflow_current": int(tot[ff.C_OVF_CURRENT]), "overflow_membrane": int(tot[ff.C_OVF_MEMBRANE]),
            "overflow_readout": int(tot[ff.C_OVF_READOUT])}


def _count_consts(compiled) -> tuple:
    """What `counts_from_kernel` needs of an artifact alone: (dense synapses per step, neurons per core int64
    [n_cores])."""
    from neurochip.backend_contract import io_synapses
    core_of = np.asarray(compiled.core_of, np.int64)
    return (sum(io_synapses(compiled)) + n_rec_synapses(compiled),
            np.bincount(core_of, minlength=int(compiled.n_cores)).astype(np.int64))


def counts_from_kernel(compiled, B: int, T: int, cnt, core_syn, c2c, wbits: int) -> EventCounts:
    """Sum the kernel's per-trial count arrays into `EventCounts` (conventions: backends/counts.py)."""
    from neurochip.kernels import fixed_forward as ff

    n_rec, n_out = compiled.n_rec, compiled.n_out
    syn_dense, per_core = derived(compiled, "count_consts", _count_consts)
    one = B == 1                                     # one trial (the common inference call): no sums
    tot_a = cnt[0] if one else cnt.sum(axis=0)
    tot = tot_a.tolist()                             # Python ints: one conversion for every column
    c2c_t = c2c[0] if one else c2c.sum(axis=0)
    syn_ops = tot[ff.C_SYN_OPS]
    return EventCounts(
        steps=B * T, trials=B,
        neuron_updates=(n_rec + n_out) * B * T,
        neuron_updates_active=tot[ff.C_ACTIVE],
        spikes=tot[ff.C_SPIKES], input_spikes=tot[ff.C_INPUT_SPIKES],
        syn_ops=syn_ops,
        syn_ops_dense=syn_dense * B * T,
        spike_packets=tot[ff.C_PACKETS], mesh_hops=tot[ff.C_HOPS],
        bits_read=syn_ops * wbits, saturations=tot[ff.C_SATURATIONS],
        **_overflow_columns(tot_a),
        per_core_syn_ops=core_syn[0].copy() if one else core_syn.sum(axis=0),      # int64 (the kernel's)
        per_core_neuron_updates=per_core * (B * T),
        per_core_packets_out=c2c_t.sum(axis=1),
        core_to_core_packets=c2c_t.copy() if one else c2c_t,
    )


_POOL: list = [None, None]       # (pid, ThreadPoolExecutor): worker threads kept between runs


def _pool() -> ThreadPoolExecutor:
    """A process-wide pool of numba.config.NUMBA_NUM_THREADS workers for batch slices (re-created after a
    fork: a child does not inherit the parent's threads)."""
    import numba
    if _POOL[0] != os.getpid():
        _POOL[0], _POOL[1] = os.getpid(), ThreadPoolExecutor(max(1, numba.config.NUMBA_NUM_THREADS),
                                                             thread_name_prefix="neurochip-native")
    return _POOL[1]


def in_slices(B: int, part) -> None:
    """``part(b0, b1)`` over the batch 0..B-1: in one call, or in contiguous, equal slices on the pool's
    threads (one per Numba thread; the kernels release the GIL)."""
    import numba
    n_thr = min(B, numba.get_num_threads())
    if n_thr <= 1:
        part(0, B)
    else:
        cut = [B * k // n_thr for k in range(n_thr + 1)]
        list(_pool().map(part, cut[:-1], cut[1:]))


def kernel_args(compiled, tables: Tables | None = None) -> tuple:
    """The arguments of `kernels.fixed_forward.forward_fixed` from ``x`` to ``n_cores`` that depend on the
    artifact alone (tables, exponents, register format, routes). `run_fixed` memoises them per artifact
    (`derived`): building them costs ~10 us a call, 2 % of an N = 256 trial (measured, session 18)."""
    fm = chip_format(compiled)
    tb = tables or tables_for(compiled)
    ft = fixed_tables_for(compiled, tables)
    rt = tb.routes
    return (ft.in_ptr, ft.in_idx, ft.in_w, ft.in_gap, ft.rec_ptr, ft.rec_idx, ft.rec_w, ft.rec_gap, ft.rec_pk, ft.w_out_t,
            ft.merged, ft.acc_proto,
            ft.e_in, ft.e_rec, int(compiled.e_out), int(compiled.du), int(compiled.dv),
            int(compiled.da), int(compiled.dk), fm["D"], fm["S"], int(compiled.vth),
            np.asarray(compiled.bias_mant, np.int64) << int(compiled.bias_exp) if int(compiled.bias_exp) >= 0
            else np.asarray(compiled.bias_mant, np.int64) >> -int(compiled.bias_exp),
            np.asarray(compiled.beta_mant, np.int64), int(compiled.beta_shift), int(compiled.a_inc),
            int(compiled.n_ref), compiled.reset == "subtract", fm["cur_bits"], fm["mem_bits"], fm["mode"],
            np.asarray(compiled.core_of, np.int64), rt.dest_ptr, rt.dest_core, rt.dest_syn, rt.dest_hops,
            rt.in_core_syn, int(compiled.n_cores))


def run_fixed(compiled, x: np.ndarray, record=("spikes", "outputs"), tables: Tables | None = None):
    """Fixed-point inference of ``x`` (validated uint8 [B, T, n_in]). Returns (z, y_int, v|None, counts).
    Trials run in parallel, contiguous slices of the batch on ``numba.get_num_threads()`` threads."""
    from neurochip.kernels import fixed_forward as ff
    from neurochip.kernels.fixed_forward import N_COUNTS, forward_fixed

    from .kernel_cache import ensure_fresh
    ensure_fresh("inference")                        # no cached copy compiled from other sources than ours
    fm = chip_format(compiled)
    args = kernel_args(compiled, tables) if tables is not None else derived(compiled, "kernel_args", kernel_args)
    B, T, _ = x.shape
    n_rec, n_out, nc = compiled.n_rec, compiled.n_out, int(compiled.n_cores)
    want_v = "v" in record
    z = np.zeros((B, T, n_rec), np.uint8)
    y = np.zeros((B, T, n_out), np.int64)
    v = np.zeros((B, T, n_rec) if want_v else (1, 1, 1), np.int64)
    cnt = np.zeros((B, N_COUNTS), np.int64)
    core_syn = np.zeros((B, nc), np.int64)
    c2c = np.zeros((B, nc, nc), np.int64)
    args = args + (want_v,)

    def part(b0: int, b1: int) -> None:              # trials b0..b1-1 (the kernel releases the GIL)
        forward_fixed(x[b0:b1], *args, z[b0:b1], y[b0:b1], v[b0:b1] if want_v else v, cnt[b0:b1],
                      core_syn[b0:b1], c2c[b0:b1])

    in_slices(B, part)
    om = getattr(compiled, "out_mask", None)
    if om is not None:
        # the kernel counts n_out readout synapses per spike; a layer map's neuron has only its out_mask column
        missing = n_out - np.asarray(om, bool).sum(axis=0).astype(np.int64)           # [n_rec]
        cnt[:, ff.C_SYN_OPS] -= z.sum(axis=1, dtype=np.int64) @ missing
    counts = counts_from_kernel(compiled, B, T, cnt, core_syn, c2c, fm["weight_bits"])
    return z, y, (v if want_v else None), counts


def run(compiled, inputs, *, learn: bool = False, targets=None, record=("spikes", "outputs"), mode: str = "fixed",
        seed: int = 0, epochs: int = 1, batch_size: int | None = None, state=None, threads: int | None = None,
        **unknown) -> RunResult:
    """Run ``inputs [B, T, n_in]`` (0/1 spikes) through ``compiled``; see the module docstring.

    targets (learn=True): a `neurochip.tasks.Batch`-like object or dict with ``target``, ``mask`` [B, T]
        and ``loss`` ('mse' | 'ce'), or a bare array: float [B, T, n_out] (MSE, every step) or int
        [B, T] class labels (CE, every step).
    record: names among 'spikes', 'outputs', 'v' (membrane, int64 / float64), 'out_int'.
    seed: stochastic-rounding seed of the learning run (the compiled rule's seed is mixed in).
    epochs: passes over the inputs when learning; batch_size: trials per weight application
        (default: the compiled rule's batch); state: a previous learning result's meta['learn_state'] to
        continue from (weights, residuals, calibrated gains); threads: parallel chunks of a batch
        (default: Numba's thread count; results are identical for any value).
    Returns `RunResult` (backend 'native' or 'native-float'), outputs on the float time axis. Any other
    keyword argument is a `BackendError` naming it (a misspelled option is never swallowed).
    """
    from ..backend_contract import reject_unknown_options
    reject_unknown_options(NAME, CAPABILITIES, unknown)
    if mode not in ("fixed", "float"):
        raise ConfigError(f"mode must be 'fixed' or 'float', got {mode!r}")
    record = _check_record(record)
    x = check_inputs(compiled, inputs)
    t0 = time.perf_counter()
    if learn:
        if mode != "fixed":
            raise ConfigError("learn=True runs the on-chip (fixed-point) rule; use mode='fixed' "
                              "(float learning is neurochip.learning's job)")
        if getattr(compiled, "plasticity", None) is not None:
            # an STDP-family rule: Loihi's plasticity engine on W_in, trial by trial (backends.native_stdp)
            from .native_stdp import run_learning as run_plastic
            return overflow_note(run_plastic(compiled, x, targets, record=record, seed=seed, epochs=epochs,
                                             state=state))
        from .native_learn import run_learning
        return overflow_note(run_learning(compiled, x, targets, record=record, seed=seed, epochs=epochs,
                                          batch_size=batch_size, state=state, threads=threads))
    if mode == "fixed":
        z, y, v, counts = run_fixed(compiled, x, record)
        outputs = y.astype(np.float64)               # y / scale + b_out (float64(y) / scale: the same division
        outputs /= float(compiled.scale_out)         # as y / scale), in place: 4 against 12 us at T = 1000
        outputs += np.asarray(compiled.b_out, np.float64)[None, None, :]
        backend, out_int = NAME, y
    else:
        from .native_float import run_float
        z, outputs, v, counts = run_float(compiled, x, record)
        backend, out_int = NAME + "-float", None
    wall = time.perf_counter() - t0
    B, T, _ = x.shape
    return overflow_note(RunResult(spikes=z, outputs=outputs, counts=counts, backend=backend, v=v,
                                   out_int=out_int if "out_int" in record or mode == "fixed" else None,
                                   meta={"wall_s": wall, "mode": mode,
                                         "syn_events_per_s": counts.syn_ops / max(wall, 1e-12),
                                         "spike_rate_hz": spike_rate_hz(z, compiled, counts.spikes)}))


def overflow_note(r: RunResult) -> RunResult:
    """Never silent: put the overflow events per register kind in ``r.meta['overflow']`` and warn
    (`compiler.check.FixedPointOverflowWarning`) when any register wrapped or saturated."""
    c = r.counts
    if r.meta.get("learn") and not (c.overflow_trace or c.overflow_accumulator or c.overflow_weight):
        # the learning kernel's own clips (backends/native_learn.py meta): accumulator saturations are also
        # inside learning_saturations, which holds the trace / eligibility / signal / error clips
        acc = int(r.meta.get("accumulator_saturations", 0))
        c.overflow_accumulator = acc
        c.overflow_trace = int(r.meta.get("learning_saturations", 0)) - acc
        c.overflow_weight = int(r.meta.get("weight_clips", 0))
    ov = c.overflows()
    rest = int(c.saturations) - sum(ov.values())
    if rest > 0:               # events a kernel counted without their kind (see docs/fixed_point.md "Registers")
        ov["unattributed"] = rest
    r.meta["overflow"] = ov
    if any(ov.values()):
        import warnings

        from neurochip.compiler.check import FixedPointOverflowWarning
        kinds = ", ".join(f"{k} {n}" for k, n in ov.items() if n)
        warnings.warn(f"native run: registers wrapped or saturated ({kinds} events; docs/fixed_point.md "
                      f"\"Registers\")", FixedPointOverflowWarning, stacklevel=3)
    return r


def spike_rate_hz(z: np.ndarray, compiled, n_spikes: int | None = None) -> float:
    """Mean recurrent firing rate in Hz (dt from the source NeuronParams, 1 ms if unknown). ``n_spikes``: the
    number of spikes in ``z`` when already counted (the same value as ``z.mean()``: a float64 sum of 0/1 is
    the exact count, divided by the size; saves a pass over the raster per run)."""
    dt = float((compiled.float_params or {}).get("dt", 1.0))
    if not z.size:
        return 0.0
    mean = float(n_spikes) / z.size if n_spikes is not None else float(z.mean())
    return mean * 1000.0 / dt
