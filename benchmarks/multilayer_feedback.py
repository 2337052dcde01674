"""Direct random feedback into a hidden recurrent layer (issue 16 item 3), float, evidence accumulation.

Architecture: two recurrent populations in one `Network` with a layer map: layer 1 (n1 neurons) receives
the input and has its own recurrence; layer 2 (n2 neurons) receives only layer 1's spikes (feed-forward
L1 -> L2 synapses) and its own recurrence, and alone drives the readout. The structure is the network's
masks: ``rec_mask`` (no L2 -> L1 synapses), ``in_mask`` (no input to layer 2) and ``out_mask`` (no readout
from layer 1); absent synapses get no gradient and stay exactly 0 (checked at the end of each run), and the
same network compiles to a chip with the same structure (tests/test_layer_map.py).
Each layer: half of its neurons ALIF (the reference beta), the rest LIF.

Arms (the same initial network, trials and held-out set per seed):
  bptt           exact BPTT through the same two-layer architecture (the reference)
  eprop_symmetric  F = W_out^T: layer 1 has no readout weights, so it gets no learning signal (only the rate
                 regulariser moves it): only layer 2 and the readout learn
  eprop_direct   F = W_out^T for layer 2, F = B (fixed random) for layer 1: direct random feedback from the
                 output error into the hidden layer (Noekland 2016 direct feedback alignment, per layer);
                 the registered rule `eprop_direct` (neurochip/rulebook/eprop_direct.py)
  eprop_random   F = B for both layers (Lillicrap-style random feedback everywhere)

    nice -n 10 python benchmarks/multilayer_feedback.py --out docs/multilayer_feedback.json
    python benchmarks/multilayer_feedback.py --table docs/multilayer_feedback.json

Task: the reduced evidence task of benchmarks/feedback_alignment.py (3 cues, T = 475 ms), Adam 5e-3, rate
regulariser 1 (10 Hz), 16-trial batches, held-out test/0..15 (256 trials). Prints the table of docs/rules.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from neurochip.learning import OptState, apply_update, grads
from neurochip.layers import stack_layers
from neurochip.network import Network, NeuronParams, init_network
from neurochip.rules import LearningRule
from neurochip.tasks import get_task

ARMS = ("bptt", "eprop_symmetric", "eprop_direct", "eprop_random")
TASK = dict(n_cues=3, cue_ms=50.0, gap_ms=25.0, delay_ms=200.0, recall_ms=50.0)


def two_layer_network(n_in: int, n1: int, n2: int, n_out: int, seed: int, tau_a: float = 500.0
                      ) -> tuple[Network, dict[str, np.ndarray]]:
    """(network with its layer map, {'layer1': bool [n]}) of the two-layer architecture: `init_network`
    (n = n1 + n2, ALIF, the reference beta) cut by `neurochip.layers.stack_layers` to layers [n1, n2], the
    second half of each layer adaptive."""
    n = n1 + n2
    net = init_network(n_in, n, n_out, NeuronParams(kind="alif", tau_a=tau_a), n_adaptive=n, seed=seed)
    return stack_layers(net, [n1, n2], adaptive_fraction=0.5), {"layer1": np.arange(n) < n1}


def arm_rule(arm: str) -> LearningRule:
    """The registered rule of an arm."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; known: {', '.join(ARMS)}")
    return LearningRule(arm, lr=5e-3, optimizer="adam", reg_rate=1.0, target_rate_hz=10.0, train_bias=False)


def run_one(arm: str, seed: int, iterations: int, batch: int, n1: int, n2: int, eval_batches: int) -> dict:
    from neurochip.train import evaluate
    task = get_task("evidence", **TASK)
    net, masks = two_layer_network(task.n_in, n1, n2, task.n_out, seed)
    rule = arm_rule(arm)
    st = OptState()
    w_in0 = net.w_in.copy()
    losses = []
    t0 = time.perf_counter()
    for it in range(iterations):
        b = task.batch(batch, "train", int(seed) * 10**6 + it)
        g, loss, _ = grads(net, rule, b)
        if not np.isfinite(loss):
            raise RuntimeError(f"{arm} seed {seed}: diverged at iteration {it}")
        net = apply_update(net, rule, g, st)
        losses.append(loss)
    l1 = masks["layer1"]
    ok = (not np.any(net.w_in[~l1]) and not np.any(net.w_out[:, l1]) and not np.any(net.w_rec[np.ix_(l1, ~l1)]))
    if not ok:
        raise RuntimeError(f"{arm} seed {seed}: the two-layer structure was not kept")
    te = evaluate(net, task, batch, eval_batches, rule)
    return {"arm": arm, "seed": seed, "iterations": iterations, "test_accuracy": te["accuracy"],
            "test_loss": te["loss"], "test_rate_hz": te["rate_hz"], "train_loss_last50": float(np.mean(losses[-50:])),
            "layer1_w_in_change": float(np.linalg.norm(net.w_in[l1] - w_in0[l1]) / np.linalg.norm(w_in0[l1])),
            "seconds": time.perf_counter() - t0}


def table(doc: dict) -> str:
    lines = ["| arm | feedback to layer 1 / layer 2 | held-out accuracy, mean +- std | per seed | last-50 train loss "
             "| layer-1 W_in relative change |", "|---|---|---|---|---|---|"]
    fb = {"bptt": "exact gradient (BPTT)", "eprop_symmetric": "none (W_out^T = 0) / W_out^T",
          "eprop_direct": "B / W_out^T", "eprop_random": "B / B"}
    for arm in ARMS:
        rs = sorted((r for r in doc["runs"] if r["arm"] == arm), key=lambda r: r["seed"])
        if not rs:
            continue
        a = 100 * np.array([r["test_accuracy"] for r in rs])
        sd = a.std(ddof=1) if len(a) > 1 else 0.0
        lines.append(f"| {arm} | {fb[arm]} | {a.mean():.1f} +- {sd:.1f} % (n = {len(a)}) | "
                     f"{', '.join(f'{v:.1f}' for v in a)} | {np.mean([r['train_loss_last50'] for r in rs]):.3f} | "
                     f"{np.mean([r['layer1_w_in_change'] for r in rs]):.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--n1", type=int, default=20, help="neurons of layer 1 (input layer)")
    ap.add_argument("--n2", type=int, default=20, help="neurons of layer 2 (readout layer)")
    ap.add_argument("--eval-batches", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None, help="JSON of every run (appended per run; resumes)")
    ap.add_argument("--table", type=Path, default=None, help="only print the table of this JSON")
    a = ap.parse_args(argv)
    if a.table:
        print(table(json.loads(a.table.read_text())))
        return 0
    for k in ("iterations", "batch", "n1", "n2", "eval_batches"):
        if getattr(a, k) < 1:
            print(f"error: --{k.replace('_', '-')} must be >= 1, got {getattr(a, k)}", file=sys.stderr)
            return 2
    args = {k: getattr(a, k) for k in ("iterations", "batch", "n1", "n2", "eval_batches")}
    doc = {"args": args, "task": TASK, "runs": []}
    if a.out and a.out.exists():
        old = json.loads(a.out.read_text())
        if old.get("args") != args:
            print(f"error: {a.out} was made with {old.get('args')}, not {args}; choose another --out", file=sys.stderr)
            return 2
        doc["runs"] = old["runs"]
    done = {(r["arm"], r["seed"]) for r in doc["runs"]}
    for seed in a.seeds:
        for arm in a.arms:
            if (arm, seed) in done:
                continue
            r = run_one(arm, seed, a.iterations, a.batch, a.n1, a.n2, a.eval_batches)
            doc["runs"].append(r)
            print(json.dumps(r), flush=True)
            if a.out:
                from neurochip.io import write_json
                write_json(a.out, doc)              # atomic: a resumed run never reads half a file
    print(f"\nevidence (3 cues), two recurrent layers {a.n1} + {a.n2}, {a.iterations} updates x {a.batch} trials\n")
    print(table(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
