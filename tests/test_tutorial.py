"""Every python block of docs/tutorial.md runs, in order, in one namespace (a reduced size)."""
import re
from pathlib import Path

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
    assert ns["e"].per_trial_uj() >= 0
