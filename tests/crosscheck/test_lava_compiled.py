"""The issue's 'done when': the evidence-accumulation network compiled to loihi2 gives identical results
on the native and lava backends (spikes, membrane, readout, event counts), here on a short held-out
slice (lava costs ~10 ms/step at this size). The compiled network is ALIF with reset by subtraction and
a refractory period, so lava runs our ChipNeuron model for the recurrent layer (lava's own Dense and
LIF for the synapses and the readout)."""
from __future__ import annotations

import numpy as np

from xc_helpers import require


def test_evidence_loihi2_native_equals_lava():
    lava = require("neurochip.backends.lava")
    require("lava.proc.lif.process")
    from neurochip.backends import native
    from neurochip.compiler.pipeline import compile
    from neurochip.network import NeuronParams, init_network
    from neurochip.tasks import get_task

    task = get_task("evidence")
    net = init_network(task.n_in, 40, task.n_out, NeuronParams(kind="alif"), seed=0)
    c = compile(net, "loihi2")
    x = task.batch(1, split="test").x[:, :150]
    n = native.run(c, x, record=("spikes", "outputs", "v", "out_int"))
    r = lava.run(c, x, record=("spikes", "outputs", "v"))
    assert n.spikes.sum() > 10, "the slice must contain spikes"
    np.testing.assert_array_equal(n.spikes, r.spikes)
    np.testing.assert_array_equal(n.v, r.v)
    np.testing.assert_array_equal(n.out_int, r.out_int)
    np.testing.assert_array_equal(n.outputs, r.outputs)
    assert n.counts.to_dict() == r.counts.to_dict()
