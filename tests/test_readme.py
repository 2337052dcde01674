"""The README's Python example runs as written and prints a rate and an energy, and what it prints is true."""
import re
from pathlib import Path

import numpy as np
import pytest


def test_readme_example_runs(capsys):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    res, e = ns["res"], ns["e"]
    assert res.spikes.shape == (8, 500, 100)
    # the printed rate is the raster's (dt = 1 ms): recomputed here from the spikes; measured 37.8 Hz
    rate = res.spikes.mean() * 1000.0 / ns["net"].params.dt
    assert res.meta["spike_rate_hz"] == pytest.approx(rate, rel=1e-12) and 5.0 < rate < 200.0
    assert res.counts.spikes == int(res.spikes.sum())
    # the printed energy: every event priced for loihi2 (measured 1.56 uJ per trial), the total split into its parts
    assert e.complete and not e.unpriced
    assert e.per_trial_uj() == pytest.approx(e.total_pj / e.trials * 1e-6, rel=1e-12)
    assert e.total_pj == pytest.approx(sum(ln.energy_pj for ln in e.lines), rel=1e-12)
    assert e.dynamic_pj == pytest.approx(e.total_pj - (e.static_pj or 0.0), rel=1e-12) and e.dynamic_pj > 0
    out = capsys.readouterr().out.split()
    assert float(out[0]) == pytest.approx(rate) and float(out[1]) == pytest.approx(e.per_trial_uj()) and out[2] == "complete"
