"""On-chip learning at the register limits (issue 15): the learning kernel's forward pass is the inference
step (`neuron_step` / `readout_step` with the profile's register semantics), so on a compiled loihi2
network whose input sums leave int32 (fan-in 1,100, exponent 7, bursts) every trial of a learning run
equals lava-nc's own LIF run at the weights of that moment, bit for bit, wraps included; the learned
weights come from that forward pass. (lava's engine cannot run the compiled rule itself: docs/backends.md.)
"""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from xc_helpers import require


def test_learning_forward_equals_lava_at_the_limits():
    lava = require("neurochip.backends.lava")
    require("lava.proc.lif.process", "lava-nc is a required dependency")
    from neurochip.backends import native
    from neurochip.compiler import CompileOptions, compile
    from neurochip.compiler.check import FixedPointOverflowWarning, register_bounds
    from neurochip.network import NeuronParams, init_network
    from neurochip.rules import LearningRule

    rng = np.random.default_rng(1)
    net = init_network(1100, 6, 2, NeuronParams(kind="lif", n_ref=1), seed=0)
    net = replace(net, w_in=np.where(rng.random(net.w_in.shape) < 0.97, 1.0, -0.3))
    c = compile(net, "loihi2", LearningRule(name="eprop_random", lr=0.1),
                options=CompileOptions.make(reset="zero", approximate=("reset",), overflow="allow"))
    w = np.asarray(c.w_in)
    c = replace(c, e_in=7, w_in=np.where(w > 0, 255, w).astype(np.int32))   # full-scale mantissas, largest exponent
    b = register_bounds(c)
    assert "current" in b["can_overflow"]
    assert b["projections"]["in"]["worst_input"] > 2 ** 31      # past int32, not only past 24 bits
    x = (rng.random((3, 25, 1100)) < 0.3).astype(np.uint8)
    x[:, 4] = 1                                                                       # a burst: every input at once
    tgt = rng.standard_normal((3, 25, 2))
    w0 = {k: np.array(np.asarray(getattr(c, k)), copy=True) for k in ("w_in", "w_out")}
    for k in range(3):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            r = native.run(c, x[k:k + 1], learn=True, targets=tgt[k:k + 1])
        assert r.counts.overflow_current > 0 and any(issubclass(w.category, FixedPointOverflowWarning) for w in rec)
        lv = lava.run(c, x[k:k + 1], record=("spikes", "outputs"))
        assert lv.meta["neuron_model"] == "lava PyLifModelBitAcc"
        np.testing.assert_array_equal(r.spikes, lv.spikes, err_msg=f"trial {k}: learning forward vs lava spikes")
        np.testing.assert_array_equal(r.out_int, lv.out_int, err_msg=f"trial {k}: learning forward vs lava readout")
        c = replace(c, w_in=np.asarray(r.weights["w_in"], np.int32), w_rec=np.asarray(r.weights["w_rec"], np.int32),
                    w_out=np.asarray(r.weights["w_out"], np.int32))
    assert any((np.asarray(getattr(c, k)) != w0[k]).any() for k in w0), "the run must learn something"
