"""The small networks the STDP-family tests share."""
from __future__ import annotations

import numpy as np


def small_reward_net():
    """(task, Network): a reduced reward_pattern task (12 inputs, 40 ms) and 6 LIF neurons in two pools of 3
    (W_out averages each pool; no recurrent weights), W_in uniform in [0, 0.4)."""
    from neurochip.network import Network, NeuronParams
    from neurochip.tasks import get_task
    task = get_task("reward_pattern", n_in=12, duration_ms=40.0, window_ms=10.0)
    rng = np.random.default_rng(0)
    n = 6
    net = Network(params=NeuronParams(kind="lif", n_ref=2), w_in=rng.random((n, 12)) * 0.4, w_rec=np.zeros((n, n)),
                  w_out=np.repeat(np.eye(2), 3, axis=1) / 3, b_out=np.zeros(2), B=np.ones((n, 2)), beta=np.zeros(n),
                  rec_mask=~np.eye(n, dtype=bool))
    return task, net
