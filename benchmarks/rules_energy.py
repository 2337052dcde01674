"""Energy and memory per rule per chip: the cost columns of docs/rules.md (issue 16, "costed like e-prop").

Every registered rule with an on-chip form is compiled for each chip from the SAME untrained network (the
evidence task's reference network by default: 40 inputs, ALIF 100, 2 outputs, T = 2250 steps) and priced by
`neurochip.cost.bench` on the same task trials with a learning run of the native backend (the counts of the
events the rule's on-chip form generates: trace updates, learning-signal or reward messages, weight writes),
exactly as `neurochip bench COMPILED --learn` does. Rules without an on-chip form are listed as such; BPTT's
row is the cost model's analytic BPTT (stored activations and the backward pass) on the same chip and trials.

    python benchmarks/rules_energy.py [--chips loihi2,loihi1,reckon] [--trials 4] [--n-rec 100]
        [--layered-rules eprop_symmetric,eprop_direct,eprop_random] [--out docs/rules_energy]

The rules of ``--layered-rules`` are priced again on a two-layer network with the same sizes (the layer map
of benchmarks/multilayer_feedback.py: layer 1 = n_rec/2 neurons gets the input, layer 2 alone drives the
readout), where direct random feedback (`eprop_direct`) differs from symmetric e-prop.

Writes OUT.json (every report field used) and OUT.md (the table). Energies are the profile's own pricing
basis (docs/cost_model.md): loihi2 an all-in per-operation upper bound; loihi1 / reckon dynamic energy per
priced event, with the events the profile leaves unpriced named in the table.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import replace
from pathlib import Path

# the STDP family (stdp, rstdp, stdp_triplet) runs on chip through its own lowering (compile() refuses it): priced here from
# its own learning run (`_stdp_reports`: compile without a rule, `lower_stdp`, `native_stdp.run_onchip`)
RULES = ("eprop_symmetric", "eprop_random", "eprop_adaptive", "eprop_sign", "rflo", "stdp", "rstdp", "stdp_triplet")
# rules priced again on the two-layer network (benchmarks/multilayer_feedback.py's layer map, n_rec/2 + n_rec/2):
# eprop_direct is symmetric e-prop on a network without one, so it is only priced here
LAYERED_RULES = ("eprop_symmetric", "eprop_direct", "eprop_random")


def _stdp_reports(net, rule, chips, batch):
    """Cost reports of an STDP-family rule, one per chip, shaped as `neurochip.cost.bench`'s: inference counts
    of the batch with the compiled weights; learning counts of the rule's on-chip run on the same trials
    (inference with each trial's weights + the engine's trace updates, weight writes and, for R-STDP, one
    reward message per recurrent neuron per trial). The memory row is the network's plus the engine's state
    for this rule (`cost.memory.engine_state_bits`: the traces its products read, its synaptic tags)."""
    import numpy as np
    from neurochip.backends.native_stdp import run_onchip
    from neurochip.compiler import compile as compile_net
    from neurochip.compiler.lower_stdp import lower_stdp
    from neurochip.cost.bench import APPROX_MEANING, compiled_for, run_counts
    from neurochip.cost.memory import memory
    from neurochip.cost.report import chip_report
    from neurochip.errors import NeurochipError
    base = compile_net(net, chips[0])
    x = np.asarray(batch.x)
    labels = np.array([int(np.asarray(batch.target[k])[np.asarray(batch.mask[k], bool)][0]) for k in range(len(x))])
    reps = []
    for chip in chips:
        try:
            c, _, approx = compiled_for(base, chip, learn=False, approximate=("auto",))
            low = lower_stdp(net, rule, c, calib_x=x)
            run = run_onchip(c, low, x, labels=labels, mask=np.asarray(batch.mask))
        except NeurochipError as e:             # ChipConstraintError included: a chip without the engine
            reps.append({"chip": chip, "error": " ".join(str(e).split())})
            continue
        ci, _, _ = run_counts(c, x, learn=False)
        rep = chip_report(c, ci, counts_learn=run.counts, step_ms=float(net.params.dt), compare_bptt=True, learn=True)
        rep["memory"] = {**memory(c, c.profile, engine_products=low.products), "rule": rule.name}
        rep["approximations"] = [APPROX_MEANING.get(a, a) for a in approx]
        reps.append(rep)
    return reps


def _row(rule: str, chip: str, rep: dict, b: dict) -> dict:
    mem = rep.get("memory") or {}
    return {"rule": rule, "chip": chip, "mode": b.get("mode"), "approximations": b.get("approximations") or [],
            "infer_uj": b.get("dynamic_infer_uj") if b.get("dynamic_infer_uj") is not None else b.get("all_in_infer_uj"),
            "learn_uj": b.get("dynamic_learn_uj") if b.get("dynamic_learn_uj") is not None else b.get("all_in_learn_uj"),
            "learn_events_uj": b.get("learn_events_uj"), "learn_complete": b.get("learn_complete"),
            "unpriced": b.get("unpriced") or [], "static_uj": b.get("static_uj"),
            "bptt_uj": (rep.get("bptt") or {}).get("per_trial_uj"),
            "memory_kib": mem.get("total_kib"), "memory": {k: v for k, v in mem.items() if not isinstance(v, (dict, list))},
            "learning_pj": (rep.get("learning") or {}).get("learning_pj")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chips", default="loihi2,loihi1,reckon")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--n-rec", type=int, default=100)
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--layered-rules", default=",".join(LAYERED_RULES))
    ap.add_argument("--out", type=Path, default=Path("docs/rules_energy"))
    a = ap.parse_args(argv)
    from neurochip.compiler import compile as compile_net
    from neurochip.cost.bench import bench
    from neurochip.cost.compare import basis
    from neurochip.errors import NeurochipError
    from neurochip.io import atomic_write_text, write_json
    from neurochip import rulebook
    from neurochip.rules import LearningRule
    from neurochip.train import build

    chips = a.chips.split(",")
    task, net, ref_rule, _, _ = build({"task": {"name": "evidence", "seed": 0}, "network": {"n_rec": a.n_rec},
                                       "train": {"seed": 0}})
    batch = task.batch(a.trials, "test", 0)
    from multilayer_feedback import two_layer_network
    two_layer = two_layer_network(task.n_in, a.n_rec // 2, a.n_rec - a.n_rec // 2, task.n_out, seed=0,
                                  tau_a=float(net.params.tau_a))[0]
    jobs = [(r, "reference", net) for r in a.rules.split(",") if r] + \
        [(r, "two-layer", two_layer) for r in a.layered_rules.split(",") if r]
    rows, t0 = [], time.perf_counter()
    for rule_name, net_name, net in jobs:
        rule = LearningRule(**{**ref_rule.to_dict(), "name": rule_name})
        own_lowering = rulebook.get(rule_name).lower is not None
        if own_lowering:
            # the STDP family's own settings (those of benchmarks/rstdp_reward.py, where R-STDP learns its task):
            # the e-prop reference rate (5e-3) is below the engine's smallest amplitude on this network
            from rstdp_reward import rstdp_rule
            rule = replace(rstdp_rule(), name=rule_name)
            if rule_name == "stdp_triplet":
                # triplet terms about in the ratios of tests/test_stdp_compiled.py's triplet rule (A3+ = 2 A+,
                # A3- ~ A-/2); with A3 = 0 the lowering is pair STDP and would be priced as pair STDP
                rule = replace(rule, stdp_a3_plus=2 * rule.stdp_a_plus, stdp_a3_minus=0.5 * rule.stdp_a_minus)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if own_lowering:
                    reps = _stdp_reports(net, rule, chips, batch)
                else:
                    c = compile_net(net, chips[0], rule)
                    reps = bench(c, chips, batch, learn=True, compare_bptt=True, eval_batch=None)
        except NeurochipError as e:
            rows.append({"rule": rule_name, "network": net_name, "error": " ".join(str(e).split())})
            print(rule_name, "error:", rows[-1]["error"], flush=True)
            continue
        for rep in reps:
            if "error" in rep:
                rows.append({"rule": rule_name, "network": net_name, "chip": rep["chip"], "error": rep["error"]})
                continue
            rows.append({**_row(rule_name, rep["chip"], rep, basis(rep)), "network": net_name})
            print(json.dumps({k: rows[-1][k] for k in ("rule", "chip", "infer_uj", "learn_uj", "learn_events_uj",
                                                       "bptt_uj", "memory_kib")}), flush=True)
    wall = time.perf_counter() - t0

    def f(v, d=3):
        return "-" if v is None else f"{v:.{d}g}"
    lines = [f"Evidence task, {a.n_rec} neurons (ALIF, reference parameters), untrained network, {a.trials} trials; "
             "energy per trial in uJ (learning = inference + the rule's learning events); memory of the compiled "
             "network with its rule (KiB).", "",
             "| rule | chip | inference uJ | learning uJ (of which learning events) | BPTT uJ (same chip, analytic) | "
             "memory KiB | unpriced events | approximations |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = r["rule"] + (" (two-layer)" if r.get("network") == "two-layer" else "")
        if "error" in r:
            lines.append(f"| {name} | {r.get('chip', '-')} | {r['error']} | | | | | |")
            continue
        lines.append(f"| {name} | {r['chip']} ({r['mode']}) | {f(r['infer_uj'])} | {f(r['learn_uj'])} "
                     f"({f(r['learn_events_uj'])}{'' if r['learn_complete'] else ', incomplete'}) | {f(r['bptt_uj'])} | "
                     f"{f(r['memory_kib'], 4)} | {', '.join(r['unpriced']) or '-'} | {', '.join(r['approximations']) or '-'} |")
    lines += ["", f"(two-layer): the same sizes as two recurrent layers of {a.n_rec // 2} + {a.n_rec - a.n_rec // 2} "
              "neurons (`Network` layer map: layer 1 gets the input, layer 2 alone drives the readout, no layer 2 -> 1 "
              "synapses); absent synapses are not on the chip and not priced. eprop_direct: W_out^T to layer 2, random "
              "B to layer 1 (direct feedback).", "",
              "STDP / R-STDP / triplet STDP: priced from their own on-chip run (`backends.native_stdp.run_onchip`, "
              "the settings of benchmarks/rstdp_reward.py); their memory is the network's plus the plasticity "
              "engine's state on W_in (7-bit x/y traces the rule reads, 9-bit synaptic tags it uses; "
              "`cost.memory.engine_state_bits`); chips without a plasticity engine refuse them."]
    md = "\n".join(lines) + "\n"
    print(md)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(a.out.with_suffix(".json"), {"args": {**vars(a), "out": str(a.out)}, "wall_s": wall, "rows": rows})
    atomic_write_text(a.out.with_suffix(".md"), md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
