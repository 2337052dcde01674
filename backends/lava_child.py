"""lava backend, child side: ``python -m neurochip.backends.lava_child JOBDIR`` builds the lava process graph
for each trial of the job bundle ``JOBDIR/job`` (written by `neurochip.backends.lava.run`), runs it on lava's
bit-accurate emulator, stops it and writes ``JOBDIR/result``. It runs in its own interpreter and session
(see `neurochip.backends.lava_runtime`); lava is imported only here. The process graph and the time axis are
described in `neurochip.backends.lava`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .lava import JOB_SCHEMA, READOUT_VTH


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
