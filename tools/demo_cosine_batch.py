"""One accumulated on-chip update of the demo network against the float e-prop update of the same batch, by
batch size (issue 13's cosine target, session 16).

Session 11 found that on 16 trials the chip's update differs from the float rule's because the forward pass
does (a few flipped spikes change which trials the readout gets wrong), and that the float rule itself moves as
far when only its decays are rounded to 12 bits. That difference is trial-level noise, so it should shrink as
one update accumulates more trials. For each batch size B and batch seed this prints, per matrix, the cosine and
norm ratio of

  chip       the on-chip update (one application of B trials, loihi2 widths, the demo's rule) vs float e-prop
             on the float pass from the same dequantised weights (what `validate --learn` reports);
  dec12      the control: the float rule on a float network whose membrane, adaptation and readout decays are
             rounded to the chip's 12 bits (nothing else changed) vs the same float update.

    python tools/demo_cosine_batch.py --batches 16 64 256 --seeds 0 1 2   # reads out/demo/compiled
    python tools/demo_cosine_batch.py --summarise RUN.jsonl|OUT.json ... [--out docs/onchip_study/demo_cosine_batch]
                                    # the markdown table of saved runs (and OUT.md, OUT.json: the table, every row)

Prints one JSON line per (batch size, seed).
"""
import argparse
import json
from dataclasses import replace
from pathlib import Path
import warnings

import numpy as np

warnings.simplefilter("ignore")
from neurochip.backends import native                          # noqa: E402
from neurochip.compiler.artifact import CompiledNetwork        # noqa: E402
from neurochip.config import DEFAULT, merge                    # noqa: E402
from neurochip.learning.gradients import weight_change         # noqa: E402
from neurochip.network import NeuronParams                     # noqa: E402
from neurochip.onchip import prepare_rule                      # noqa: E402
from neurochip.onchip_rule import lower_again                  # noqa: E402
from neurochip.compiler.lower_rule import LowerRuleOptions     # noqa: E402
from neurochip.simulate import simulate                        # noqa: E402
from neurochip.train import build                              # noqa: E402
from neurochip.validate import _float_rule, dequantize, float_network  # noqa: E402
from demo_cosine_isolate import NAMES, cos                      # noqa: E402  (tools/, the script's folder)



def dec12_network(net, cn):
    """`net` with its membrane, adaptation and readout time constants replaced by the ones the chip's 12-bit
    decays represent: exp(-dt/tau') = 1 - d/2^D for the compiled dv, da, dk (nothing else changed)."""
    p = net.params.to_dict()
    D = int(cn.profile.format.decay_bits)
    for k, d in (("tau_m", cn.dv), ("tau_a", cn.da), ("tau_out", cn.dk)):
        if p.get(k) and 0 < int(d) < (1 << D):
            p[k] = -float(p.get("dt", 1.0)) / np.log(1.0 - int(d) / (1 << D))
    return replace(net, params=NeuronParams.from_dict(p))


def row(d, g):
    return {n: [round(cos(d[n], getattr(g, n)), 3),
                round(float(np.linalg.norm(d[n]) / max(np.linalg.norm(getattr(g, n)), 1e-300)), 2)] for n in NAMES}


def load_rows(paths):
    """The rows of saved runs: JSON lines as printed, or an OUT.json written by --out ({"rows": [...]})."""
    rows = []
    for p in paths:
        text = Path(p).read_text()
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:           # several lines: JSON lines
            whole = None
        if isinstance(whole, dict) and "rows" in whole:
            rows += whole["rows"]
        else:
            rows += [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    return rows


def summarise(paths):
    """Markdown table of saved JSON lines: per eligibility form, rounding and batch size, the seeds, the
    smallest cosine of each matrix over the seeds (chip, then the dec12 control), the seeds meeting 0.9 on every
    matrix and the range of the chip's norm ratios."""
    rows = load_rows(paths)
    groups = {}
    for r in rows:
        groups.setdefault((r.get("eligibility"), r.get("trace_rounding"), r["batch"]), []).append(r)
    out = ["| form | trace rounding | batch | seeds | chip: min cosine w_in / w_rec / w_out | seeds >= 0.9 on all | "
           "chip norm ratio | dec12 control: min cosine | dec12 seeds >= 0.9 |", "|---|---|---|---|---|---|---|---|---|"]
    for (el, rd, B), rs in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]), kv[0][2])):
        def mins(k):
            return " / ".join(f"{min(r[k][n][0] for r in rs):.3f}" for n in NAMES)

        def ok(k):
            return sum(all(r[k][n][0] >= 0.9 for n in NAMES) for r in rs)
        nr = [r["chip"][n][1] for r in rs for n in NAMES]
        out.append(f"| {el} | {rd} | {B} | {len(rs)} | {mins('chip')} | {ok('chip')} / {len(rs)} | "
                   f"{min(nr):.2f}-{max(nr):.2f} | {mins('dec12')} | {ok('dec12')} / {len(rs)} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summarise", nargs="+", metavar="JSONL", help="print the table of saved runs and stop")
    ap.add_argument("--out", help="with --summarise: write OUT.md (the table) and OUT.json (every row)")
    ap.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--eligibility", choices=("per_synapse", "factorised"), default=None,
                    help="the on-chip eligibility form (default: the compiled one)")
    ap.add_argument("--trace-rounding", choices=("stochastic", "trunc"), default=None,
                    help="the rounding of the trace decays and of e (default: the compiled one). The weight "
                         "rounding does not enter: the accumulated update is the applied change plus the "
                         "residual held below the LSB, the whole accumulator whichever way it is split")
    ap.add_argument("--compiled", default="out/demo/compiled")
    a = ap.parse_args(argv)
    if a.summarise:
        table = summarise(a.summarise)
        print(table)
        if a.out:
            rows = load_rows(a.summarise)
            Path(a.out + ".md").write_text(
                "# One accumulated on-chip update vs float e-prop, by batch size (demo network, loihi2)\n\n"
                "Generated by `python tools/demo_cosine_batch.py --summarise ...` (regenerate: `--summarise docs/onchip_study/demo_cosine_batch.json --out docs/onchip_study/demo_cosine_batch`) from runs of\n"
                "`python tools/demo_cosine_batch.py --batches 16 256 1024 --seeds 0 1 2 3 4 --eligibility E "
                "--trace-rounding R` (docs/onchip_learning.md). Cosine and norm ratio per matrix of the chip's "
                "accumulated update (applied + held below the LSB) with the float e-prop update of the same batch "
                "from the same dequantised weights; dec12: the float rule with only its decays rounded to the "
                "chip's 12 bits, against the same float update.\n\n" + table + "\n")
            Path(a.out + ".json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
        return
    cfg = merge(DEFAULT, {})
    task = build({k: cfg[k] for k in ("task", "network", "rule", "train")})[0]
    cn0 = CompiledNetwork.load(a.compiled)
    for B in a.batches:
        cn = prepare_rule(cn0, lr=a.lr, batch_size=B, eligibility=a.eligibility)
        if a.trace_rounding and a.trace_rounding != cn.rule.trace_round:
            cr = cn.rule
            cn = lower_again(cn, _float_rule(cn), LowerRuleOptions(
                lr=float(cr.lr), rounding=cr.rounding, eligibility=cr.eligibility, seed=cr.seed, batch=B,
                lr_mode="sgd", trace_rounding=a.trace_rounding))
        rule = _float_rule(cn)
        start = {n: dequantize(cn, n, getattr(cn, n)) for n in NAMES}
        net = float_network(cn).with_weights(**start)
        net12 = dec12_network(net, cn)
        for s in a.seeds:
            b = task.batch(B, "train", 1000 * B + s)
            learned = native.run(cn, b.x, learn=True, targets=b, seed=0, epochs=1, batch_size=B)
            pend = learned.meta.get("pending_lsb") or {}
            d_chip = {n: dequantize(cn, n, learned.weights[n]) - start[n]
                      + (np.asarray(pend[n], np.float64) * cn.weight_lsb(n) if n in pend else 0.0) for n in NAMES}
            gf = weight_change(net, rule, b, trace=simulate(net, b.x, record_v=True), lr=rule.lr)
            g12 = weight_change(net12, rule, b, trace=simulate(net12, b.x, record_v=True), lr=rule.lr)
            d12 = {n: getattr(g12, n) for n in NAMES}
            print(json.dumps({"batch": B, "seed": s, "eligibility": cn.rule.eligibility, "trace_rounding": cn.rule.trace_round, "chip": row(d_chip, gf), "dec12": row(d12, gf)}), flush=True)


if __name__ == "__main__":
    main()
