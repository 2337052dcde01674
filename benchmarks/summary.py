"""Issue 11's speed targets and the README "Numbers" rows, computed from one run's benchmarks/results.json.

Every ratio here is formed from numbers of the same run (the file records the machine, date and commit).
Usage: python benchmarks/summary.py [RESULTS_JSON]   (default benchmarks/results.json); prints markdown.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sections(res: dict) -> dict:
    return {s["topic"]: s.get("data", {}) for s in res["sections"] if s.get("status") == "ok"}


def targets(res: dict) -> list[dict]:
    """[{target, measured, met}] for every target of issue 11 the run measured."""
    sec = _sections(res)
    out = []

    def add(name, value, need, fmt="{:.2f}x", detail=""):
        met = value is not None and value >= need
        out.append({"target": name, "value": value, "need": need, "met": met,
                    "measured": (fmt.format(value) if value is not None else "not measured") + (f" ({detail})" if detail else "")})

    for w in sec.get("onchip", {}).get("workloads", []):
        t = w.get("torch_b32_1t", {})
        tsec = t.get("cpu_ms_per_sample", 0) / 1e3 if "error" not in t else None
        lin = t.get("linearity", {})
        ln = f"PyTorch {t.get('cpu_ms_per_sample', float('nan')):.1f} ms/sample, linearity {lin.get('ratio', float('nan')):.2f}"
        for elig, need in (("factorised", 3.0 if w["workload"].startswith("evidence") else 1.0),
                           ("per_synapse", 1.0 if w["workload"].startswith("evidence") else 0.2)):
            o = w.get(elig, {})
            val = tsec / o["cpu_s_per_trial"] if tsec and "cpu_s_per_trial" in o else None
            name = (f"evidence ({w['workload'].split('_')[1].upper()}, T = {w['T']}): on-chip {elig} vs fair PyTorch BPTT b32"
                    if w["workload"].startswith("evidence") else
                    f"dense N = {w['N']}, p = 1, T = {w['T']}: on-chip {elig} vs fair PyTorch BPTT b32")
            add(f"{name} >= {need:g}x", val, need,
                detail=f"on-chip {o.get('cpu_s_per_trial', float('nan')) * 1e3:.1f} ms/trial; {ln}")
    for n, r in sec.get("float_training", {}).get("results", {}).items():
        t = r.get("torch_bptt", {})
        for rule, need in (("eprop_random", 3.0), ("bptt", 1.5)):
            o = r.get(rule, {})
            val = t["cpu_ms_per_sample"] / o["cpu_ms_per_sample"] if "cpu_ms_per_sample" in t and "cpu_ms_per_sample" in o else None
            add(f"float {rule} N = {n} vs fair PyTorch BPTT >= {need:g}x", val, need,
                detail=f"{o.get('cpu_ms_per_sample', float('nan')):.1f} vs {t.get('cpu_ms_per_sample', float('nan')):.1f} ms/sample")
    peers = sec.get("peers", {})
    for r in peers.get("brian2_default_vs_native", []):
        b, f = r["brian2_default"]["loop_ms_per_step"], r["native_fixed_1t"]["wall_ms_per_step"]
        add(f"fixed-point inference vs brian2 cpp_standalone default flags, N = {r['N']}, p = {r['p']} >= 3x", b / f, 3.0,
            detail=f"{b:.4f} vs {f:.4f} ms/step")
    for r in peers.get("lava_native", []):
        add(f"fixed-point inference vs lava-nc fixed_pt, N = {r['N']} >= 200x", r["speedup"], 200.0,
            fmt="{:.0f}x", detail=f"{r['lava_run_ms_per_step']:.3f} vs {r['native_ms_per_step']:.4f} ms/step")
    nat = sec.get("native", {})
    bound = nat.get("bandwidth_bound", {}).get("events_per_s")
    for r in nat.get("inference", []):
        if r["N"] >= 1024 and bound:
            best = max(r["fixed_1t"]["events_per_s"], r["fixed_2t"]["events_per_s"])
            add(f"synaptic events/s >= 50 % of the bandwidth bound, N = {r['N']}, p = {r['p']}", 100 * best / bound, 50.0,
                fmt="{:.0f} %", detail=f"{best:.3g} events/s (1 thr {r['fixed_1t']['events_per_s']:.3g}) vs bound {bound:.3g}")
    return out


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"Run of {m['date_utc']}, commit {m['git_commit']}" + (" (QUICK run: sizes are not the targets')" if res.get("quick") else ""),
             "", "| target (issue 11) | measured in this run | met |", "|---|---|---|"]
    for t in targets(res):
        lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "benchmarks" / "results.json"
    print(markdown(json.loads(path.read_text())))
