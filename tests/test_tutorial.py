"""Every python block of docs/tutorial.md runs, in order, in one namespace (a reduced size)."""
import re
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


@pytest.mark.slow
def test_tutorial_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 6
    ns = {"ITER": 3}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)
    assert (tmp_path / "out/tutorial/compiled.npz").is_file()
    e, res, test = ns["e"], ns["res"], ns["test"]
    # the printed numbers are the objects' own: accuracy recomputed from the readout (one recall window per
    # trial, argmax of its mean), energy from its priced lines, every event priced on loihi2
    m = ns["task_metrics"](res.outputs, test.target, test.mask, test.loss)
    hits = [int(np.argmax(res.outputs[b, test.mask[b]].mean(0))) == int(test.target[b][test.mask[b]][0])
            for b in range(res.outputs.shape[0])]
    assert m["accuracy"] == pytest.approx(np.mean(hits), abs=1e-12)
    assert e.complete and e.per_trial_uj() > 0
    assert e.total_pj == pytest.approx(sum(ln.energy_pj for ln in e.lines), rel=1e-12)
    assert e.per_trial_uj() == pytest.approx(e.total_pj / e.trials * 1e-6, rel=1e-12)
    assert ns["learned"].counts.weight_updates > 0                  # the on-chip learning call learned something
    assert 0.5 <= ns["report"]["metrics"]["spike_agreement"] <= 1.0  # validate's default tolerance (docs/validate)
