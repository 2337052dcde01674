"""One accumulated on-chip e-prop update vs the float e-prop SGD update of the same batch and weights.

Evidence accumulation network (40 in, 100 ALIF, 2 out, T = 2250, the reference config of
``neurochip.train``), compiled for a profile (default loihi2); for each eligibility form and rounding
one batch of ``--batch`` trials is learned on chip with one weight application, and compared per
matrix with ``neurochip.learning.gradients.weight_change`` (plain SGD at the same lr, the float
trainer's normalisation and regulariser). Two on-chip columns: ``master`` = applied change + residual
/ 2^frac (the accumulated update, before rounding to the weight grid) and ``applied`` = the integer
change written to the weights. Also prints the per-trial wall time (rough: the machine is shared).

    python tools/onchip_cosine.py [--profile loihi2] [--batch 16] [--lr 5e-3] [--seed 0] [--trained N]
                                  [--quick] [--train TRIALS]

``--trained N``: first train the float network N Adam iterations (batch 32), so the comparison is
made at non-random weights too. ``--train TRIALS``: afterwards, a from-scratch on-chip sanity run of
TRIALS trials per form (batch ``--batch``), printing held-out accuracy before/after (128 test trials).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from neurochip.backends import get_backend
from neurochip.compiler.lower_rule import LowerRuleOptions
from neurochip.compiler.pipeline import CompileOptions, compile
from neurochip.learning.gradients import weight_change
from neurochip.learning.losses import accuracy
from neurochip.rules import LearningRule
from neurochip.train import build, train

MATS = ("w_in", "w_rec", "w_out")


def _cos(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def trajectory_change(net_q, rule, b, c, inf):
    """Float e-prop SGD step computed on the chip's own trajectory (its spikes, membrane and outputs):
    isolates the learning arithmetic from the forward pass's divergence. psi from the chip's v and the
    threshold of a float adaptation recomputed from the chip's spikes; refractoriness from its spikes."""
    from neurochip.learning.gradients import GRAD_FIELDS, Grads, adjoint_grads, feedback_matrix, scan_config
    from neurochip.learning.losses import rate_regulariser, task_loss
    from neurochip.simulate import FloatTrace
    p = net_q.params
    z = inf.spikes.astype(np.uint8)
    v = inf.v.astype(float) * p.v_th / float(int(c.vth) << c.profile.format.threshold_shift)
    Bn, T, N = z.shape
    a = np.zeros((Bn, N))
    r = np.zeros((Bn, N), np.int64)
    psi = np.zeros((Bn, T, N))
    zp = np.zeros((Bn, N))
    for t in range(T):
        a = p.rho * a + p.c_a * zp
        thr = p.v_th + net_q.beta[None, :] * a
        d = 1.0 - np.abs(v[:, t] - thr) / p.v_th
        psi[:, t] = np.where(r > 0, 0.0, p.gamma_pd / p.v_th * np.maximum(d, 0.0))
        r = np.clip(r + p.n_ref * z[:, t] - 1, 0, p.n_ref)
        zp = z[:, t].astype(float)
    out = inf.outputs
    tr = FloatTrace(z=z, psi=psi, y=out - net_q.b_out, out=out)
    _, err = task_loss(out, b.target, b.mask, b.loss)
    _, reg, _ = rate_regulariser(z, p.dt, rule.reg_rate, rule.target_rate_hz)
    g = adjoint_grads(net_q, b.x, tr, err, feedback_matrix(net_q, rule), scan_config(rule),
                      reg if rule.reg_rate > 0 else None)
    return Grads(*(-rule.lr * getattr(g, f) for f in GRAD_FIELDS))


def compare(net, rule, task, profile, elig, rounding, batch, lr, seed):
    native = get_backend("native")
    r_sgd = LearningRule(**{**rule.to_dict(), "optimizer": "sgd", "lr": lr, "eligibility": elig})
    c = compile(net, profile, r_sgd, options=CompileOptions.make(learn=LowerRuleOptions(rounding=rounding, batch=batch)))
    b = task.batch(batch, "train", 10_000 + seed)
    t0 = time.perf_counter()
    r = native.run(c, b.x, learn=True, targets=b, batch_size=batch, record=("outputs",), seed=seed)
    wall = time.perf_counter() - t0
    # the float reference at the same weights: the chip's mantissas times their LSB (the quantised network)
    lsb = c.rule.w_lsb
    import math
    from dataclasses import replace as _rp
    one = float(1 << c.profile.format.decay_bits)
    pq = _rp(net.params, tau_m=-1.0 / math.log(1 - c.dv / one), tau_out=-1.0 / math.log(1 - c.dk / one),
             **({"tau_a": -1.0 / math.log(1 - c.da / one)} if c.da > 0 else {}))
    net_q = _rp(net, params=pq).with_weights(w_in=np.asarray(c.w_in, float) * lsb[0], w_rec=np.asarray(c.w_rec, float) * lsb[1],
                         w_out=np.asarray(c.w_out, float) * lsb[2])
    fw = weight_change(net_q, r_sgd, b)
    from neurochip.simulate import simulate
    inf = get_backend("native").run(c, b.x, record=("spikes", "v", "outputs"))
    agree = float((simulate(net_q, b.x).z == inf.spikes).mean())
    fw_traj = trajectory_change(net_q, r_sgd, b, c, inf)
    st = r.meta["learn_state"]
    k = 2.0 ** c.rule.frac_bits
    from neurochip.backends.native import tables_for
    from neurochip.backends.native_learn import _dense_from_csr
    tb = tables_for(c)
    resid = {"w_in": _dense_from_csr(tb.in_ptr, tb.in_idx, st.acc_in, c.n_rec, c.n_in).astype(float) / k,
             "w_rec": _dense_from_csr(tb.rec_ptr, tb.rec_idx, st.acc_rec, c.n_rec, c.n_rec).astype(float) / k,
             "w_out": st.acc_out.T.astype(float) / k}
    row = {"spike_agreement": agree, "wall_per_trial_s": wall / batch, "sat": r.meta["learning_saturations"], "clips": r.meta["weight_clips"]}
    mask = np.asarray(net.rec_mask, bool)
    for i, name in enumerate(MATS):
        f = np.asarray(getattr(fw, name), float) / c.rule.w_lsb[i]
        ft = np.asarray(getattr(fw_traj, name), float) / c.rule.w_lsb[i]
        dw = np.asarray(r.weight_updates[name].toarray() if hasattr(r.weight_updates[name], "toarray")
                        else r.weight_updates[name], float)
        m = dw - resid[name]             # master = W 2^frac - A: A is the pending decrease
        if name == "w_rec":
            f, ft, dw, m = f[mask], ft[mask], dw[mask], m[mask]
        f, ft, dw, m = f.ravel(), ft.ravel(), dw.ravel(), m.ravel()
        row[name] = {"master": _cos(m, f), "traj": _cos(m, ft), "traj_applied": _cos(dw, ft), "applied": _cos(dw, f), "ratio": float(np.linalg.norm(m) / np.linalg.norm(f)),
                     "float_rms_lsb": float(np.sqrt((f * f).mean())), "moved": float((dw != 0).mean())}
    return row


def sanity(net, rule, task, profile, elig, rounding, batch, trials, seed, chip_lr=None, every=5, float_sgd=False):
    """From scratch on chip with the compiler's default rate for the rule (an Adam rule: adam_equivalent,
    or ``chip_lr`` as its target), next to float e-prop with the rule's optimiser on the same batches
    (``float_sgd``: plain SGD at the chip's per-matrix rates lr 2^gain, i.e. the chip's optimiser).
    Returns rows (trials, chip held-out acc, float held-out acc) and the chip's wall time."""
    from neurochip.learning.gradients import grads
    from neurochip.learning.optim import OptState, apply_update
    from neurochip.simulate import simulate

    native = get_backend("native")
    r_ = LearningRule(**{**rule.to_dict(), "eligibility": elig})
    lo = LowerRuleOptions(rounding=rounding, batch=batch, lr=chip_lr,
                          lr_mode="adam_equivalent" if rule.optimizer == "adam" else "sgd")
    c = compile(net, profile, r_, options=CompileOptions.make(learn=lo))
    test = [task.batch(32, "test", k) for k in range(4)]

    def acc_chip(state):
        from dataclasses import replace
        cc = c
        if state is not None:
            from neurochip.backends.native import tables_for
            from neurochip.backends.native_learn import _dense_from_csr
            tb = tables_for(c)
            cc = replace(c, w_in=_dense_from_csr(tb.in_ptr, tb.in_idx, state.in_w, c.n_rec, c.n_in),
                         w_rec=_dense_from_csr(tb.rec_ptr, tb.rec_idx, state.rec_w, c.n_rec, c.n_rec),
                         w_out=np.ascontiguousarray(state.w_out_t.T.astype(np.int32)), b_out=state.b_out.copy())
        return float(np.mean([accuracy(native.run(cc, b.x, record=("outputs",)).outputs, b.target, b.mask)
                              for b in test]))

    def acc_float(n):
        return float(np.mean([accuracy(simulate(n, b.x).out, b.target, b.mask) for b in test]))

    state, fnet, ost = None, net, OptState()
    rows = [(0, acc_chip(None), acc_float(net))]
    wall = 0.0
    for it in range(trials // batch):
        b = task.batch(batch, "train", seed * 10 ** 6 + it)
        t0 = time.perf_counter()
        r = native.run(c, b.x, learn=True, targets=b, batch_size=batch, record=("outputs",), seed=it, state=state)
        wall += time.perf_counter() - t0
        state = r.meta["learn_state"]
        g, _, _ = grads(fnet, rule, b)
        if float_sgd:
            ge = state.gain_exp
            lrs = {n: c.rule.lr * 2.0 ** int(ge[i]) for i, n in enumerate(("w_in", "w_rec", "w_out"))}
            fnet = fnet.with_weights(**{n: getattr(fnet, n) - lrs[n] * getattr(g, n) for n in lrs})
            fnet = fnet.with_weights(w_rec=fnet.w_rec * fnet.rec_mask)
        else:
            fnet = apply_update(fnet, rule, g, ost)
        if (it + 1) % every == 0 or it + 1 == trials // batch:
            rows.append(((it + 1) * batch, acc_chip(state), acc_float(fnet)))
    return rows, wall, state


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="loihi2")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=None, help="SGD rate (default: the compiled default, rule lr)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trained", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="T = 600 instead of 2250 (the task's cue count reduced)")
    ap.add_argument("--train", type=int, default=0)
    ap.add_argument("--reg", type=float, default=None, help="reg_rate (default: the task's)")
    ap.add_argument("--chip-lr", type=float, default=None, help="on-chip lr for --train (default: the rule's)")
    ap.add_argument("--no-table", action="store_true", help="skip the cosine table")
    ap.add_argument("--float-sgd", action="store_true", help="--train baseline: float SGD at the chip's rates")
    ap.add_argument("--forms", default="per_synapse:nearest,per_synapse:stochastic,factorised:nearest,factorised:stochastic")
    a = ap.parse_args(argv)
    cfg = {"task": {"name": "evidence"}, "train": {"seed": a.seed}}
    if a.quick:
        cfg["task"].update(n_cues=3, delay_ms=300.0)
    if a.reg is not None:
        cfg["rule"] = {"reg_rate": a.reg}
    task, net, rule, tr, _ = build(cfg)
    if a.trained:
        net, _ = train(net, rule, task, a.trained, 32, a.seed, eval_every=10 ** 9, early_stop=None, progress=False)
    lr = a.lr if a.lr is not None else rule.lr
    print(f"evidence net n_in={net.n_in} n_rec={net.n_rec} n_out={net.n_out} T={task.n_steps} profile={a.profile} "
          f"batch={a.batch} lr(SGD)={lr} trained_iters={a.trained}")
    print("| form | rounding | matrix | cos master (same weights) | cos applied | cos master (same trajectory) | "
          "cos applied (same trajectory) | norm ratio | float rms (LSB) | moved |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    forms = [f.split(":") for f in a.forms.split(",")]
    for elig, rd in ([] if a.no_table else forms):
        row = compare(net, rule, task, a.profile, elig, rd, a.batch, lr, a.seed)
        for name in MATS:
            m = row[name]
            print(f"| {elig} | {rd} | {name} | {m['master']:.3f} | {m['applied']:.3f} | {m['traj']:.3f} | "
                  f"{m['traj_applied']:.3f} | {m['ratio']:.2f} | "
                  f"{m['float_rms_lsb']:.3g} | {m['moved']:.2f} |")
        print(f"<!-- {elig}/{rd}: spike agreement chip vs float (same weights) {row['spike_agreement']:.4f}; "
              f"{row['wall_per_trial_s']:.3f} s per trial, saturations {row['sat']}, clips {row['clips']} -->",
              flush=True)
    if a.train:
        for elig, rd in forms:
            rows, wall, st = sanity(net, rule, task, a.profile, elig, rd, a.batch, a.train, a.seed, a.chip_lr,
                                    float_sgd=a.float_sgd)
            print(f"from scratch {elig}/{rd} (chip gains 2^{st.gain_exp.tolist()}; {wall:.0f} s on chip, "
                  f"{wall / a.train:.3f} s per trial):", flush=True)
            fo = "sgd at the chip's rates" if a.float_sgd else rule.optimizer
            print("| trials | chip held-out acc | float (" + fo + ") held-out acc |")
            print("|---|---|---|")
            for n, ac, af in rows:
                print(f"| {n} | {ac:.3f} | {af:.3f} |", flush=True)


if __name__ == "__main__":
    main()
