"""The finite training set (neurochip.tasks.finite) and train(..., train_set_size=M)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip.errors import InvalidNetworkError
from neurochip.tasks import get_task
from neurochip.tasks.finite import finite_set


@pytest.fixture(scope="module")
def task():
    return get_task("evidence")


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 23), bs=st.integers(1, 9), epochs=st.integers(1, 3))
def test_every_trial_once_per_epoch(size, bs, epochs):
    """Minibatches tile the concatenated epoch permutations: over E*M positions every trial appears E
    times, and each epoch is a permutation of range(M)."""
    class _T:   # a stand-in task: only .batch is used, and only once (the set); indices are what we check
        def batch(self, n, split, index):
            return get_task("evidence").batch(n, split, index)
    fs = finite_set(_T(), size, seed=3)
    n_pos = epochs * size
    seen = np.concatenate([fs.indices(k, bs) for k in range(-(-n_pos // bs))])[:n_pos]
    assert np.array_equal(np.bincount(seen, minlength=size), np.full(size, epochs))
    for e in range(epochs):
        assert sorted(seen[e * size:(e + 1) * size]) == list(range(size))


def test_minibatches_come_from_the_set_and_heldout_is_disjoint(task):
    fs = finite_set(task, 12, seed=1)
    pool = {fs.trials.x[i].tobytes() for i in range(fs.size)}
    for k in range(5):
        mb = fs.minibatch(k, 5)
        assert all(mb.x[i].tobytes() in pool for i in range(5))
    test = task.batch(64, "test", 0)
    assert not any(test.x[i].tobytes() in pool for i in range(64))


def test_deterministic_and_seed_dependent(task):
    a, b, c = finite_set(task, 8, 0), finite_set(task, 8, 0), finite_set(task, 8, 1)
    assert np.array_equal(a.trials.x, b.trials.x) and np.array_equal(a.indices(3, 5), b.indices(3, 5))
    assert not np.array_equal(a.trials.x, c.trials.x)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_size(task, bad):
    with pytest.raises(InvalidNetworkError, match="train_set_size"):
        finite_set(task, bad, 0)


def test_training_on_a_tiny_set_overfits():
    """A network trained for many epochs on 4 trials fits them better than held-out trials: the gap is
    positive (train_set metrics are computed on exactly the trained trials)."""
    from neurochip.train import train_from_config
    cfg = {"task": {"name": "evidence"}, "network": {"n_rec": 40},
           "rule": {"name": "bptt", "lr": 1e-2},
           "train": {"iterations": 60, "batch_size": 4, "train_set_size": 4, "eval_every": 60, "eval_batches": 2,
                     "early_stop": None, "progress": False, "seed": 0}}
    _, hist, m = train_from_config(cfg)
    assert m["train_set"]["trials"] == 4
    assert m["train_set"]["loss"] < 0.5 * m["test"]["loss"], (m["train_set"], m["test"])
    assert m["gap"]["loss"] > 0


def test_stop_loss_stops_at_a_matched_training_loss():
    """stop_loss ends training once the last epoch's mean minibatch loss is below it (and not before)."""
    from neurochip.train import train_from_config
    cfg = {"task": {"name": "evidence"}, "network": {"n_rec": 40}, "rule": {"name": "bptt", "lr": 1e-2},
           "train": {"iterations": 60, "batch_size": 4, "train_set_size": 8, "eval_every": 60, "eval_batches": 1,
                     "early_stop": None, "progress": False, "seed": 0, "stop_loss": 0.3}}
    _, hist, m = train_from_config(cfg)
    loss = hist.train["loss"]
    assert m["stopped_early"] and m["iterations"] < 60
    assert sum(loss[-2:]) / 2 < 0.3                       # window = ceil(8 / 4) = 2 updates
    assert all(sum(loss[i - 1:i + 1]) / 2 >= 0.3 for i in range(1, len(loss) - 1))
    with pytest.raises(InvalidNetworkError, match="stop_loss"):
        train_from_config({**cfg, "train": {**cfg["train"], "stop_loss": -1.0}})
