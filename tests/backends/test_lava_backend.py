"""lava backend contract: refusals with named errors, watchdog, no leftover processes, counts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crosscheck"))
from xc_nets import make_compiled, poisson  # noqa: E402

from neurochip.errors import BackendError

lava = pytest.importorskip("neurochip.backends.lava") if os.environ.get("CI") != "true" else __import__(
    "neurochip.backends.lava", fromlist=["run"])


def test_refuses_weights_lava_cannot_hold():
    c = make_compiled(np.random.default_rng(0))
    w = np.array(c.w_in); w[0, 0] = 300
    bad = type(c)(**{**c.__dict__, "w_in": w})
    with pytest.raises(BackendError, match=r"w_in mantissas span \[.*300\]"):
        lava.run(bad, np.zeros((1, 5, c.n_in), np.uint8))


def test_refuses_graded_inputs_and_bad_shapes():
    c = make_compiled(np.random.default_rng(0))
    with pytest.raises(BackendError, match="binary"):
        lava.run(c, np.full((1, 5, c.n_in), 2, np.uint8))
    with pytest.raises(BackendError, match=r"n_in=6"):
        lava.run(c, np.zeros((1, 5, c.n_in + 1), np.uint8))


def test_learning_is_refused_with_reason():
    c = make_compiled(np.random.default_rng(0))
    with pytest.raises(BackendError, match="learning"):
        lava.run(c, np.zeros((1, 5, c.n_in), np.uint8), learn=True)


def test_timeout_kills_everything(monkeypatch):
    """A run past its timeout raises BackendError and leaves no process and no shared memory behind."""
    spawned = []
    real = subprocess.Popen

    def spy(*a, **k):
        p = real(*a, **k)
        spawned.append(p)
        return p

    monkeypatch.setattr(subprocess, "Popen", spy)
    before = set(os.listdir("/dev/shm"))
    c = make_compiled(np.random.default_rng(0), n_rec=8)
    with pytest.raises(BackendError, match="timeout"):
        lava.run(c, poisson(np.random.default_rng(0), 1, 2000, c.n_in, 0.2), timeout_s=1.5)
    assert spawned and spawned[0].poll() is not None
    assert lava._session_pids(spawned[0].pid) == []
    leaked = {f for f in set(os.listdir("/dev/shm")) - before if f.startswith("psm_")}
    assert not leaked, f"shared memory left behind: {sorted(leaked)[:5]}"


def test_counts_match_spikes():
    rng = np.random.default_rng(5)
    c = make_compiled(rng, n_rec=8, vth=40, dv=200, du=2000)
    x = poisson(rng, 1, 25, c.n_in, 0.3)
    r = lava.run(c, x)
    cnt = r.counts
    assert cnt.spikes == int(r.spikes.sum()) and cnt.input_spikes == int(x.sum())
    fan = np.asarray(c.rec_mask).sum(axis=0)
    want_syn = int(x.sum()) * c.n_rec + int((r.spikes[0].sum(axis=0) * fan).sum()) + int(r.spikes.sum()) * c.n_out
    assert cnt.syn_ops == want_syn
    assert cnt.per_core_syn_ops.sum() == cnt.syn_ops
    assert cnt.core_to_core_packets.sum() == cnt.spike_packets
    assert cnt.neuron_updates == (c.n_rec + c.n_out) * 25
    assert r.outputs.shape == (1, 25, c.n_out) and r.spikes.dtype == np.uint8


def test_eprop_learning_signal_codes():
    """Codes for run_eprop3f: chip time axis (2 leading zero steps), 7-bit + sign, descent sign (-B err)."""
    from neurochip.backends import native
    from neurochip.learning.losses import task_loss

    rng = np.random.default_rng(3)
    c = make_compiled(rng, n_rec=8, vth=40, dv=200, du=2000)
    c = type(c)(**{**c.__dict__, "B_float": rng.standard_normal((8, 2))})
    T = 30
    x = poisson(rng, 1, T, c.n_in, 0.3)[0]
    target = rng.standard_normal((T, 2))
    mask = np.ones(T, bool)
    code, scale = lava.eprop_learning_signal(c, x, target, mask, "mse")
    assert code.shape == (T + 2, c.n_rec) and (code[:2] == 0).all()
    assert np.abs(code).max() == 127
    out = native.run(c, x[None]).outputs
    _, err = task_loss(out, target[None], mask[None], "mse")
    L = err[0] @ c.B_float.T
    np.testing.assert_array_equal(code[2:], np.rint(-L * scale).astype(np.int64))
