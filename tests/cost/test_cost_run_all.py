"""benchmarks/run_all.py: discovers bench_*.py in order, runs each once in-process, survives a failure."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _driver():
    spec = importlib.util.spec_from_file_location("run_all_under_test", ROOT / "benchmarks" / "run_all.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_run_all_on_fake_benchmarks(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    (d / "bench_zeta.py").write_text("def run(quick=False):\n    return {'title': 'Zeta', 'markdown': '| a |\\n', 'data': {'q': quick}}\n")
    (d / "bench_native.py").write_text("def run(quick=False):\n    return {'title': 'Native', 'markdown': 'native table', 'data': {'x': 1}}\n")
    (d / "bench_broken.py").write_text("def run(quick=False):\n    raise RuntimeError('boom')\n")
    ra = _driver()
    assert [t for t, _ in ra.discover(d)] == ["native", "broken", "zeta"]
    md, js = tmp_path / "out.md", tmp_path / "out.json"
    rc = ra.main(["--quick", "--bench-dir", str(d), "--md", str(md), "--json", str(js), "--no-progress"])
    assert rc == 1                                             # one section failed
    res = json.loads(js.read_text())
    assert [s["status"] for s in res["sections"]] == ["ok", "failed", "ok"]
    assert res["sections"][2]["data"] == {"q": True} and res["quick"] is True
    text = md.read_text()
    assert "same run" in text and "## Native" in text and "boom" in text
    assert text.index("## Native") < text.index("## Zeta")
    assert res["machine"]["python"] and res["machine"]["logical_cores"]
    rc = ra.main(["--only", "zeta", "--bench-dir", str(d), "--md", str(md), "--json", str(js), "--no-progress"])
    assert rc == 0 and len(json.loads(js.read_text())["sections"]) == 1
