"""Where does the demo network's one-update cosine gap come from? (issue 13, session 11)

One on-chip update (16 training trials, one weight application, per-synapse e-prop at SGD 0.2, loihi2 widths)
of the demo's compiled network is compared with three float e-prop updates from the same dequantised weights:

  float/float  the float rule on the float network's own forward pass (what `validate --learn` compares with);
  float/chip   the float rule driven by the CHIP's forward pass: the chip's spikes z, its readout output and its
               membrane v (dequantised, v_int / scale_v); the adaptation a rebuilt from the chip's spikes with
               the float recursion, the pseudo-derivative psi from (v, a) with the float formula;
  float/chipz  as float/chip but psi from the float pass (only the spikes, output and learning signal are the
               chip's).

If float/chip agrees with the chip (cosine >= 0.9) while float/float does not, the gap is the forward pass
(trajectory divergence under fixed-point state), not the learning arithmetic (scaling, accumulation, rounding).

    python tools/demo_cosine_isolate.py [SEEDS...]    # reads out/demo/compiled (run `make demo` first)

Prints one JSON line per training batch seed.
"""
import json
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
from neurochip.backends import native                          # noqa: E402
from neurochip.chip_pass import chip_trace                     # noqa: E402
from neurochip.compiler.artifact import CompiledNetwork        # noqa: E402
from neurochip.config import DEFAULT, merge                    # noqa: E402
from neurochip.learning.gradients import weight_change         # noqa: E402
from neurochip.onchip import prepare_rule                      # noqa: E402
from neurochip.simulate import FloatTrace, simulate            # noqa: E402
from neurochip.train import build                              # noqa: E402
from neurochip.validate import _float_rule, dequantize, float_network  # noqa: E402

NAMES = ("w_in", "w_rec", "w_out")


def cos(u, v):
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    return float(u.ravel() @ v.ravel() / (nu * nv)) if nu > 0 and nv > 0 else float("nan")


def chip_run_trace(cn, net, x):
    """FloatTrace of the chip's forward pass (`neurochip.chip_pass.chip_trace`) and the run itself."""
    r = native.run(cn, x, record=("spikes", "outputs", "v"))
    return chip_trace(cn, net, r.spikes, r.outputs, r.v), r


def main(seeds):
    cfg = merge(DEFAULT, {})
    task = build({k: cfg[k] for k in ("task", "network", "rule", "train")})[0]
    cn = prepare_rule(CompiledNetwork.load("out/demo/compiled"), lr=0.2, batch_size=16)
    rule = _float_rule(cn)
    start = {n: dequantize(cn, n, getattr(cn, n)) for n in NAMES}
    net = float_network(cn).with_weights(**start)
    for s in seeds:
        b = task.batch(16, "train", s)
        learned = native.run(cn, b.x, learn=True, targets=b, seed=0, epochs=1, batch_size=16)
        pend = learned.meta.get("pending_lsb") or {}
        d_chip = {n: dequantize(cn, n, learned.weights[n]) - start[n]
                  + (np.asarray(pend[n], np.float64) * cn.weight_lsb(n) if n in pend else 0.0) for n in NAMES}
        tf = simulate(net, b.x, record_v=True)
        tc, r = chip_run_trace(cn, net, b.x)
        tz = FloatTrace(z=tc.z, psi=tf.psi, y=tc.y, out=tc.out)
        ref = {k: weight_change(net, rule, b, trace=t, lr=rule.lr) for k, t in
               (("float/float", tf), ("float/chip", tc), ("float/chipz", tz))}
        row = {"seed": s, "spike_agreement": float(np.mean(tc.z == tf.z)),
               "spikes_per_step_chip": float(tc.z.mean()), "spikes_per_step_float": float(tf.z.mean()),
               "v_rel_err": float(np.abs(tc.v - tf.v).mean() / np.abs(tf.v).mean())}
        for k, g in ref.items():
            row[k] = {n: [round(cos(d_chip[n], getattr(g, n)), 3),
                          round(float(np.linalg.norm(d_chip[n]) / max(np.linalg.norm(getattr(g, n)), 1e-300)), 2)]
                      for n in NAMES}
        gf = ref["float/float"]
        row["float/float vs float/chip"] = {n: round(cos(getattr(gf, n), getattr(ref["float/chip"], n)), 3)
                                           for n in NAMES}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0])
