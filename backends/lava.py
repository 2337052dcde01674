"""lava-nc backend: run a `CompiledNetwork` on lava's bit-accurate Loihi emulator (lava-nc 0.10).

``run(compiled, inputs, ...) -> RunResult`` has the native backend's contract; results are aligned to
the float time axis (docs/fixed_point.md "Time axis").

Process graph per trial (chip steps 1 .. T+2, lava's `LoihiProtocol`):

    RingBuffer(x, 2 zero columns appended) -> Dense(w_in, e_in) --\
                                                                   +-> rec neurons --> Dense(w_out, e_out) -> readout
                          rec neurons -> Dense(w_rec, e_rec) -----/

- Dense: lava's `PyDenseModelBitAcc`, weights = the compiled mantissas, ``weight_exp`` = the projection
  exponent, ``sign_mode = MIXED`` and ``num_weight_bits = 9`` so that lava's one-time preparation
  (clip to [-256, 255], then drop ``8 - 9 + 1 = 0`` LSBs) is the identity on our 9-bit mantissas.
  `_check_lava_fit` refuses mantissas outside that range instead of letting lava clip them.
- Recurrent neurons: lava's own `LIF` / `PyLifModelBitAcc` when the compiled network uses only what it
  implements (reset = 'zero', n_ref = 1, no adaptation, 24-bit u/v, threshold shift 6). Otherwise our own
  fixed-point model `neurochip.backends.lava_models.chip_neuron` (reset by subtraction, refractory, ALIF):
  a comparison against that is our model against our model, reported in ``meta['neuron_model']``.
- Readout: lava's own LIF with ``du = 4095`` (u = input, no memory), ``dv = dk`` and a threshold that
  v can never exceed (vth << 6 = 2^23 > 2^23 - 1), i.e. exactly docs/fixed_point.md's leaky readout.
- Read-out of spikes through `Extractor` (fast); of voltages and the readout state through `Monitor`
  (about 40 us per element: fine for n_out x T, costly for large n_rec x T, so 'v' is opt-in).

Time axis: a spike or input at chip step s reaches u at s + 1 and the RingBuffer sends column c at
step c + 1, so float step t of the recurrent layer is chip step t + 2 (1-based) and the readout, one
Dense further, is chip step t + 3.

Learning (``CAPABILITIES.learning == 'partial'``): the compiled e-prop rule is not expressible in lava's
engine, so ``run(learn=True)`` runs the part that is, ``dw = 2^e u0 x1 y2 y3`` on w_in and w_rec
(`run_eprop3f`, docs/backends.md), with learning-signal codes from the chip's own readout error
(`eprop_learning_signal`, from a lava inference run with the current weights). Trials in groups of
``batch_size`` learn from the same weights; the group's summed change is applied (clipped to lava's
weight range) before the next group, ``epochs`` times over the inputs: the native backend's schedule.
w_out is not learned (the engine's post traces live on the recurrent neurons). Event counts cover the
inference runs only (lava exposes no learning-event counters).

Isolation: lava forks one OS process per lava process and leaves the interpreter hanging if
``stop()`` is missed, so every run happens in a child interpreter (``python -m
neurochip.backends.lava_child JOBDIR``, the only module that imports lava) in its own session. Job and result travel as pickle-free bundles
(`neurochip.io`). Past ``timeout_s`` the whole session is killed and the shared-memory segments its
processes had mapped are unlinked, then `BackendError` is raised. Ctrl-C does the same and re-raises.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ..backend_contract import Capabilities, RunResult, check_record, check_spike_inputs, reject_unknown_options
from ..errors import BackendError
from .counts import counts_from_spikes, dense
from .lava_runtime import _kill_session, _run_child, _session_pids, _shm_of  # noqa: F401  (tests use them)

NAME = "lava"
JOB_SCHEMA = 1
CAPABILITIES = Capabilities(
    arithmetic="fixed", learning="partial", learned=("w_in", "w_rec"),
    learning_note="lava's LearningDense/LearningSparse with dw = 2^-7 u0 x1 y2 y3 (y2 = learning-signal code from "
                  "the chip's readout error, y3 = pseudo-derivative code) on w_in and w_rec; w_out not learned",
    records=("spikes", "outputs", "v", "out_int"), options=("timeout_s",), bit_exact_with=("native",),
    counts="spikes", startup_s=2.0)
# The learning rule run by run(learn=True) (crosschecked against kernels.lava_engine in tests/crosscheck):
LEARN_EXP = -7          # dw = 2^-7 u0 x1 y2 y3: x1 (7 b) x y2 (7 b + sign) x y3 (7 b) ~ 2^21 -> ~2^14 LSB at most
LEARN_X1_IMPULSE = 20.0  # x1 jump per input spike (7-bit trace; 20 leaves headroom for ~6 spikes within tau)
LEARN_X1_TAU = 20        # x1 decay time constant, steps (the membrane's 20 ms at dt = 1 ms)
# lava-nc's PyLifModelBitAcc / PyDenseModelBitAcc register widths (docs/backends.md)
LAVA_UV_BITS = 24
LAVA_SHIFT = 6
LAVA_W_MIN, LAVA_W_MAX = -256, 255
READOUT_VTH = 1 << 17          # vth << 6 = 2^23: v saturates at 2^23 - 1, so the readout never spikes


# --------------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------------
def lava_native_lif(compiled) -> bool:
    """True when the recurrent layer is exactly lava's own `PyLifModelBitAcc` (no model of ours)."""
    beta = np.asarray(compiled.beta_mant)
    return (compiled.reset == "zero" and int(compiled.n_ref) == 1
            and (compiled.neuron_kind == "lif" or not beta.any()))


def _check_lava_fit(compiled) -> None:
    """Raise `BackendError` naming every field that lava's bit-accurate models cannot represent."""
    problems = []
    fmt = getattr(compiled.profile, "format", None)
    if fmt is not None:
        for name, want in (("membrane_bits", LAVA_UV_BITS), ("current_bits", LAVA_UV_BITS),
                           ("threshold_shift", LAVA_SHIFT), ("decay_bits", 12)):
            have = getattr(fmt, name)
            if have != want:
                problems.append(f"profile format.{name} = {have}, lava's LIF has {want}")
        if getattr(fmt, "overflow", "lava") != "lava":
            problems.append(f"profile format.overflow = {fmt.overflow!r}: lava-nc's registers behave as 'lava' at their "
                            "limits (docs/fixed_point.md \"Registers\")")
    for name in ("w_in", "w_rec", "w_out"):
        w = dense(getattr(compiled, name))
        if w.size and (w.min() < LAVA_W_MIN or w.max() > LAVA_W_MAX):
            problems.append(f"{name} mantissas span [{int(w.min())}, {int(w.max())}], lava's Dense holds "
                            f"[{LAVA_W_MIN}, {LAVA_W_MAX}] (8 bits + sign)")
    for name in ("du", "dv", "dk"):
        d = int(getattr(compiled, name))
        if not 0 <= d <= 4095:
            problems.append(f"{name} = {d}, lava's decays are 12-bit unsigned (0..4095)")
    if not 0 <= int(compiled.vth) < (1 << 17):
        problems.append(f"vth = {compiled.vth}, lava's threshold is 17-bit unsigned")
    if problems:
        raise BackendError("compiled network does not fit lava-nc's bit-accurate models: " + "; ".join(problems))


def _check_inputs(compiled, inputs) -> np.ndarray:
    return check_spike_inputs(compiled.n_in, inputs, backend=NAME, binary=True)


# --------------------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------------------
def _job_arrays(compiled) -> tuple[dict, dict]:
    arrays = {
        "w_in": dense(compiled.w_in).astype(np.int32), "w_rec": dense(compiled.w_rec).astype(np.int32),
        "w_out": dense(compiled.w_out).astype(np.int32), "rec_mask": dense(compiled.rec_mask).astype(bool),
        "bias_mant": np.asarray(compiled.bias_mant, np.int32),
        "beta_mant": np.asarray(compiled.beta_mant, np.int32),
    }
    meta = {k: int(getattr(compiled, k)) for k in
            ("e_in", "e_rec", "e_out", "du", "dv", "da", "dk", "vth", "bias_exp", "beta_shift", "a_inc", "n_ref")}
    meta.update(reset=str(compiled.reset), neuron_kind=str(compiled.neuron_kind),
                lava_lif=lava_native_lif(compiled))
    return arrays, meta


def run(compiled, inputs, *, learn: bool = False, targets=None, record=("spikes", "outputs"),
        seed: int = 0, epochs: int = 1, batch_size: int | None = None, timeout_s: float | None = None,
        **unknown) -> RunResult:
    """Run ``inputs [B, T, n_in]`` (0/1) through lava's fixed-point emulator.

    record: names among 'spikes', 'outputs', 'v', 'out_int'. 'v' adds the recurrent membrane
        [B, T, n_rec] (int64, after reset, lava's v register) at ~40 us per value.
    timeout_s: wall-clock limit for the whole run (default: 60 s + 5x the expected lava time).
    learn=True: the partial e-prop rule of the module docstring; ``targets`` (Batch-like: target, mask,
        loss) required; epochs / batch_size as in the native backend (batch_size None = every trial);
        ``seed`` seeds the engine's stochastic rounding. ``weights`` holds the final mantissas.
    Returns `RunResult` (backend 'lava'): spikes [B, T, n_rec] uint8, outputs [B, T, n_out] float64
    (y / scale_out + b_out), out_int [B, T, n_out] int64, counts from the recorded spikes.
    Unknown keyword arguments are an error.
    """
    from neurochip.io import load_bundle, save_bundle

    reject_unknown_options(NAME, CAPABILITIES, unknown)
    record = check_record(NAME, CAPABILITIES, record)
    _check_lava_fit(compiled)
    x = _check_inputs(compiled, inputs)
    if learn:
        from .lava_learn import run_learning
        return run_learning(compiled, x, targets, seed=seed, epochs=epochs, batch_size=batch_size,
                            timeout_s=timeout_s)
    B, T, _ = x.shape
    want_v = "v" in record
    if timeout_s is None:
        # per trial: ~1-2 s start-up, ~8 ms per chip step (process synchronisation, flat in N up to ~1k),
        # 40 us per Monitor-read value; x5 margin for a loaded machine
        per_trial = 2.0 + 0.01 * (T + 2) + 4e-5 * (T + 2) * (compiled.n_out + (compiled.n_rec if want_v else 0))
        timeout_s = 60.0 + 5.0 * B * per_trial + 1e-6 * B * T * compiled.n_rec
    arrays, meta = _job_arrays(compiled)
    arrays["x"] = x
    meta["record_v"] = bool(want_v)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neurochip-lava-") as tmp:
        save_bundle(Path(tmp) / "job", "lava-job", JOB_SCHEMA, arrays, meta)
        _run_child(tmp, timeout_s)
        res, rmeta = load_bundle(Path(tmp) / "result", "lava-result", JOB_SCHEMA)
    wall = time.perf_counter() - t0

    spikes = res["spikes"].astype(np.uint8)
    out_int = res["y"].astype(np.int64)
    outputs = out_int / float(compiled.scale_out) + np.asarray(compiled.b_out, np.float64)[None, None, :]
    counts = counts_from_spikes(compiled, x, spikes)
    # lava exposes no overflow counter: count register values pinned at the 24-bit limit in what was
    # recorded (readout always, v when recorded). A lower bound: u wraps are invisible here.
    lim = (1 << (LAVA_UV_BITS - 1)) - 1
    counts.saturations = int((np.abs(out_int) == lim).sum()) + (int((np.abs(res["v"]) == lim).sum()) if want_v else 0)
    return RunResult(
        spikes=spikes, outputs=outputs, counts=counts, backend=NAME,
        v=res["v"].astype(np.int64) if want_v else None, out_int=out_int,
        meta={"wall_s": wall, "lava_s": rmeta.get("lava_s"), "build_s": rmeta.get("build_s"),
              "run_s": rmeta.get("run_s"), "run_ms_per_step": 1e3 * rmeta.get("run_s", 0.0) / max(1, B * (T + 1)),
              "neuron_model": "lava PyLifModelBitAcc" if meta["lava_lif"] else "neurochip lava_models.ChipNeuron",
              "chip_steps_per_trial": T + 2},
    )


def run_eprop3f(compiled, x, l_code, *, exp: int = -3, x1_impulse: float = 20.3, x1_tau: int = 12,
                rng_seed: int = 7, learn_rec: bool = False, timeout_s: float | None = None) -> dict:
    """On-chip learning of the input weights with lava's own learning engine (the part of e-prop it expresses).

    Rule: ``dw = 2^exp * u0 * x1 * y2 * y3`` (Loihi3FLearningRule, t_epoch 1) on a LearningDense holding
    w_in; the recurrent neurons are our `EpropNeuron` (y2 = l_code, y3 = pseudo-derivative code).
    x: [steps, n_in] 0/1 chip-step columns (column s-1 sent at chip step s); l_code: [steps, n_rec] int,
    the learning-signal code each neuron receives at chip step s (pass -L for a descent step).
    learn_rec: also learn w_rec with the same rule on a LearningSparse (existing, non-zero synapses only).
    Returns {'w_in' (and 'w_rec'): int64 final mantissas, 'spikes': [steps, n_rec] uint8, 'build_s', 'run_s'}; compare
    with `neurochip.kernels.lava_engine.emulate_eprop3f` (bit-exact emulation).
    """
    from neurochip.io import load_bundle, save_bundle

    _check_lava_fit(compiled)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != compiled.n_in or not np.isin(x, (0, 1)).all():
        raise BackendError(f"x must be [steps, n_in={compiled.n_in}] 0/1, got shape {x.shape}")
    l_code = np.asarray(l_code)
    if l_code.shape != (x.shape[0], compiled.n_rec):
        raise BackendError(f"l_code must be [steps={x.shape[0]}, n_rec={compiled.n_rec}], got {l_code.shape}")
    if not -7 <= exp <= 8:
        raise BackendError(f"rule exponent {exp} outside lava's [-7, 8]")
    arrays, meta = _job_arrays(compiled)
    arrays.update(x=x.astype(np.uint8), l_code=l_code.astype(np.int32))
    meta.update(mode="eprop3f", learn_rec=bool(learn_rec), exp=int(exp), x1_impulse=float(x1_impulse), x1_tau=int(x1_tau), rng_seed=int(rng_seed))
    timeout_s = timeout_s if timeout_s is not None else 60.0 + 0.05 * x.shape[0]
    with tempfile.TemporaryDirectory(prefix="neurochip-lava-") as tmp:
        save_bundle(Path(tmp) / "job", "lava-job", JOB_SCHEMA, arrays, meta)
        _run_child(tmp, timeout_s)
        res, rmeta = load_bundle(Path(tmp) / "result", "lava-result", JOB_SCHEMA)
    out = {"w_in": res["w_in"], "spikes": res["spikes"], **rmeta}
    if learn_rec:
        out["w_rec"] = res["w_rec"]
    return out


def learning_signal_codes(compiled, err: np.ndarray) -> tuple[np.ndarray, float]:
    """Learning-signal codes for `run_eprop3f` from one trial's readout error ``err = dE/do [T, n_out]``.

    L^t = B err^t through the feedback matrix (the compiled rule's B mantissas if any, else the float B);
    the codes are -L scaled so that max |L| maps to 127 (descent direction; the engine's y2 is 7 bits +
    sign) and shifted onto the chip time axis (neuron state at chip step s is float step s - 2).
    Returns (l_code [T + 2, n_rec] int64, scale = code units per unit of L)."""
    B = np.asarray(compiled.B_float if compiled.rule is None else compiled.rule.B_mant, np.float64)
    L = np.asarray(err, np.float64) @ B.T                        # [T, n_rec]
    m = float(np.abs(L).max()) if L.size else 0.0
    scale = 127.0 / m if m > 0 else 1.0
    code = np.zeros((L.shape[0] + 2, compiled.n_rec), np.int64)
    code[2:] = np.rint(-L * scale).astype(np.int64)
    return code, scale


def eprop_learning_signal(compiled, x: np.ndarray, target, mask: np.ndarray, loss: str, *,
                          outputs: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """`learning_signal_codes` for one trial ``x [T, n_in]`` from the chip's own readout error: the outputs
    of a lava inference run of ``compiled`` (or ``outputs [T, n_out]`` when the caller has them).
    Returns (l_code [T + 2, n_rec] int, scale)."""
    from neurochip.learning.losses import task_loss

    if outputs is None:
        outputs = run(compiled, np.asarray(x)[None]).outputs[0]
    _, err = task_loss(np.asarray(outputs)[None], np.asarray(target)[None], np.asarray(mask)[None], loss)
    return learning_signal_codes(compiled, err[0])
