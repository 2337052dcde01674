"""The README's Python example runs as written and prints a rate and an energy."""
import re
from pathlib import Path


def test_readme_example_runs(capsys):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["res"].spikes.shape == (8, 500, 100)
    assert ns["e"].per_trial_uj() > 0
    assert capsys.readouterr().out.strip()
