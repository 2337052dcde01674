"""On-chip learning on lava: the part of e-prop lava-nc's learning engine expresses, bit for bit.

lava's own LearningDense + Loihi3FLearningRule("2^e * u0 * x1 * y2 * y3") learns the input weights while
our EpropNeuron sends y2 = learning-signal code and y3 = pseudo-derivative code; the numpy emulation
`neurochip.kernels.lava_engine.emulate_eprop3f` (written from lava's source: scalar-RNG stochastic
rounding, 7-bit traces, product shifts, accumulator clipping) must give identical spikes and weights.
The neuron is our model on both sides (the emulator and the lava model share `neuron_step`); the
learning engine is lava's own. What the engine cannot express of the compiled rule: docs/backends.md.
"""
from __future__ import annotations

import numpy as np
import pytest

from xc_helpers import require
from xc_nets import make_compiled, poisson


@pytest.mark.parametrize("case", [
    dict(seed=4, exp=-3, x1_impulse=20.3, x1_tau=12, rng_seed=7, reset="subtract", n_ref=2, steps=60, p=0.3),
    dict(seed=5, exp=0, x1_impulse=64.7, x1_tau=4, rng_seed=11, reset="zero", n_ref=1, steps=80, p=0.5),
    dict(seed=6, exp=-6, x1_impulse=5.5, x1_tau=40, rng_seed=3, reset="subtract", n_ref=3, steps=50, p=0.1,
         kind="alif", da=50, a_inc=40, beta_max=100, beta_shift=3),
    dict(seed=4, exp=-3, x1_impulse=20.3, x1_tau=12, rng_seed=7, reset="subtract", n_ref=2, steps=60, p=0.3,
         learn_rec=True),
])
def test_lava_eprop3f_engine_bit_exact(case):
    lava = require("neurochip.backends.lava")
    require("lava.magma.core.learning.learning_rule")
    from neurochip.kernels.lava_engine import emulate_eprop3f

    case = dict(case)
    seed, exp, imp, tau, rs, steps, p = (case.pop(k) for k in ("seed", "exp", "x1_impulse", "x1_tau", "rng_seed",
                                                             "steps", "p"))
    learn_rec = case.pop("learn_rec", False)
    rng = np.random.default_rng(seed)
    c = make_compiled(rng, n_in=8, n_rec=10, vth=60, dv=300, du=1000, bias_max=300, bias_exp=1, e_rec=1, **case)
    x = poisson(rng, 1, steps, c.n_in, p)[0]
    L = rng.integers(-200, 201, (steps, c.n_rec))          # beyond +-127: the neuron clips
    r = lava.run_eprop3f(c, x, L, exp=exp, x1_impulse=imp, x1_tau=tau, rng_seed=rs, learn_rec=learn_rec)
    arr, prm = lava._job_arrays(c)
    prm = dict(prm, reset_subtract=int(c.reset == "subtract"))
    arr = dict(arr, w_rec=arr["w_rec"] * arr["rec_mask"])
    e = emulate_eprop3f(arr, prm, x, L, exp=exp, x1_impulse=imp, x1_tau=tau, rng_seed=rs, learn_rec=learn_rec)
    np.testing.assert_array_equal(e["spikes"], r["spikes"])
    changed = int((r["w_in"] != c.w_in).sum())
    assert changed > 0, "the run must learn something"
    bad = np.argwhere(e["w_in"] != r["w_in"])
    assert bad.size == 0, f"emulated weights differ from lava's at {bad[:3].tolist()} ({changed} weights changed)"
    if learn_rec:
        # recurrent learning on a LearningSparse: bit-exact, and synapses that do not exist stay absent
        assert (r["w_rec"] != arr["w_rec"]).any(), "w_rec must learn"
        np.testing.assert_array_equal(e["w_rec"], r["w_rec"])
        assert (r["w_rec"][~np.asarray(c.rec_mask)] == 0).all()


def test_emulator_rng_sensitivity():
    """The comparison is sensitive: a wrong rounding seed changes the emulated weights."""
    from neurochip.kernels.lava_engine import emulate_eprop3f

    rng = np.random.default_rng(4)
    c = make_compiled(rng, n_in=8, n_rec=10, vth=60, dv=300, du=1000, e_rec=1, reset="subtract")
    x = poisson(rng, 1, 60, c.n_in, 0.3)[0]
    L = rng.integers(-127, 128, (60, c.n_rec))
    arr = dict(w_in=c.w_in, w_rec=c.w_rec * c.rec_mask, bias_mant=c.bias_mant, beta_mant=c.beta_mant)
    prm = dict(e_in=0, e_rec=1, bias_exp=0, du=1000, dv=300, da=0, vth=60, beta_shift=0, a_inc=0, n_ref=1,
               reset_subtract=1)
    a = emulate_eprop3f(arr, prm, x, L, exp=-3, x1_impulse=20.3, x1_tau=12, rng_seed=7)["w_in"]
    b = emulate_eprop3f(arr, prm, x, L, exp=-3, x1_impulse=20.3, x1_tau=12, rng_seed=8)["w_in"]
    assert (a != b).any()


@pytest.mark.slow
def test_lava_engine_update_aligns_with_float_eprop():
    """Evidence task, one held-out trial: lava's engine learning w_in from the chip's own readout error
    (x1 y2 y3, 7-bit codes, no readout filter) vs the float e-prop update of w_in (cosine; 0.91 measured)."""
    lava = require("neurochip.backends.lava")
    require("lava.magma.core.learning.learning_rule")
    from neurochip.compiler.pipeline import compile
    from neurochip.learning.gradients import weight_change
    from neurochip.network import NeuronParams, init_network
    from neurochip.rules import LearningRule
    from neurochip.tasks import get_task
    from neurochip.validate import _cos, dequantize, float_network

    task = get_task("evidence")
    net = init_network(task.n_in, 50, task.n_out, NeuronParams(kind="alif"), seed=0)
    rule = LearningRule("eprop_symmetric", lr=1e-3)
    c = compile(net, "loihi2", rule)
    b = task.batch(1, split="test")
    code, _ = lava.eprop_learning_signal(c, b.x[0], b.target[0], b.mask[0], b.loss)
    xs = np.zeros((b.x.shape[1] + 2, c.n_in), np.uint8)
    xs[:b.x.shape[1]] = b.x[0]
    r = lava.run_eprop3f(c, xs, code, exp=-7, x1_impulse=20.0, x1_tau=20, rng_seed=1)
    d_chip = dequantize(c, "w_in", r["w_in"]) - dequantize(c, "w_in", c.w_in)
    d_ep = weight_change(float_network(c), LearningRule("eprop_symmetric", lr=1e-3, optimizer="sgd", reg_rate=0.0), b).w_in
    cos = _cos(d_chip.ravel(), d_ep.ravel())
    print(f"lava engine w_in update vs float e-prop: cosine {cos:.3f}, {(r['w_in'] != c.w_in).sum()} weights changed")
    assert cos > 0.7
