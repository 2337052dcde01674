#!/usr/bin/env bash
# First run, measured: git clone -> environment (tools/bootstrap.sh, what `make demo` runs first) -> the
# demo (cold Numba cache) -> the demo again (warm cache), each stage's wall time and CPU time (user + sys of
# every process it started). CPU time is the honest figure on a shared machine: wall time there includes
# waiting for the cores other jobs hold; on an idle 2-core machine wall time is close to CPU time for the
# single-threaded stages (pip, Numba compilation, the demo's training loop).
#
#   bash tools/first_run.sh [REPO] [WORKDIR]     (defaults: this checkout, a new temporary directory)
#   FIRST_RUN_SKIP_WARM=1 bash tools/first_run.sh ...   (skip the second, warm-cache demo)
#
# Writes WORKDIR/first_run.json and prints a table. The demo's own per-stage timings (summary.json
# "timing_s") of the cold and the warm run are included: their difference is mostly Numba compilation.
set -euo pipefail
repo="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
work="${2:-$(mktemp -d /tmp/neurochip-first-run.XXXXXX)}"
mkdir -p "$work"
py="$(command -v python3 || command -v python)"
"$py" - "$repo" "$work" <<'EOF'
import json, os, resource, subprocess, sys, time
repo, work = sys.argv[1], sys.argv[2]
clone = os.path.join(work, "clone")
stages = []

def run(name, cmd, cwd, env=None):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    stages.append({"stage": name, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "rc": p.returncode,
                   "cmd": " ".join(cmd)})
    print(f"{name:<28} wall {wall:7.1f} s   cpu {cpu:7.1f} s   rc {p.returncode}", flush=True)
    if p.returncode != 0:
        print(p.stdout[-3000:])
    return p

run("git clone", ["git", "clone", "--quiet", repo, clone], work)
run("environment (bootstrap)", ["bash", "tools/bootstrap.sh"], clone)
demo = [os.path.join(clone, ".venv", "bin", "neurochip"), "demo", "-o", "out/demo", "--no-progress", "--force"]
wrep = os.path.join(work, "warmup.json")
run("demo, cold Numba cache", demo, clone, env={"NEUROCHIP_WARMUP_REPORT": wrep})
cold = json.load(open(os.path.join(clone, "out", "demo", "summary.json"))).get("timing_s", {})
warmup = json.load(open(wrep)) if os.path.exists(wrep) else None
if warmup:  # the demo's CPU time includes its kernel warm-up process (its child): split them
    print(f"  of which the kernel warm-up process: cpu {warmup['cpu_s']} s over {warmup['wall_s']} s wall, "
          f"{'completed' if warmup['completed'] else 'stopped by the demo'}; the demo's own cpu "
          f"{stages[-1]['cpu_s'] - warmup['cpu_s']:.1f} s", flush=True)
warm = {}
if not os.environ.get("FIRST_RUN_SKIP_WARM"):
    run("demo, warm Numba cache", demo, clone)
    warm = json.load(open(os.path.join(clone, "out", "demo", "summary.json"))).get("timing_s", {})
first = [s for s in stages if s["stage"] != "demo, warm Numba cache"]
total = {"wall_s": round(sum(s["wall_s"] for s in first), 1), "cpu_s": round(sum(s["cpu_s"] for s in first), 1)}
load = os.getloadavg()
res = {"stages": stages, "first_run_total": total, "demo_stage_wall_s": {"cold": cold, "warm": warm}, "warmup": warmup,
       "loadavg_at_end": [round(x, 2) for x in load], "cores": os.cpu_count(), "repo": repo,
       "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
with open(os.path.join(work, "first_run.json"), "w") as f:
    json.dump(res, f, indent=2)
print(f"first run (clone + environment + cold demo): wall {total['wall_s']} s, cpu {total['cpu_s']} s "
      f"(load average {load[0]:.1f} on {os.cpu_count()} cores)")
print("demo stages (wall s), cold -> warm: " + ", ".join(f"{k} {cold.get(k)} -> {warm.get(k)}" for k in cold))
print(f"wrote {os.path.join(work, 'first_run.json')}")
EOF
