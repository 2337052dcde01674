"""Float e-prop with per-neuron (factorised) eligibility forms: which one learns, and why the old one did not.

The exact e-prop eligibility of synapse i -> j is ebar_ji(t) = sum_s kappa^(t-s) psi_j(s) pre_i(s), with pre the
alpha-filtered presynaptic trace: one state per synapse. A chip with per-neuron traces only (ReckOn, a
factorised Loihi rule) needs a product of a post factor and a pre factor. Forms compared here, all in float
with the float e-prop learning signal L_j(t) = sum_k B_jk dE/do_k(t) and plain SGD (the chip's optimiser):

    exact       c_kappa sum_t L_j(t) ebar_ji(t)                              (per synapse; == neurochip's e-prop)
    psi_filt    c_kappa sum_t L_j(t) pbar_j(t) pre_i(t),  pbar = kappa-filtered psi    (neurochip <= d5ba0bc)
    pre_filt    c_kappa sum_t L_j(t) psi_j(t) prek_i(t),  prek = kappa-filtered pre     (neurochip since d5ba0bc)
    unfiltered  c_kappa / (1 - kappa) sum_t L_j(t) psi_j(t) pre_i(t)                    (ReckOn: no kappa filter)

psi_filt pairs the post factor of step s with presynaptic activity *after* s (pre_i(t), t > s): in a
recurrent network a neuron near threshold drives its targets, so these post-before-pre pairs bias w_rec
(measured below as the cosine / norm of each form against the exact update along an exact-e-prop run).
pre_filt keeps only pre activity before the post factor (causal) and costs one more trace per neuron.

Task: the one-cue evidence task of docs/onchip_learning.md (LIF 24, T = 80 steps, no rate regulariser),
40 SGD updates of 8 trials at lr 0.5, held-out = 128 'test' trials, seeds 0-2 (network and data).

    python tools/factorised_forms.py [--seeds 0,1,2] [--lr 0.5] [--out docs/onchip_study/factorised_forms]
    # ALIF, 3 cues, 300 ms delay (docs/onchip_learning.md "Where the factorised form still fails"):
    python tools/factorised_forms.py --seeds 0,1,2 --lr 0.2 --iterations 100 --batch 16 --test-trials 256 \
        --task-opts '{"n_cues":3,"delay_ms":300.0}' --net-opts '{}' --rule-opts '{}' \
        --forms pre_filt_a_meanfield,pre_filt,exact,exact_noadapt --out docs/onchip_study/factorised_forms_alif
("exact_noadapt": the exact form without the ALIF adaptation eligibility, i.e. the rflo rule's scan.
"exact_fwd": exact e-prop written forward in time per synapse, eps^a(t+1) = (rho - c_a beta psi) eps^a +
c_a psi pre: a check of the derivation the per-neuron ALIF forms start from (cosine 1.00 with "exact").)

Per-neuron forms of the ALIF eligibility e_ji = psi_j (pre_i - beta_j eps^a_ji), eps^a_ji(t) = c_a sum_{s<t}
rho^(t-1-s) psi_j(s) pre_i(s) (dropping the small c_a beta psi term of its decay):

    pre_filt_a_meanfield  eps^a_ji ~ c_a (1 - rho) rpsi_j(t) rpre_i(t), rpsi / rpre the rho-filtered psi / pre:
                          the mean of a product over the adaptation window taken as the product of the means
                          (one more trace per neuron, two more per presynaptic neuron on a chip)
    pre_filt_a_psi2       eps^a_ji ~ c_a psi_j(t) rpre_i(t) (psi_j(s) ~ psi_j(t); worse: cosine 0.2 on w_rec)

Every per-neuron form pairs the rule's rate-regulariser signal with its unfiltered eligibility, as the chip does.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FORMS = ("exact", "psi_filt", "pre_filt", "unfiltered")
ALIF_FORMS = ("exact_fwd", "pre_filt", "pre_filt_a_meanfield", "pre_filt_a_psi2")
TASK = {"n_cues": 1, "cue_ms": 30, "gap_ms": 10, "delay_ms": 20, "recall_ms": 20, "group_size": 5}
NET = {"kind": "lif", "n_ref": 2, "n_rec": 24}
RULE = {"reg_rate": 0.0}


def setup(seed: int, task_opts: dict | None = None, net_opts: dict | None = None, rule_opts: dict | None = None):
    from neurochip.train import build
    cfg = {"task": {"name": "evidence", **(TASK if task_opts is None else task_opts)}, "train": {"seed": seed},
           "network": dict(NET if net_opts is None else net_opts), "rule": dict(RULE if rule_opts is None else rule_opts)}
    task, net, rule, _, _ = build(cfg)
    return task, net, rule


def _filt(a: np.ndarray, f: float) -> np.ndarray:
    """Leaky sum along axis 1: out[:, t] = f out[:, t-1] + a[:, t]."""
    out = np.empty_like(a)
    acc = np.zeros(a.shape[:1] + a.shape[2:])
    for t in range(a.shape[1]):
        acc = f * acc + a[:, t]
        out[:, t] = acc
    return out


def form_grads(net, rule, batch, form: str):
    """(gradient of ``form``, exact e-prop gradient) for one batch; w_out / b_out are the exact ones."""
    from neurochip.learning.gradients import feedback_matrix, grads
    from neurochip.learning.losses import task_loss
    from neurochip.simulate import simulate
    if form == "exact_noadapt":                     # exact e-prop without eps^a: the rflo rule's scan
        from dataclasses import replace
        g, _, _ = grads(net, replace(rule, name="rflo"), batch)
        return g, grads(net, rule, batch)[0]
    g, _, _ = grads(net, rule, batch)
    if form == "exact":
        return g, g
    p = net.params
    tr = simulate(net, batch.x)
    _, err = task_loss(tr.out, batch.target, batch.mask, batch.loss)
    L = np.einsum("btk,jk->btj", err, feedback_matrix(net, rule))
    B, T, N = tr.psi.shape
    zp = np.concatenate([np.zeros((B, 1, N)), tr.z[:, :-1].astype(float)], 1)   # pre of w_rec: z^{t-1}
    # the rate regulariser's per-neuron signal pairs with the unfiltered eligibility (as in float e-prop and
    # on chip); zero when the rule has no regulariser (the one-cue runs)
    from neurochip.learning.losses import rate_regulariser
    reg = rate_regulariser(tr.z, p.dt, rule.reg_rate, rule.target_rate_hz)[1] if rule.reg_rate else np.zeros(N)
    bc = net.beta * p.c_a                                                            # [N]
    res = {}
    for name, x in (("w_in", batch.x.astype(float)), ("w_rec", zp)):
        pre = p.c_in * _filt(x, p.alpha)
        if form == "exact_fwd":                     # per-synapse forward recursion: checks the derivation
            g_ = np.zeros((N, pre.shape[2]))
            for b in range(B):
                ea = np.zeros((N, pre.shape[2]))
                ebar = np.zeros_like(ea)
                for t in range(T):
                    q = tr.psi[b, t][:, None] * (pre[b, t][None, :] - net.beta[:, None] * ea)   # e_ji(t)
                    ebar = p.kappa * ebar + q
                    g_ += p.c_kappa * L[b, t][:, None] * ebar + reg[:, None] * q
                    ea = p.rho * ea + p.c_a * q     # eps^a(t+1) = (rho - c_a beta psi) eps^a + c_a psi pre
            res[name] = g_
            continue
        # per-neuron forms: e_ji(t) ~ psi_j(t) (pre_i(t) - adapt_j(t) rpre_i(t)), a task part with the
        # kappa-filtered pre factors and the regulariser part with the unfiltered ones
        rpre = np.concatenate([np.zeros_like(pre[:, :1]), _filt(pre, p.rho)[:, :-1]], 1)  # sum_{s<t} rho^(t-1-s) pre(s)
        if form == "pre_filt_a_meanfield":
            # eps^a_ji(t) = c_a sum_{s<t} rho^(t-1-s) psi_j(s) pre_i(s) ~ c_a (1 - rho) rpsi_j(t) rpre_i(t):
            # the mean of a product over the adaptation window as the product of the means
            rpsi = np.concatenate([np.zeros_like(tr.psi[:, :1]), _filt(tr.psi, p.rho)[:, :-1]], 1)
            ad = bc * (1 - p.rho) * rpsi
        elif form == "pre_filt_a_psi2":
            ad = bc * tr.psi                        # psi_j(s) ~ psi_j(t) over the adaptation window
        else:
            ad = None
        if ad is not None:
            Lp = L * tr.psi
            res[name] = (p.c_kappa * (np.einsum("btj,bti->ji", Lp, _filt(pre, p.kappa), optimize=True)
                                      - np.einsum("btj,bti->ji", Lp * ad, _filt(rpre, p.kappa), optimize=True))
                         + np.einsum("j,btj,bti->ji", reg, tr.psi, pre, optimize=True) - np.einsum("j,btj,bti->ji", reg, tr.psi * ad, rpre, optimize=True))
            continue
        if form == "psi_filt":
            res[name] = p.c_kappa * np.einsum("btj,bti->ji", L * _filt(tr.psi, p.kappa), pre)
        elif form == "pre_filt":
            res[name] = (p.c_kappa * np.einsum("btj,bti->ji", L * tr.psi, _filt(pre, p.kappa))
                         + np.einsum("j,btj,bti->ji", reg, tr.psi, pre))
        elif form == "unfiltered":
            res[name] = p.c_kappa / (1 - p.kappa) * np.einsum("btj,bti->ji", L * tr.psi, pre)
        else:
            raise ValueError(form)
    return g.__class__(w_in=res["w_in"], w_rec=res["w_rec"] * net.rec_mask, w_out=g.w_out, b_out=g.b_out), g


def _cos(a, b) -> float:
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def run(seed: int, form: str, lr: float, iterations: int = 40, batch: int = 8, test_trials: int = 128,
        **opts) -> dict:
    from neurochip.learning.losses import accuracy
    from neurochip.simulate import simulate
    task, net, rule = setup(seed, **opts)
    test = task.batch(test_trials, "test", 0)

    def acc(n):
        return float(accuracy(simulate(n, test.x).out, test.target, test.mask))
    before = acc(net)
    cos = {"w_in": [], "w_rec": []}
    ratio = {"w_in": [], "w_rec": []}
    for it in range(iterations):
        g, ge = form_grads(net, rule, task.batch(batch, "train", it), form)
        for n in cos:
            cos[n].append(_cos(getattr(g, n), getattr(ge, n)))
            ratio[n].append(float(np.linalg.norm(getattr(g, n)) / (np.linalg.norm(getattr(ge, n)) + 1e-300)))
        net = net.with_weights(w_in=net.w_in - lr * g.w_in, w_rec=(net.w_rec - lr * g.w_rec) * net.rec_mask,
                               w_out=net.w_out - lr * g.w_out, b_out=net.b_out - lr * g.b_out)
    return {"seed": seed, "form": form, "before": before, "after": acc(net),
            "cos_w_in": float(np.mean(cos["w_in"])), "cos_w_rec": float(np.mean(cos["w_rec"])),
            "norm_ratio_w_rec": float(np.median(ratio["w_rec"]))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--out", type=Path, default=Path("docs/onchip_study/factorised_forms"))
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--test-trials", type=int, default=128)
    ap.add_argument("--forms", default=",".join(FORMS))
    ap.add_argument("--task-opts", default=None, help="JSON task options (default: the one-cue task)")
    ap.add_argument("--net-opts", default=None, help="JSON network options (default: LIF 24, n_ref 2)")
    ap.add_argument("--rule-opts", default=None, help="JSON rule options (default: no rate regulariser)")
    a = ap.parse_args(argv)
    opts = {k: (json.loads(v) if v is not None else None) for k, v in
            (("task_opts", a.task_opts), ("net_opts", a.net_opts), ("rule_opts", a.rule_opts))}
    forms = tuple(a.forms.split(","))
    from neurochip.io import atomic_write_text, write_json
    seeds = [int(s) for s in a.seeds.split(",")]
    rows = []
    for form in forms:
        for s in seeds:
            rows.append(run(s, form, a.lr, a.iterations, a.batch, a.test_trials, **opts))
            print(json.dumps(rows[-1]), flush=True)
    lines = [f"| form | held-out accuracy after {a.iterations} updates of {a.batch} (per seed) | mean | mean cos w_in / w_rec vs exact | "
             "median norm w_rec / exact |", "|---|---|---|---|---|"]
    for form in forms:
        rs = [r for r in rows if r["form"] == form]
        per_seed = ", ".join("%.3f" % r["after"] for r in rs)
        lines.append(f"| {form} | {per_seed} | {np.mean([r['after'] for r in rs]):.3f} | "
                     f"{np.mean([r['cos_w_in'] for r in rs]):.2f} / {np.mean([r['cos_w_rec'] for r in rs]):.2f} | "
                     f"{np.mean([r['norm_ratio_w_rec'] for r in rs]):.2f} |")
    md = "\n".join(lines) + "\n"
    print(md)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(a.out.with_suffix(".json"), {"lr": a.lr, "iterations": a.iterations, "batch": a.batch, **opts,
                                           "rows": rows})
    atomic_write_text(a.out.with_suffix(".md"), md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
