"""The backend contract (`neurochip.backend_contract`, `neurochip.backends`): every registered backend declares
its capabilities, callers select by capability, unknown run() options and record names are errors, and
input checking is shared."""
from __future__ import annotations

import numpy as np
import pytest

from neurochip.backend_contract import Capabilities, check_spike_inputs, float_network, reject_unknown_options
from neurochip.backends import BACKENDS, backends_with, capabilities, require
from neurochip.errors import BackendError, ConfigError


def test_every_backend_declares_capabilities():
    for name in BACKENDS:
        c = capabilities(name)
        assert isinstance(c, Capabilities) and c.arithmetic in ("fixed", "float")
        assert not c.learns or c.learned
    assert backends_with(arithmetic="fixed") == ["native", "lava"]
    assert backends_with(arithmetic="float", accepts_network=True) == ["brian2"]
    assert backends_with(arithmetic="fixed", learns=True) == ["native", "lava"]


def test_require_names_what_is_missing():
    assert require("native", arithmetic="fixed", learns=True).CAPABILITIES.learning == "compiled_rule"
    with pytest.raises(ConfigError, match=r"'brian2' cannot serve as X: it lacks fixed-point arithmetic \(it runs float\); "
                                          r"backends that can: native, lava"):
        require("brian2", arithmetic="fixed", purpose="as X")
    with pytest.raises(ConfigError, match="unknown backend 'nope'; known: native, lava, brian2"):
        require("nope")
    with pytest.raises(ValueError, match="must name the projections"):
        Capabilities(arithmetic="fixed", learning="partial")


def test_unknown_options_are_errors():
    c = Capabilities(arithmetic="fixed", learning="compiled_rule", learned=("w_in",), options=("mode",))
    reject_unknown_options("x", c, {})
    with pytest.raises(BackendError, match=r"x backend: unknown run\(\) option\(s\) 'epoch', 'mdoe'; accepted: "
                                           r"learn, targets, record, seed, epochs, batch_size, mode"):
        reject_unknown_options("x", c, {"mdoe": 1, "epoch": 2})
    from neurochip.backends import get_backend
    from neurochip.network import NeuronParams, init_network
    net = init_network(3, 4, 2, NeuronParams(), seed=0)
    with pytest.raises(BackendError, match="brian2 backend: unknown run.*'targte'"):
        get_backend("brian2").run(net, np.zeros((1, 5, 3), np.uint8), targte="numpy")
    with pytest.raises(BackendError, match="brian2 backend: cannot record"):
        get_backend("brian2").run(net, np.zeros((1, 5, 3), np.uint8), record=("volts",), target="numpy")
    assert float_network(net) is net


@pytest.mark.parametrize("x, msg", [
    (np.zeros((1, 5, 4)), r"n_in=3"), (np.zeros((0, 5, 3)), "at least one trial"),
    (np.full((1, 5, 3), 2, np.uint8), "binary"), (np.full((1, 5, 3), 0.5), "binary"),
    (np.array([["a"] * 3] * 5), "numeric"),
])
def test_input_checks(x, msg):
    with pytest.raises(BackendError, match=msg):
        check_spike_inputs(3, x, backend="t")
    ok = check_spike_inputs(3, np.ones((5, 3), bool), backend="t")
    assert ok.shape == (1, 5, 3) and ok.dtype == np.uint8 and ok.flags.c_contiguous
