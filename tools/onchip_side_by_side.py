"""On-chip e-prop and float e-prop SGD side by side, batch by batch, from the same random network on the same
batches: where do their trajectories part? (docs/onchip_learning.md "Where the factorised form still fails")

Every ``--every`` batches prints and records: the float trainer's batch loss and mean rate, the chip's
trial loss, the cumulative weight change of each (in weight LSBs of the chip) and the cosine / norm ratio of
the chip's cumulative change against the float one per matrix.

    python tools/onchip_side_by_side.py [--task-opts '{"n_cues":3,"delay_ms":300.0}'] [--lr 0.2]
        [--eligibility factorised] [--batches 100] [--every 10] [--out docs/onchip_study/side_by_side_3cue]
        [--float-form exact|pre_filt] [--weight-bits W --trace-bits B]

``--float-form pre_filt``: the float side runs the chip's own per-neuron form (tools/factorised_forms.py)
instead of exact e-prop, so a divergence is the chip's arithmetic, not the form; ``--weight-bits`` /
``--trace-bits``: a variant of ``--chip`` with those widths (tools/onchip_study.variant_profile).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np


def _cos(a, b) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task-opts", default='{"n_cues":3,"delay_ms":300.0}')
    ap.add_argument("--net-opts", default="{}")
    ap.add_argument("--rule-opts", default="{}", help="JSON rule options (e.g. '{\"reg_rate\": 0.0}')")
    ap.add_argument("--chip", default="loihi2")
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--eligibility", default="factorised")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--float-form", default="exact", choices=["exact", "pre_filt"])
    ap.add_argument("--weight-bits", type=int, default=None)
    ap.add_argument("--trace-bits", type=int, default=None)
    a = ap.parse_args(argv)
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from factorised_forms import form_grads
    from onchip_study import variant_profile
    from neurochip.backends import get_backend
    from neurochip.backends.native import tables_for
    from neurochip.backends.native_learn import _dense_from_csr
    from neurochip.compiler import compile as compile_net
    from neurochip.learning.gradients import grads
    from neurochip.onchip import prepare_rule
    from neurochip.train import build

    cfg = {"task": {"name": "evidence", **json.loads(a.task_opts)}, "train": {"seed": a.seed},
           "network": json.loads(a.net_opts), "rule": json.loads(a.rule_opts)}
    task, net, rule, _, _ = build(cfg)
    rule = replace(rule, optimizer="sgd", lr=a.lr)
    prof = variant_profile(a.chip, a.weight_bits, a.trace_bits, Path("out/onchip_side_by_side/profiles"))
    c = compile_net(net, prof, rule)
    c = prepare_rule(c, lr=a.lr, eligibility=a.eligibility, rounding="nearest", batch_size=a.batch)
    nat = get_backend("native")
    tb = tables_for(c)
    lsb = {n: c.weight_lsb(n) for n in ("w_in", "w_rec", "w_out")}
    w0 = {"w_in": np.asarray(c.w_in, float), "w_out": np.asarray(c.w_out, float),
          "w_rec": np.asarray(c.w_rec.toarray() if hasattr(c.w_rec, "toarray") else c.w_rec, float)}
    state, fnet, rows = None, net, []
    for it in range(a.batches):
        b = task.batch(a.batch, "train", it)
        r = nat.run(c, b.x, learn=True, targets=b, batch_size=a.batch, record=("outputs", "spikes"), seed=it, state=state)
        state = r.meta["learn_state"]
        g, floss, fm = grads(fnet, rule, b)
        if a.float_form != "exact":
            g = form_grads(fnet, rule, b, a.float_form)[0]
        fnet = fnet.with_weights(w_in=fnet.w_in - a.lr * g.w_in, w_rec=(fnet.w_rec - a.lr * g.w_rec) * fnet.rec_mask,
                                 w_out=fnet.w_out - a.lr * g.w_out)
        if (it + 1) % a.every and it + 1 != a.batches:
            continue
        chip = {"w_in": _dense_from_csr(tb.in_ptr, tb.in_idx, state.in_w, c.n_rec, c.n_in).astype(float),
                "w_rec": _dense_from_csr(tb.rec_ptr, tb.rec_idx, state.rec_w, c.n_rec, c.n_rec).astype(float),
                "w_out": state.w_out_t.T.astype(float)}
        row = {"batch": it + 1, "float_loss": float(floss), "float_rate_hz": float(fm["rate_hz"]),
               "chip_loss": float(np.mean(r.meta["trial_loss"])),    # per trial: mean CE over its masked steps
               "chip_rate_hz": r.meta.get("spike_rate_hz"), "chip_saturations": int(r.meta.get("learning_saturations", 0)),
               "weight_clips": int(r.meta.get("weight_clips", 0))}
        for n in chip:
            dc = chip[n] - w0[n]
            df = (getattr(fnet, n) - getattr(net, n)) / lsb[n]
            row[n] = {"cos": _cos(dc, df), "norm_ratio": float(np.linalg.norm(dc) / (np.linalg.norm(df) + 1e-300)),
                      "chip_lsb": float(np.linalg.norm(dc)), "float_lsb": float(np.linalg.norm(df))}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if a.out is not None:
        from neurochip.io import atomic_write_text, write_json
        write_json(a.out.with_suffix(".json"), {"args": vars(a) | {"out": str(a.out)}, "rows": rows})
        lines = ["| batch | float loss | chip loss | float rate (Hz) | " + " | ".join(
            f"{n}: cos, chip / float (LSB)" for n in ("w_in", "w_rec", "w_out")) + " |", "|---" * 7 + "|"]
        for r_ in rows:
            lines.append(f"| {r_['batch']} | {r_['float_loss']:.3f} | {r_['chip_loss']:.3f} | {r_['float_rate_hz']:.1f} | " +
                         " | ".join(f"{r_[n]['cos']:.2f}, {r_[n]['chip_lsb']:.0f} / {r_[n]['float_lsb']:.0f}"
                                    for n in ("w_in", "w_rec", "w_out")) + " |")
        atomic_write_text(a.out.with_suffix(".md"), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
