"""native.run refuses keyword arguments it does not know (issue 12: a misspelled option is never
swallowed), naming them; the spike rate in meta is exactly the raster's mean rate."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernels"))
from knets import random_compiled  # noqa: E402

from neurochip.backends import native
from neurochip.errors import BackendError


def _net():
    c = random_compiled(np.random.default_rng(3), n_in=6, n_rec=12, vth=5)
    x = (np.random.default_rng(4).random((2, 40, c.n_in)) < 0.5).astype(np.uint8)
    return c, x


def test_unknown_option_is_an_error_naming_it():
    c, x = _net()
    with pytest.raises(BackendError, match="'recrod'.*accepted: .*record"):
        native.run(c, x, recrod=("v",))
    with pytest.raises(BackendError, match="'thread', 'timeout_s'"):
        native.run(c, x, thread=2, timeout_s=5.0)


def test_known_options_still_accepted_and_rate_exact():
    c, x = _net()
    r = native.run(c, x, record=("spikes", "outputs", "v"), seed=1, threads=1, mode="fixed")
    assert r.spikes.sum() > 0
    assert r.meta["spike_rate_hz"] == float(r.spikes.mean()) * 1000.0
