"""Speed-suite driver: run every ``benchmarks/bench_*.py`` in one process and write docs/benchmarks.md.

Each benchmark module exposes ``run(quick: bool = False) -> {"title", "markdown", "data"}``. This
driver imports them all (in a fixed, sensible order, then any others alphabetically), calls ``run`` once
each in this one process on this one machine, so every peer in the tables was measured in the same
run under the same conditions, records the machine (CPU model, cores, RAM, Python and library
versions, date, git commit) and writes:

    docs/benchmarks.md        header + machine + targets (summary.py, if present) + one section per benchmark
    benchmarks/results.json   machine + every section's data, status and wall time

A benchmark that raises is recorded as failed (with the error) and the others still run. Usage::

    python benchmarks/run_all.py [--quick] [--only native,peers] [--md PATH] [--json PATH]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Order of the sections in docs/benchmarks.md: the machine's bound and the native backend first, then
# its peers, learning, the compiler; any other bench_*.py follows alphabetically.
ORDER = ("bandwidth", "native", "peers", "onchip", "float_training", "learning", "compile", "cost")


def discover(bench_dir: Path) -> list[tuple[str, Path]]:
    """[(topic, path)] of bench_<topic>.py files in ``bench_dir``, in section order."""
    found = {p.stem[len("bench_"):]: p for p in sorted(bench_dir.glob("bench_*.py"))}
    ordered = [t for t in ORDER if t in found] + sorted(t for t in found if t not in ORDER)
    return [(t, found[t]) for t in ordered]


def _load(topic: str, path: Path):
    spec = importlib.util.spec_from_file_location(f"neurochip_bench_{topic}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _version(dist: str) -> str | None:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, logical cores, RAM, OS, Python and library versions, UTC date, git commit."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 2**20, 2)
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    try:   # tracked files with uncommitted changes: the run measured the working tree, not only the commit
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
        dirty = sorted(line[3:] for line in dirty if line.strip())
    except (OSError, subprocess.SubprocessError):
        dirty = None
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu, "logical_cores": os.cpu_count(), "cores_available": affinity, "ram_gib": ram_gib,
        "os": platform.platform(), "python": platform.python_version(),
        "versions": {d: _version(d) for d in ("numpy", "numba", "scipy", "lava-nc", "brian2", "torch", "neurochip")},
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "git_commit": commit,
        "git_uncommitted": dirty, "load_average_1_5_15min": load,
    }


def run_all(bench_dir: Path, *, quick: bool, only: list[str] | None = None, progress: bool = True) -> dict[str, Any]:
    """Run the benchmarks; returns {"machine", "quick", "sections": [...]}."""
    from tqdm import tqdm
    if str(bench_dir) not in sys.path:
        sys.path.insert(0, str(bench_dir))   # benchmarks may import their sibling helper modules
    load_start = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    todo = discover(bench_dir)
    if only:
        unknown = sorted(set(only) - {t for t, _ in todo})
        if unknown:
            raise SystemExit(f"run_all: no benchmark(s) {unknown}; found: {[t for t, _ in todo]}")
        todo = [(t, p) for t, p in todo if t in only]
    sections = []
    bar = tqdm(todo, desc="benchmarks", unit="section", disable=not progress, file=sys.stderr)
    for topic, path in bar:
        bar.set_postfix_str(topic)
        t0 = time.perf_counter()
        try:
            mod = _load(topic, path)
            res = mod.run(quick=quick)
            if not isinstance(res, dict) or "markdown" not in res:
                raise TypeError(f"{path.name}: run() must return a dict with 'title', 'markdown', 'data'")
            sec = {"topic": topic, "file": path.name, "status": "ok", "title": str(res.get("title", topic)),
                   "markdown": str(res["markdown"]), "data": res.get("data", {})}
        except Exception as e:  # one failing benchmark must not hide the others
            sec = {"topic": topic, "file": path.name, "status": "failed", "title": topic,
                   "markdown": f"**Failed**: `{type(e).__name__}: {e}`\n", "data": {},
                   "error": "".join(traceback.format_exception(type(e), e, e.__traceback__))[-4000:]}
        sec["seconds"] = round(time.perf_counter() - t0, 2)
        sections.append(sec)
    return {"machine": machine_info(), "quick": quick, "load_start": load_start, "sections": sections}


def to_markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    v = ", ".join(f"{k} {val}" for k, val in m["versions"].items() if val)
    head = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/run_all.py" + (" --quick" if res["quick"] else "") + "` (`make bench`). "
        "**All peers were measured in the same run, in one process, on the machine below**, so the ratios "
        "compare like with like; absolute times depend on this machine."
        + (" This is a *quick* run (small sizes): use it to check the suite, not to quote numbers." if res["quick"] else ""),
        "",
        "| machine | |",
        "| --- | --- |",
        f"| CPU | {m['cpu']} |",
        f"| cores (logical / available to this process) | {m['logical_cores']} / {m['cores_available']} |",
        f"| RAM | {m['ram_gib']} GiB |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        f"| libraries | {v} |",
        f"| date | {m['date_utc']} |",
        f"| git commit | {m['git_commit']}"
        + (f" (+ uncommitted changes in {', '.join(m['git_uncommitted'])})" if m.get("git_uncommitted") else "") + " |",
        f"| load average (1 / 5 / 15 min) at the start | {' / '.join(map(str, res.get('load_start') or []))} "
        f"(2 cores; other jobs were running if it exceeds ~1) |",
        f"| load average at the end | {' / '.join(map(str, m.get('load_average_1_5_15min') or []))} |",
        "",
        "| section | file | status | wall time (s) |",
        "| --- | --- | --- | ---: |",
    ]
    head += [f"| {s['title']} | `{s['file']}` | {s['status']} | {s['seconds']} |" for s in res["sections"]]
    if res.get("targets_markdown"):
        head += ["", "## Targets (issue 11), from this run", "", res["targets_markdown"].rstrip()]
    body = []
    for s in res["sections"]:
        body += ["", f"## {s['title']}", "", f"*(`benchmarks/{s['file']}`, {s['seconds']} s)*", "", s["markdown"].rstrip()]
    return "\n".join(head + body) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run every benchmarks/bench_*.py in one process and write "
                                             "docs/benchmarks.md and benchmarks/results.json.")
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds, for checking the suite)")
    ap.add_argument("--only", default="", help="comma-separated topics (bench_<topic>.py) to run")
    ap.add_argument("--bench-dir", default=str(ROOT / "benchmarks"), help="folder holding bench_*.py")
    ap.add_argument("--md", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown output")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results.json"), help="JSON output")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from neurochip.io import atomic_write_text, write_json
    only = [t.strip() for t in a.only.split(",") if t.strip()] or None
    res = run_all(Path(a.bench_dir), quick=a.quick, only=only, progress=not a.no_progress)
    summary = Path(a.bench_dir) / "summary.py"     # optional: targets met / missed, from this run's data
    if summary.exists():
        try:
            mod = _load("summary", summary)
            res["targets"] = mod.targets(res)
            res["targets_markdown"] = mod.markdown(res)
        except Exception as e:  # a summary bug must not lose the run
            res["targets_markdown"] = f"**summary.py failed**: `{type(e).__name__}: {e}`"
    md = to_markdown(res)
    atomic_write_text(a.md, md)
    write_json(a.json, res)
    print(md)
    failed = [s["topic"] for s in res["sections"] if s["status"] != "ok"]
    if failed:
        print(f"run_all: failed sections: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
