"""Float e-prop continued on the demo's on-chip trials, from the float weights and from the chip's own
(dequantised) weights: the two "float continued" references for the issue-13 fine-tuning target.

    python tools/finetune_float_reference.py OUT/demo [LR] [FORM] [N_TEST]

N_TEST: held-out trials (default the demo's [validate] trials; more trials, smaller standard error).

FORM (default exact): a per-neuron eligibility form of tools/factorised_forms.py (pre_filt = the chip's
factorised form, pre_filt_a_meanfield, exact_noadapt) in place of exact e-prop, to tell the form's effect
from the chip's arithmetic.

Reads OUT/demo/compiled (the artifact `neurochip demo` wrote), draws the demo's on-chip learning trials as its
on-chip stage does (`neurochip.onchip.train_onchip`: task.batch([onchip] batch_size, 'train', i) for
i < [onchip] trials / batch_size, [onchip] epochs passes) and its held-out set (task.batch([validate] trials,
'test', 0)), runs plain SGD of the
compiled rule (its feedback, regulariser and rate, default the compiled rate) with
`neurochip.learning.gradients.weight_change`, and prints held-out accuracy before and after, per start.
Writes OUT/demo/finetune_float_reference.json.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    from neurochip.backend_contract import float_network
    from neurochip.compiler.artifact import CompiledNetwork
    from neurochip.config import DEFAULT
    from neurochip.io import write_json
    from neurochip.learning.gradients import weight_change
    from neurochip.learning.losses import accuracy
    from neurochip.simulate import simulate
    from neurochip.tasks import get_task
    from neurochip.validate import _float_rule, dequantize

    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0])
    c = CompiledNetwork.load(out / "compiled")
    summ = json.loads((out / "summary.json").read_text())
    cfg = summ.get("config") or DEFAULT
    oc, vc = cfg["onchip"], cfg["validate"]
    rule = _float_rule(c)
    lr = float(argv[1]) if len(argv) > 1 else float(rule.lr)
    form = argv[2] if len(argv) > 2 else "exact"
    if form != "exact":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from factorised_forms import form_grads
    task = get_task(cfg["task"]["name"], seed=int(cfg["task"]["seed"]))
    n_test = int(argv[3]) if len(argv) > 3 else int(vc["trials"])
    test = task.batch(n_test, "test", 0)
    f0 = float_network(c)
    starts = {"float weights": f0,
              "chip weights (dequantised)": f0.with_weights(**{n: dequantize(c, n, getattr(c, n)) for n in ("w_in", "w_rec", "w_out")})}
    acc = lambda n: float(accuracy(simulate(n, test.x).out, test.target, test.mask))  # noqa: E731
    rows = {}
    bs = int(oc["batch_size"])
    for name, net in starts.items():
        a0 = acc(net)
        for _ in range(int(oc["epochs"])):
            for i in range(-(-int(oc["trials"]) // bs)):
                if form == "exact":
                    g = weight_change(net, rule, task.batch(bs, "train", i), lr=lr)
                else:
                    g = form_grads(net, rule, task.batch(bs, "train", i), form)[0].scale(-lr)
                net = net.with_weights(w_in=net.w_in + g.w_in, w_rec=net.w_rec + g.w_rec, w_out=net.w_out + g.w_out,
                                       b_out=net.b_out + g.b_out)
        rows[name] = {"before": a0, "after": acc(net)}
        print(f"float SGD lr {lr:g} form {form} from {name}: held-out {a0:.4f} -> {rows[name]['after']:.4f}", flush=True)
    write_json(out / f"finetune_float_reference_{form}_{lr:g}_{n_test}.json", {"lr": lr, "form": form, "rule": rule.name, "n_test": n_test, "trials": int(oc["trials"]),
                                                      "epochs": int(oc["epochs"]), "batch_size": bs, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
