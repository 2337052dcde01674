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
neurochip.backends.lava JOBDIR``) in its own session. Job and result travel as pickle-free bundles
(`neurochip.io`). Past ``timeout_s`` the whole session is killed and the shared-memory segments its
processes had mapped are unlinked, then `BackendError` is raised. Ctrl-C does the same and re-raises.
"""
from __future__ import annotations

import sys
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


# --------------------------------------------------------------------------------------------------
# child side (runs in its own interpreter; lava is imported only here)
# --------------------------------------------------------------------------------------------------
def _build_and_run(a: dict, m: dict, xb: np.ndarray) -> dict:
    """Build the lava graph for one trial ``xb [T, n_in]``, run T + 2 steps, stop, return raw arrays."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.models import PyMonitorModel
    from lava.proc.monitor.process import Monitor
    from lava.utils.weightutils import SignMode

    T, n_in = xb.shape
    n_rec, n_out = a["w_rec"].shape[0], a["w_out"].shape[0]
    steps = T + 2
    data = np.zeros((n_in, steps), np.int32)
    data[:, :T] = xb.T
    # identity weight preparation: MIXED sign, 9 weight bits -> clip [-256, 255], 0 LSBs dropped
    wkw = dict(sign_mode=SignMode.MIXED, num_weight_bits=9)
    src = RingBuffer(data=data)
    d_in = Dense(weights=a["w_in"], weight_exp=m["e_in"], **wkw)
    d_rec = Dense(weights=a["w_rec"] * a["rec_mask"], weight_exp=m["e_rec"], **wkw)
    d_out = Dense(weights=a["w_out"], weight_exp=m["e_out"], **wkw)
    exception_map = {Extractor: PyLoihiExtractorModel, Monitor: PyMonitorModel}
    if m["lava_lif"]:
        # bias 0 during chip step 1 (it has no float counterpart), set to the compiled bias after it:
        # lava rescales the bias every step, so bias_mant.set() is safe (unlike vth/du/dv)
        rec = LIF(shape=(n_rec,), du=m["du"], dv=m["dv"], vth=m["vth"],
                  bias_mant=np.zeros(n_rec, np.int16), bias_exp=np.full(n_rec, m["bias_exp"], np.int16))
        v_port = None
    else:
        from neurochip.backends.lava_models.chip_neuron import ChipNeuron, PyChipNeuronModel
        rec = ChipNeuron(shape=(n_rec,), du=m["du"], dv=m["dv"], da=m["da"], vth=m["vth"],
                         bias_mant=a["bias_mant"], bias_exp=m["bias_exp"], beta_mant=a["beta_mant"],
                         beta_shift=m["beta_shift"], a_inc=m["a_inc"], n_ref=m["n_ref"],
                         reset_subtract=int(m["reset"] == "subtract"))
        exception_map[ChipNeuron] = PyChipNeuronModel
        v_port = rec.v_out
    ro = LIF(shape=(n_out,), du=4095, dv=m["dk"], vth=READOUT_VTH, bias_mant=np.zeros(n_out, np.int16),
             bias_exp=np.zeros(n_out, np.int16))
    src.s_out.connect(d_in.s_in)
    d_in.a_out.connect(rec.a_in)
    rec.s_out.connect(d_rec.s_in)
    d_rec.a_out.connect(rec.a_in)
    rec.s_out.connect(d_out.s_in)
    d_out.a_out.connect(ro.a_in)
    ext = Extractor(shape=(n_rec,), buffer_size=steps + 1)
    rec.s_out.connect(ext.in_port)
    ext_v = mon_v = None
    if m["record_v"]:
        if v_port is not None:
            ext_v = Extractor(shape=(n_rec,), buffer_size=steps + 1)
            v_port.connect(ext_v.in_port)
        else:
            mon_v = Monitor()
            mon_v.probe(target=rec.v, num_steps=steps)
    mon_y = Monitor()
    mon_y.probe(target=ro.v, num_steps=steps)
    cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=exception_map)
    out = {}
    try:
        t0 = time.perf_counter()
        rec.run(condition=RunSteps(num_steps=1), run_cfg=cfg)      # compiles the graph and forks the processes
        t1 = time.perf_counter()
        if a["bias_mant"].any():
            rec.bias_mant.set(a["bias_mant"].astype(np.int16 if m["lava_lif"] else np.int64))
        rec.run(condition=RunSteps(num_steps=steps - 1), run_cfg=cfg)
        out["build_s"], out["run_s"] = t1 - t0, time.perf_counter() - t1   # run_s: steps 2 .. T+2
        s = np.stack([ext.receive() for _ in range(steps)])            # [steps, n_rec]
        out["spikes"] = s[1:T + 1] != 0                                  # chip step t+2 -> float t
        y = np.asarray(mon_y.get_data()[ro.name]["v"]).reshape(steps, n_out)
        out["y"] = y[2:T + 2].astype(np.int64)                            # readout: chip step t+3
        if ext_v is not None:
            out["v"] = np.stack([ext_v.receive() for _ in range(steps)])[1:T + 1].astype(np.int64)
        elif mon_v is not None:
            out["v"] = np.asarray(mon_v.get_data()[rec.name]["v"]).reshape(steps, n_rec)[1:T + 1].astype(np.int64)
    finally:
        rec.stop()
    return out


def _build_and_run_eprop3f(a: dict, m: dict) -> dict:
    """One learning run: RingBuffer(x) -> LearningDense(w_in, 3F rule) -> EpropNeuron (+ static Dense(w_rec)),
    learning-signal codes from a second RingBuffer into a_third_factor_in (same step)."""
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense, LearningDense
    from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
    from lava.proc.io.source import RingBuffer
    from lava.utils.weightutils import SignMode

    from neurochip.backends.lava_models.eprop_neuron import EpropNeuron, PyEpropNeuronModel

    x, l_code = a["x"], a["l_code"]                       # [steps, n_in], [steps, n_rec]
    steps = x.shape[0]
    n_rec = a["w_rec"].shape[0]
    wkw = dict(sign_mode=SignMode.MIXED, num_weight_bits=9)
    rule = Loihi3FLearningRule(dw=f"2^{m['exp']} * u0 * x1 * y2 * y3", x1_impulse=m["x1_impulse"],
                               x1_tau=m["x1_tau"], t_epoch=1, rng_seed=m["rng_seed"])
    src = RingBuffer(data=np.ascontiguousarray(x.T, np.int32))
    lsrc = RingBuffer(data=np.ascontiguousarray(l_code.T, np.int32))
    ld = LearningDense(weights=a["w_in"], learning_rule=rule, weight_exp=m["e_in"], **wkw)
    if m.get("learn_rec"):
        from lava.proc.sparse.process import LearningSparse
        from scipy.sparse import csr_matrix
        rule_rec = Loihi3FLearningRule(dw=f"2^{m['exp']} * u0 * x1 * y2 * y3", x1_impulse=m["x1_impulse"],
                                       x1_tau=m["x1_tau"], t_epoch=1, rng_seed=m["rng_seed"])
        d_rec = LearningSparse(weights=csr_matrix(a["w_rec"] * a["rec_mask"]), learning_rule=rule_rec,
                               weight_exp=m["e_rec"], **wkw)
    else:
        d_rec = Dense(weights=a["w_rec"] * a["rec_mask"], weight_exp=m["e_rec"], **wkw)
    nrn = EpropNeuron(shape=(n_rec,), du=m["du"], dv=m["dv"], da=m["da"], vth=m["vth"], bias_exp=m["bias_exp"],
                      beta_mant=a["beta_mant"], beta_shift=m["beta_shift"], a_inc=m["a_inc"], n_ref=m["n_ref"],
                      reset_subtract=int(m["reset"] == "subtract"))
    src.s_out.connect(ld.s_in)
    ld.a_out.connect(nrn.a_in)
    nrn.s_out.connect(d_rec.s_in)
    d_rec.a_out.connect(nrn.a_in)
    lsrc.s_out.connect(nrn.a_third_factor_in)
    nrn.s_out_bap.connect(ld.s_in_bap)
    nrn.s_out_y1.connect(ld.s_in_y1)
    nrn.s_out_y2.connect(ld.s_in_y2)
    nrn.s_out_y3.connect(ld.s_in_y3)
    if m.get("learn_rec"):
        nrn.s_out_bap.connect(d_rec.s_in_bap)
        nrn.s_out_y1.connect(d_rec.s_in_y1)
        nrn.s_out_y2.connect(d_rec.s_in_y2)
        nrn.s_out_y3.connect(d_rec.s_in_y3)
    ext = Extractor(shape=(n_rec,), buffer_size=steps + 1)
    nrn.s_out.connect(ext.in_port)
    cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={
        Extractor: PyLoihiExtractorModel, EpropNeuron: PyEpropNeuronModel})
    out = {}
    try:
        t0 = time.perf_counter()
        nrn.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
        t1 = time.perf_counter()
        if a["bias_mant"].any():
            nrn.bias_mant.set(a["bias_mant"].astype(np.int64))
        if steps > 1:
            nrn.run(condition=RunSteps(num_steps=steps - 1), run_cfg=cfg)
        out["build_s"], out["run_s"] = t1 - t0, time.perf_counter() - t1
        out["spikes"] = np.stack([ext.receive() for _ in range(steps)]).astype(np.uint8)
        out["w_in"] = np.rint(np.asarray(ld.weights.get())).astype(np.int64)
        if m.get("learn_rec"):
            wr = d_rec.weights.get()
            out["w_rec"] = np.rint(wr.toarray() if hasattr(wr, "toarray") else np.asarray(wr)).astype(np.int64)
    finally:
        nrn.stop()
    return out


def _child_main(jobdir: str) -> int:
    from neurochip.io import load_bundle, save_bundle

    a, m = load_bundle(Path(jobdir) / "job", "lava-job", JOB_SCHEMA)
    if m.get("mode") == "eprop3f":
        o = _build_and_run_eprop3f(a, m)
        save_bundle(Path(jobdir) / "result", "lava-result", JOB_SCHEMA,
                    {"spikes": o["spikes"], "w_in": o["w_in"], "w_rec": o.get("w_rec", np.zeros((0, 0), np.int64))},
                    {"build_s": o["build_s"], "run_s": o["run_s"]})
        return 0
    x = a["x"]
    B, T, _ = x.shape
    n_rec, n_out = a["w_rec"].shape[0], a["w_out"].shape[0]
    spikes = np.zeros((B, T, n_rec), np.uint8)
    y = np.zeros((B, T, n_out), np.int64)
    v = np.zeros((B, T, n_rec), np.int64) if m["record_v"] else np.zeros((0, 0, 0), np.int64)
    t0 = time.perf_counter()
    build_s = run_s = 0.0
    for b in range(B):
        o = _build_and_run(a, m, x[b])
        build_s += o["build_s"]
        run_s += o["run_s"]
        spikes[b] = o["spikes"]
        y[b] = o["y"]
        if m["record_v"]:
            v[b] = o["v"]
    save_bundle(Path(jobdir) / "result", "lava-result", JOB_SCHEMA, {"spikes": spikes, "y": y, "v": v},
                {"lava_s": time.perf_counter() - t0, "build_s": build_s, "run_s": run_s})
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
