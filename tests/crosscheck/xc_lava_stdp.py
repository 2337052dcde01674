"""Child-interpreter runner: K LearningDense processes, each with its own lava rule, in ONE lava run.

Usage: python xc_lava_stdp.py JOBDIR   (reads JOBDIR/job.npz + job.json, writes JOBDIR/out.npz)

All K connections share the run's spike sources (one RingBuffer for the pre spikes, one for the
post BAP, and for 3-factor rules three for the y1, y2, y3 values, wired to the ports directly so they
arrive in the same step); each has its own rule string, trace parameters, t_epoch, rng_seed and
initial weights and tags. ``a_out`` is left unconnected (the engine does not read it). Lava is
imported only here (it sets the multiprocessing start method), never in the pytest process.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(jobdir: str) -> int:
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule, Loihi3FLearningRule
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import LearningDense
    from lava.proc.io.source import RingBuffer
    from lava.utils.weightutils import SignMode

    d = Path(jobdir)
    job = np.load(d / "job.npz")
    meta = json.loads((d / "job.json").read_text())
    pre, bap, yin = job["pre"], job["bap"], job["yin"]          # [S, n_pre], [S, n_post], [S, 3, n_post]
    S = pre.shape[0]
    src_pre = RingBuffer(data=pre.T.astype(np.int32))
    src_bap = RingBuffer(data=bap.T.astype(np.int32))
    any3 = any(c["three_factor"] for c in meta["cases"])
    src_y = [RingBuffer(data=yin[:, m, :].T.astype(np.int32)) for m in range(3)] if any3 else []
    conns = []
    for k, c in enumerate(meta["cases"]):
        kw = dict(dw=c["dw"] or None, dd=c["dd"] or None, dt=c["dt"] or None, x1_impulse=c["x_imp"][0],
                  x1_tau=c["x_tau"][0], x2_impulse=c["x_imp"][1], x2_tau=c["x_tau"][1], t_epoch=c["t_epoch"],
                  rng_seed=c["rng_seed"])
        if c["three_factor"]:
            rule = Loihi3FLearningRule(**kw)
        else:
            rule = Loihi2FLearningRule(y1_impulse=c["y_imp"][0], y1_tau=c["y_tau"][0], y2_impulse=c["y_imp"][1],
                                       y2_tau=c["y_tau"][1], y3_impulse=c["y_imp"][2], y3_tau=c["y_tau"][2], **kw)
        sm = SignMode.MIXED if c["sign_mode"] == 0 else SignMode.EXCITATORY
        conn = LearningDense(weights=job[f"w{k}"].astype(float), tag_1=job[f"t{k}"].astype(float),
                             tag_2=job[f"d{k}"].astype(float), learning_rule=rule, sign_mode=sm)
        src_pre.s_out.connect(conn.s_in)
        src_bap.s_out.connect(conn.s_in_bap)
        if c["three_factor"]:
            src_y[0].s_out.connect(conn.s_in_y1)
            src_y[1].s_out.connect(conn.s_in_y2)
            src_y[2].s_out.connect(conn.s_in_y3)
        conns.append(conn)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    out = {}
    try:
        src_pre.run(condition=RunSteps(num_steps=S), run_cfg=cfg)
        for k, conn in enumerate(conns):
            out[f"w{k}"] = conn.weights.get().astype(np.int64)
            out[f"t{k}"] = conn.tag_1.get().astype(np.int64)
            out[f"d{k}"] = conn.tag_2.get().astype(np.int64)
            out[f"x{k}"] = np.stack([conn.x1.get(), conn.x2.get()]).astype(np.int64)
    finally:
        src_pre.stop()
    np.savez(d / "out.npz", **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
