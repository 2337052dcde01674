"""lava backend contract: refusals with named errors, watchdog, no leftover processes, counts."""
from __future__ import annotations

import os
import subprocess
import sys
import time
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


def test_learning_needs_targets_and_unknown_options_are_errors():
    from neurochip.errors import ConfigError

    c = make_compiled(np.random.default_rng(0))
    with pytest.raises(ConfigError, match="needs targets"):
        lava.run(c, np.zeros((1, 5, c.n_in), np.uint8), learn=True)
    with pytest.raises(BackendError, match="unknown run\\(\\) option.*'epoch'.*accepted: .*epochs"):
        lava.run(c, np.zeros((1, 5, c.n_in), np.uint8), epoch=2)
    with pytest.raises(BackendError, match="cannot record"):
        lava.run(c, np.zeros((1, 5, c.n_in), np.uint8), record=("voltage",))


def test_capabilities_declared():
    from neurochip.backends import backends_with, capabilities

    cap = capabilities("lava")
    assert cap.arithmetic == "fixed" and cap.learning == "partial" and "w_out" not in cap.learned
    assert "lava" in backends_with(arithmetic="fixed", learns=True)
    assert "lava" not in backends_with(accepts_network=True)


def test_learning_run_equals_engine_run_from_native_error():
    """run(learn=True) == run_eprop3f driven by codes from the native backend's readout error (an
    independent path to the same learning signal), one trial, one weight application."""
    from types import SimpleNamespace

    from neurochip.backends import native
    from neurochip.learning.losses import task_loss

    rng = np.random.default_rng(3)
    c = make_compiled(rng, n_rec=8, vth=40, dv=200, du=2000)
    c = type(c)(**{**c.__dict__, "B_float": rng.standard_normal((8, 2))})
    T = 20
    x = poisson(rng, 1, T, c.n_in, 0.3)
    tb = SimpleNamespace(target=rng.standard_normal((1, T, 2)), mask=np.ones((1, T), bool), loss="mse")
    r = lava.run(c, x, learn=True, targets=tb, seed=4)
    _, err = task_loss(native.run(c, x).outputs, tb.target, tb.mask, "mse")
    code, _ = lava.learning_signal_codes(c, err[0])
    xs = np.zeros((T + 2, c.n_in), np.uint8); xs[:T] = x[0]
    rr = lava.run_eprop3f(c, xs, code, exp=lava.LEARN_EXP, x1_impulse=lava.LEARN_X1_IMPULSE,
                          x1_tau=lava.LEARN_X1_TAU, rng_seed=5, learn_rec=True)
    np.testing.assert_array_equal(r.weights["w_in"], rr["w_in"])
    np.testing.assert_array_equal(r.weights["w_rec"], np.clip(rr["w_rec"], -256, 255))
    np.testing.assert_array_equal(r.weights["w_out"], np.asarray(c.w_out))     # not learned
    assert np.abs(r.weight_updates["w_in"]).sum() > 0                           # something was learned
    assert r.meta["learned"] == ["w_in", "w_rec"]


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
    # A segment still mapped or open by a live process belongs to a run that is still going (another
    # pytest-xdist worker's lava run); a leaked one is held by no process. Transients settle within seconds.
    deadline = time.monotonic() + 10.0
    while True:
        new = {f for f in set(os.listdir("/dev/shm")) - before if f.startswith("psm_")}
        leaked = new - _shm_in_use()
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not leaked, f"shared memory left behind: {sorted(leaked)[:5]}"


def _shm_in_use() -> set[str]:
    """Names of /dev/shm entries some live process maps or holds open."""
    used = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/maps") as f:
                used.update(line.rsplit("/dev/shm/", 1)[1].split()[0] for line in f if "/dev/shm/" in line)
            for fd in os.listdir(f"/proc/{d}/fd"):
                t = os.readlink(f"/proc/{d}/fd/{fd}")
                if t.startswith("/dev/shm/"):
                    used.add(t[len("/dev/shm/"):].split()[0])
        except OSError:
            pass
    return used


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
    out = native.run(c, x[None]).outputs
    code, scale = lava.eprop_learning_signal(c, x, target, mask, "mse", outputs=out[0])
    assert code.shape == (T + 2, c.n_rec) and (code[:2] == 0).all()
    assert np.abs(code).max() == 127
    _, err = task_loss(out, target[None], mask[None], "mse")
    L = err[0] @ c.B_float.T
    np.testing.assert_array_equal(code[2:], np.rint(-L * scale).astype(np.int64))
