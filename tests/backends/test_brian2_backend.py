"""brian2 backend contract: CompiledNetwork input (float fields + placement counts), errors, batch layout."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from neurochip.errors import BackendError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crosscheck"))

if os.environ.get("CI") != "true":
    pytest.importorskip("brian2")


@pytest.fixture(scope="module")
def compiled():
    from neurochip.compiler.pipeline import compile
    from neurochip.network import NeuronParams, init_network

    net = init_network(6, 16, 2, NeuronParams(kind="alif", n_ref=2), p_rec=0.4, seed=2)
    return compile(net, "loihi2")


def test_compiled_network_runs_its_float_fields_with_counts(compiled):
    from neurochip.backends import brian2 as bb
    from neurochip.backends import native
    from neurochip.simulate import simulate
    from neurochip.validate import float_network

    x = (np.random.default_rng(0).random((3, 80, 6)) < 0.2).astype(np.uint8)
    r = bb.run(compiled, x, target="numpy")
    ref = simulate(float_network(compiled), x)
    np.testing.assert_array_equal(r.spikes, ref.z)
    np.testing.assert_array_equal(r.outputs, ref.out)
    # counts come from the placement, as for lava; equal to native float mode's
    n = native.run(compiled, x, mode="float")
    assert r.counts.to_dict() == n.counts.to_dict()
    assert r.backend == "brian2" and r.meta["target"] == "numpy"


def test_batch_trials_are_independent(compiled):
    """B trials in one brian2 network (block-diagonal copies) == each trial run alone."""
    from neurochip.backends import brian2 as bb

    x = (np.random.default_rng(1).random((2, 60, 6)) < 0.3).astype(np.uint8)
    both = bb.run(compiled, x, target="numpy")
    one = bb.run(compiled, x[1:], target="numpy")
    np.testing.assert_array_equal(both.spikes[1:], one.spikes)
    np.testing.assert_array_equal(both.outputs[1:], one.outputs)


def test_errors(compiled):
    from neurochip.backends import brian2 as bb

    x = np.zeros((1, 5, 6), np.uint8)
    with pytest.raises(BackendError, match="unknown brian2 target 'gpu'"):
        bb.run(compiled, x, target="gpu")
    with pytest.raises(BackendError, match="inference reference"):
        bb.run(compiled, x, learn=True)
