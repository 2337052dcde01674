"""Float e-prop with plain SGD on the quick evidence task (3 cues, 300 ms delay, T = 900), at the
per-matrix rates the chip's 'adam_equivalent' calibration picked there (lr 5e-3 x 2^[7, 6, 8] =
0.64 / 0.32 / 1.28 for w_in / w_rec / w_out), times ``scale``: is SGD at the chip's rates a good
optimiser for this task? Prints iteration, minibatch loss, rate (Hz), held-out accuracy (128 trials).

    python tools/float_sgd_evidence.py [scale] [iterations]
"""
from __future__ import annotations

import sys
import warnings

import numpy as np

from neurochip.learning.gradients import grads
from neurochip.learning.losses import accuracy
from neurochip.simulate import simulate
from neurochip.train import build


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    scale = float(argv[0]) if argv else 1.0
    iters = int(argv[1]) if len(argv) > 1 else 100
    warnings.simplefilter("ignore")
    task, net, rule, _, _ = build({"task": {"name": "evidence", "n_cues": 3, "delay_ms": 300.0}})
    test = [task.batch(32, "test", k) for k in range(4)]
    lrs = {"w_in": 0.64 * scale, "w_rec": 0.32 * scale, "w_out": 1.28 * scale}
    n = net
    for it in range(iters):
        b = task.batch(16, "train", it)
        g, loss, m = grads(n, rule, b)
        n = n.with_weights(**{k: getattr(n, k) - lrs[k] * getattr(g, k) for k in lrs})
        n = n.with_weights(w_rec=n.w_rec * n.rec_mask)
        if (it + 1) % 10 == 0:
            acc = np.mean([accuracy(simulate(n, t.x).out, t.target, t.mask) for t in test])
            print(it + 1, round(loss, 3), round(m["rate_hz"], 1), round(float(acc), 3), flush=True)


if __name__ == "__main__":
    main()
