"""On-chip learning from random weights (`neurochip.scratch`, the main job's from-scratch stage) over seeds:
per-synapse e-prop at loihi2 widths reaches float e-prop's held-out accuracy on average, and learns on nearly
every seed.

Why over seeds. One run is one draw of the stochastic-rounding bits, and its accuracy moves by up to 0.27
between draws on one seed (seed 7: 0.688 to 0.961). Measured in session 20 over seeds 0-2 and 7-10 (the seeds
whose float run learns) x 10 random streams:
- lazy decays (the default): mean 0.887 (SE 0.010); float SGD 0.905;
- one rounding per step: 0.882 (SE 0.011);
- draws that do not learn: 4 of 70 and 3 of 70.
So a single draw lands below float - 0.1 on about 1 draw in 10 whichever rounding model runs (seed 0: stream
11 of the per-step model, 0.805; the default stream of the lazy one, 0.797).
"""
from __future__ import annotations

import numpy as np

from neurochip.scratch import ScratchPlan, learn_from_scratch

SEEDS = (0, 1, 2, 7, 8, 9, 10)       # seeds 3-6 do not learn in float either (0.48-0.53 after 320 trials)


def test_chip_learns_from_random_weights_like_float_over_seeds():
    """Mean held-out accuracy within 0.1 of float e-prop's on the same trials, and learning (+0.2 or more) on
    at least 5 of the 7 seeds. Measured: chip 0.797 / 0.875 / 0.477 / 0.961 / 0.953 / 0.875 / 0.977 (mean
    0.845), float 0.906 / 0.945 / 0.930 / 0.812 / 0.938 / 0.844 / 0.961 (mean 0.905); learns on 6 of 7.
    Mutation: ScratchPlan lr 2e-3 (too small to learn in 320 trials): learns on 0 of 7, fails (the mean check
    alone passes there, since float at that rate does not learn either)."""
    runs = [learn_from_scratch("loihi2", ScratchPlan(), seed=s) for s in SEEDS]
    chip = np.array([r["after"] for r in runs])
    flt = np.array([r["float_sgd_after"] for r in runs])
    learned = sum(r["after"] - r["before"] >= 0.2 for r in runs)
    assert chip.mean() >= flt.mean() - 0.1, (chip.tolist(), flt.tolist())
    assert learned >= 5, [(r["before"], r["after"]) for r in runs]
