"""One on-chip update vs float e-prop of the SAME eligibility form, on the 3-cue ALIF task (seed 0, batch 16).

    python tools/onchip_form_cosine.py WEIGHT_BITS TRACE_BITS {factorised,per_synapse} [BATCH]

Compiles the 3-cue ALIF network of docs/onchip_learning.md for loihi2 with [format] weight_bits / trace_bits
rewritten (tools/onchip_study.variant_profile), learns one batch on chip (SGD lr 0.2, one weight application)
and prints, per matrix, the cosine of the accumulated chip update (applied change + pending residual) with
the float update of the per-neuron form the chip runs ("pre_filt" of tools/factorised_forms.py) and with exact
e-prop, all at the chip's quantised weights. At wide widths this separates a form-specific arithmetic loss
(chip far from its own float form) from the forward pass diverging (w_out, the same rule in every form).
"""
import math
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from dataclasses import replace as _rp
from onchip_study import _task_and_net, variant_profile
from factorised_forms import form_grads
from neurochip.backends import get_backend
from neurochip.compiler.lower_rule import LowerRuleOptions
from neurochip.compiler.pipeline import CompileOptions, compile
from neurochip.rules import LearningRule
from neurochip.backends.native import tables_for
from neurochip.backends.native_learn import _dense_from_csr

wb, tb, elig = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lr, B = 0.2, (int(sys.argv[4]) if len(sys.argv) > 4 else 16)
spec = {"task": "evidence", "seed": 0, "task_opts": {"n_cues": 3, "delay_ms": 300.0}}
task, net, rule = _task_and_net(spec)
prof = variant_profile("loihi2", wb, tb, Path("out/onchip_form_cosine/profiles"))
r_sgd = LearningRule(**{**rule.to_dict(), "optimizer": "sgd", "lr": lr, "eligibility": elig})
c = compile(net, prof, r_sgd, options=CompileOptions.make(learn=LowerRuleOptions(rounding="nearest", batch=B)))
b = task.batch(B, "train", 12345)
r = get_backend("native").run(c, b.x, learn=True, targets=b, batch_size=B, record=("outputs",), seed=0)
lsb = c.rule.w_lsb
one = float(1 << c.profile.format.decay_bits)
pq = _rp(net.params, tau_m=-1.0 / math.log(1 - c.dv / one), tau_out=-1.0 / math.log(1 - c.dk / one),
         **({"tau_a": -1.0 / math.log(1 - c.da / one)} if c.da > 0 else {}))
net_q = _rp(net, params=pq).with_weights(w_in=np.asarray(c.w_in, float) * lsb[0], w_rec=np.asarray(c.w_rec, float) * lsb[1],
                                         w_out=np.asarray(c.w_out, float) * lsb[2])
st = r.meta["learn_state"]; k = 2.0 ** c.rule.frac_bits; t_ = tables_for(c)
resid = {"w_in": _dense_from_csr(t_.in_ptr, t_.in_idx, st.acc_in, c.n_rec, c.n_in).astype(float) / k,
         "w_rec": _dense_from_csr(t_.rec_ptr, t_.rec_idx, st.acc_rec, c.n_rec, c.n_rec).astype(float) / k,
         "w_out": st.acc_out.T.astype(float) / k}
gpf, gex = form_grads(net_q, r_sgd, b, "pre_filt")
mask = np.asarray(net.rec_mask, bool)
print("lr on chip", c.rule.lr, "sat", r.meta["learning_saturations"], "clips", r.meta["weight_clips"])
for i, n in enumerate(("w_in", "w_rec", "w_out")):
    dw = r.weight_updates[n]; dw = np.asarray(dw.toarray() if hasattr(dw, "toarray") else dw, float)
    m = dw - resid[n]
    fp = -lr * np.asarray(getattr(gpf, n)) / lsb[i]; fe = -lr * np.asarray(getattr(gex, n)) / lsb[i]
    if n == "w_rec":
        m, fp, fe = m[mask], fp[mask], fe[mask]
    m, fp, fe = m.ravel(), fp.ravel(), fe.ravel()
    cs = lambda a, b_: float(a @ b_ / (np.linalg.norm(a) * np.linalg.norm(b_) + 1e-300))
    print(n, "cos(chip, float pre_filt) %.3f  cos(chip, exact) %.3f  cos(pre_filt, exact) %.3f  |chip|/|pre_filt| %.3f  |pre_filt| rms %.3g LSB"
          % (cs(m, fp), cs(m, fe), cs(fp, fe), np.linalg.norm(m) / np.linalg.norm(fp), np.sqrt((fp**2).mean())))
