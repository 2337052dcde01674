"""The on-chip learning-rate schedule (`OnchipPlan.lr_decay`, `lr_decay_every`): a phase learns at the rate of
the one before times a power of two, applied exactly where the batch sums meet the persistent accumulators
(`kernels.eprop_fixed.apply_proj`), the residuals carried over, and a constant rate left as it was."""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurochip.backends import native
from neurochip.compiler import compile as compile_net
from neurochip.compiler.pipeline import CompileOptions
from neurochip.errors import ConfigError
from neurochip.network import NeuronParams, init_network
from neurochip.onchip import (OnchipPlan, chunk_starts, prepare_rule, scheduled_state, train_onchip,
                              with_weights)
from neurochip.rules import LearningRule
from neurochip.tasks import get_task

SMALL_TASK = dict(n_cues=1, cue_ms=30.0, gap_ms=10.0, delay_ms=20.0, recall_ms=20.0, group_size=5)
B = 4


@pytest.fixture(scope="module", params=["per_synapse", "factorised"])
def sgd(request):
    """A small LIF evidence network on loihi2 with its rule at an explicit SGD rate (no gain calibration)."""
    task = get_task("evidence", **SMALL_TASK)
    p = NeuronParams(kind="lif", tau_m=20.0, tau_out=20.0, v_th=0.6, n_ref=2)
    net = init_network(task.n_in, 24, task.n_out, p, seed=0)
    rule = LearningRule("eprop_random", eligibility=request.param, reg_rate=0.0)
    cn = compile_net(net, "loihi2", rule, options=CompileOptions.make(seed=0))
    return task, prepare_rule(cn, lr=0.05, rounding="nearest", eligibility=request.param, batch_size=B)


@pytest.mark.parametrize("d", [0.3, 0.75, 0.0, 1.5, -0.5, float("nan"), float("inf"), True, "half", None])
def test_lr_decay_must_be_a_power_of_two_at_most_one(d):
    with pytest.raises(ConfigError, match=r"lr_decay must be 1, 1/2, 1/4.*got"):
        OnchipPlan(iterations=4, lr_decay=d)


@pytest.mark.parametrize("every", [0, -1, 2.5, True])
def test_lr_decay_every_must_be_a_positive_integer(every):
    with pytest.raises(ConfigError, match="lr_decay_every must be an integer >= 1"):
        OnchipPlan(iterations=4, lr_decay=0.5, lr_decay_every=every)


@given(its=st.integers(1, 60), ev=st.integers(1, 20), every=st.integers(1, 25), epochs=st.integers(1, 3),
       k=st.integers(0, 3))
@settings(max_examples=200, deadline=None)
def test_calls_split_at_evaluations_and_at_every_phase_change(its, ev, every, epochs, k):
    """Each backend call runs at one rate: a call starts at every evaluation point and wherever the global
    iteration (over passes, as the float trainer counts) enters a new phase; nothing else changes."""
    plan = OnchipPlan(iterations=its, eval_every=ev, epochs=epochs, lr_decay=2.0 ** -k, lr_decay_every=every)
    for ep in range(epochs):
        starts = chunk_starts(plan, ep)
        assert starts == sorted(set(starts)) and starts[0] == 0 and starts[-1] < its
        ends = starts[1:] + [its]
        for s, e in zip(starts, ends):          # one phase per call
            g = ep * its
            assert k == 0 or (g + s) // every == (g + e - 1) // every
        expect = set(range(0, its, ev)) | ({i for i in range(its) if (ep * its + i) % every == 0} if k else set())
        assert set(starts) == expect


def _dense(w):
    return np.asarray(w.toarray() if hasattr(w, "toarray") else w).ravel()


def _q(state, frac):
    """acc - (w << frac) per synapse: a batch adds exactly its scaled sum to it (the applied part moves from the
    accumulator into the weight), whatever the rounding of the application (no clip, no saturation)."""
    return [np.asarray(state.acc_in, np.int64) - (np.asarray(state.in_w, np.int64) << frac),
            np.asarray(state.acc_rec, np.int64) - (np.asarray(state.rec_w, np.int64) << frac),
            np.asarray(state.acc_out, np.int64).ravel() - (np.asarray(state.w_out_t, np.int64).ravel() << frac)]


def test_a_new_phase_halves_the_batch_update_exactly(sgd):
    """One batch after a phase change with lr_decay = 1/2 adds rnd(t / 2) (half away from zero) to every
    synapse's accumulator-and-weight, where the same batch at the constant rate adds t: the rate halves with
    one rounding, and the residuals of the first phase carry over."""
    task, cn = sgd
    frac = int(cn.rule.frac_bits)
    b1, b2 = task.batch(B, "train", 0), task.batch(B, "train", 1)
    tg = lambda b: {"target": b.target, "mask": b.mask, "loss": b.loss}        # noqa: E731
    r1 = native.run(cn, b1.x, learn=True, targets=tg(b1), batch_size=B, seed=3)
    s1 = r1.meta["learn_state"]
    c1 = with_weights(cn, r1.weights)
    plan = OnchipPlan(iterations=2, batch_size=B, eval_every=1, lr_decay=0.5, lr_decay_every=1)
    s1d, phase = scheduled_state(s1, plan, 1, 0)
    assert phase == 1 and list(s1.gain_exp) == [0, 0, 0] and list(s1d.gain_exp) == [-1, -1, -1]
    rc = native.run(c1, b2.x, learn=True, targets=tg(b2), batch_size=B, seed=4, state=s1)
    rd = native.run(c1, b2.x, learn=True, targets=tg(b2), batch_size=B, seed=4, state=s1d)
    for r in (r1, rc, rd):
        assert int(r.meta.get("weight_clips", 0) or 0) == 0 and int(r.meta.get("learning_saturations", 0) or 0) == 0
    q1, qc, qd = _q(s1, frac), _q(rc.meta["learn_state"], frac), _q(rd.meta["learn_state"], frac)
    moved = 0
    for a, c, d in zip(q1, qc, qd):
        t = c - a                                      # the constant-rate batch sum, per synapse
        half = np.sign(t) * ((np.abs(t) + 1) // 2)     # rnd(t, 1): half away from zero
        np.testing.assert_array_equal(d - a, half)
        moved += int(np.count_nonzero(t))
    assert moved > 0                                   # the batch did update (a vacuous identity is no test)


def test_a_negligible_later_rate_freezes_the_weights(sgd):
    """lr_decay = 2^-40 from the second iteration on: the run's weights are those after its first iteration
    (the later batch sums round to zero; with nearest rounding the residual alone never reaches an LSB), while
    at the constant rate they keep changing. A schedule that is ignored, or applied from the wrong iteration,
    fails one of the two."""
    task, cn = sgd
    cn = prepare_rule(cn, lr=1.0, rounding="nearest", batch_size=B)     # an update of one batch reaches an LSB
    one = train_onchip(cn, task, OnchipPlan(iterations=1, batch_size=B, eval_every=1, eval_trials=8), progress=False)
    frz = train_onchip(cn, task, OnchipPlan(iterations=4, batch_size=B, eval_every=4, eval_trials=8, lr_decay=2.0 ** -40,
                                            lr_decay_every=1), progress=False)
    const = train_onchip(cn, task, OnchipPlan(iterations=4, batch_size=B, eval_every=4, eval_trials=8), progress=False)
    w = lambda c: np.concatenate([_dense(c.w_in), _dense(c.w_rec), _dense(c.w_out)])  # noqa: E731
    assert not np.array_equal(w(one.compiled), w(cn))                   # the first iteration learned
    np.testing.assert_array_equal(w(frz.compiled), w(one.compiled))
    assert not np.array_equal(w(const.compiled), w(one.compiled))
    assert frz.curve["lr_decay"] == 2.0 ** -40 and frz.curve["lr_decay_every"] == 1


def test_constant_rate_runs_as_before(sgd):
    """lr_decay = 1 (the default) calls the backend exactly as a plan without a schedule: same weights."""
    task, cn = sgd
    a = train_onchip(cn, task, OnchipPlan(iterations=5, batch_size=B, eval_every=2, eval_trials=8), progress=False)
    b = train_onchip(cn, task, replace(OnchipPlan(iterations=5, batch_size=B, eval_every=2, eval_trials=8),
                                       lr_decay_every=3), progress=False)
    assert chunk_starts(OnchipPlan(iterations=5, eval_every=2, lr_decay_every=3)) == [0, 2, 4]
    np.testing.assert_array_equal(_dense(a.compiled.w_rec), _dense(b.compiled.w_rec))
    assert a.curve["points"][-1] == {**b.curve["points"][-1], "wall_s": a.curve["points"][-1]["wall_s"]}


def test_lr_decay_needs_the_native_backend(sgd):
    task, cn = sgd
    with pytest.raises(ConfigError, match="lr_decay = 0.5 needs the native backend"):
        train_onchip(cn, task, OnchipPlan(iterations=2, batch_size=B, lr_decay=0.5), backend="lava", progress=False)
