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
        ln = (f"PyTorch {t.get('cpu_ms_per_sample', float('nan')):.1f} ms/sample, linearity {lin.get('ratio', float('nan')):.2f}"
              + ("" if lin.get("ok") else " NOT LINEAR: baseline suspect"))
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


def readme_rows(res: dict) -> list[str]:
    """The speed rows of README's "Numbers" table, from this run only."""
    sec = _sections(res)
    rows = []
    ftd = sec.get("float_training", {})
    ft = ftd.get("results", {})
    if ft:
        parts = []
        for n, r in ft.items():
            t, e, b = r.get("torch_bptt", {}), r.get("eprop_random", {}), r.get("bptt", {})
            if "cpu_ms_per_sample" in t:
                parts.append(f"N = {n}: e-prop {e['cpu_ms_per_sample']:.1f}, our BPTT {b['cpu_ms_per_sample']:.1f}, fair PyTorch "
                             f"BPTT {t['cpu_ms_per_sample']:.1f} ms/sample ({t['cpu_ms_per_sample'] / e['cpu_ms_per_sample']:.1f}x, "
                             f"{t['cpu_ms_per_sample'] / b['cpu_ms_per_sample']:.1f}x)")
        rows.append(f"| float training, ALIF, T = {ftd.get('T')}, batch {ftd.get('batch')}, 1 thread, CPU per sample | "
                    + "; ".join(parts) + " |")
    for w in sec.get("onchip", {}).get("workloads", []):
        t, f, q = w.get("torch_b32_1t", {}), w.get("factorised", {}), w.get("per_synapse", {})
        if "cpu_ms_per_sample" not in t or "cpu_s_per_trial" not in f or "cpu_s_per_trial" not in q:
            continue
        ts = t["cpu_ms_per_sample"] / 1e3
        if w["workload"].startswith("evidence"):
            what = f"on-chip e-prop per trial, evidence task ({w['workload'].split('_')[1].upper()}, 40-{w['N']}-2, T = {w['T']}), 1 thread"
        else:
            what = f"on-chip e-prop per trial, dense worst case (LIF, N = {w['N']}, p = 1, CE every step, T = {w['T']}), 1 thread"
        extra = ""
        if "torch_b32_2t" in w and "wall_ms_per_sample" in w["torch_b32_2t"]:
            extra += f"; PyTorch 2 threads {w['torch_b32_2t']['wall_ms_per_sample']:.0f} ms wall"
        if "cpu_ms_per_sample" in w.get("torch_b1_1t", {}):
            extra += f", batch 1 {w['torch_b1_1t']['cpu_ms_per_sample']:.0f} ms"
        rows.append(f"| {what} | factorised {1e3 * f['cpu_s_per_trial']:.0f} ms, per-synapse {1e3 * q['cpu_s_per_trial']:.0f} ms "
                    f"vs fair PyTorch BPTT {1e3 * ts:.0f} ms/sample at batch 32: **{ts / f['cpu_s_per_trial']:.2f}x** and "
                    f"**{ts / q['cpu_s_per_trial']:.2f}x** (> 1 = on-chip faster){extra} |")
    peers = sec.get("peers", {})
    d = peers.get("brian2_default_vs_native", [])
    if d:
        rows.append("| fixed-point inference vs brian2 cpp_standalone, default flags (same network and inputs, one trial, "
                    "1 thread each) | " + ", ".join(
                        f"**{r['brian2_default']['loop_ms_per_step'] / r['native_fixed_1t']['wall_ms_per_step']:.1f}x** at "
                        f"N = {r['N']}, p = {r['p']:g}" for r in d)
                    + "; a plain Numba LIF loop (no fixed point, no counting) takes " + ", ".join(
                        f"{r['numba_floor']['wall_ms_per_step'] / r['native_fixed_1t']['wall_ms_per_step']:.1f}x" for r in d)
                    + " native's time |")
    ln = peers.get("lava_native", [])
    if ln:
        rows.append("| fixed-point inference vs lava-nc fixed_pt (same network, bit-identical) | " + ", ".join(
            f"{r['speedup']:.0f}x at N = {r['N']}" for r in ln) + " |")
    nat = sec.get("native", {})
    bound = nat.get("bandwidth_bound", {}).get("events_per_s")
    big = [r for r in nat.get("inference", []) if r["N"] >= 1024]
    if bound and big:
        ev = [max(r["fixed_1t"]["events_per_s"], r["fixed_2t"]["events_per_s"]) for r in big]
        rows.append(f"| synaptic events/s, N >= 1024 (best of 1 / 2 threads, batch 2) | {min(ev):.2g}-{max(ev):.2g}: "
                    f"{100 * min(ev) / bound:.0f}-{100 * max(ev) / bound:.0f} % of the measured {bound:.3g} events/s "
                    "memory-bandwidth bound (5 bytes/event streaming read) |")
    comp = sec.get("compile", {}).get("rows", [])
    if comp:
        r = comp[-1]
        rows.append(f"| compile {r['neurons']:,} neurons / {r['synapses'] / 1e6:.1f} M synapses to loihi2 | "
                    f"{r['compile_s']:.1f} s, {r['peak_rss_bytes'] / 2**20:.0f} MiB peak |")
    return rows


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"Run of {m['date_utc']}, commit {m['git_commit']}" + (" (QUICK run: sizes are not the targets')" if res.get("quick") else ""),
             "", "| target (issue 11) | measured in this run | met |", "|---|---|---|"]
    for t in targets(res):
        lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "benchmarks" / "results.json"
    res = json.loads(path.read_text())
    print(markdown(res))
    print("\nREADME rows:\n")
    print("\n".join(readme_rows(res)))
