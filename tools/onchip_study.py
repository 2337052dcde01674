"""Where on-chip learning breaks: held-out accuracy / NMSE of on-chip e-prop against float e-prop with the
same trial budget, seeds and trials, swept over weight bits, trace bits, rounding and eligibility form.

    python tools/onchip_study.py sweep   --out out/onchip_study [grid options] [budget options]
    python tools/onchip_study.py targets --out out/onchip_targets [budget options]   # issue-13 target runs
    python tools/onchip_study.py report  --out out/onchip_study [--md docs/...md --png docs/...png]

Each point (one task, chip variant, rounding, eligibility, seed and budget; or the float baseline) is
written to ``OUT/points/<key>.json`` as soon as it finishes; a rerun skips finished points (resume), so a
sweep can be run in small budgets first and extended. ``report`` turns the points into ``OUT/study.json``,
``OUT/study.md`` (mean +- std over seeds) and ``OUT/study.png``.

Chip variants are the base profile (default loihi2) with ``[format] weight_bits`` / ``trace_bits``
rewritten, saved under ``OUT/profiles/``. A variant the compiler refuses (e.g. an update that rounds to
zero) is recorded with its error line: that is a result too ("cannot learn at this width").

Protocol (same for chip and float, per seed s): network ``init_network(..., seed=s)`` with the task's
reference parameters (neurochip.train.TASK_DEFAULTS, optionally ``--n-rec``); training batch i is
``task.batch(B, 'train', s * 10**6 + offset + i)`` (the float trainer's stream); held-out is the fixed
``task.batch(eval_trials, 'test', 0)``, never trained on. Float e-prop uses the task's reference rule
(Adam, firing-rate regulariser); the chip runs its compiled SGD rule at the compiled chip rate unless
``--lr`` is given. ``--pretrain P``: both start from the float network after P float iterations and
continue on the same following trials (fine-tuning).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# --- one point -----------------------------------------------------------------------------------------------


def point_key(spec: dict) -> str:
    """Stable file name of a point: readable prefix + hash of the full spec."""
    h = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    if spec["kind"] == "float":
        opt = f"sgd{spec['float_sgd_lr']:g}" if spec.get("float_sgd_lr") else "ref"
        return f"{spec['task']}_float_{opt}_s{spec['seed']}_{h}"
    return (f"{spec['task']}_{spec['chip']}_w{spec.get('weight_bits') or 'p'}_t{spec.get('trace_bits') or 'p'}_"
            f"{spec['rounding'][:4]}_{spec['eligibility'][:4]}_s{spec['seed']}_{h}")


def variant_profile(base: str, weight_bits: int | None, trace_bits: int | None, outdir: Path) -> str:
    """Path of a TOML profile: ``base`` with [format] weight_bits / trace_bits rewritten (None: keep)."""
    from neurochip.chips import load_profile
    if weight_bits is None and trace_bits is None:
        return base
    text = Path(load_profile(base).path).read_text()
    i, j = text.index("[format]"), text.index("\n[", text.index("[format]") + 1)
    fmt = text[i:j]
    for k, v in (("weight_bits", weight_bits), ("trace_bits", trace_bits)):
        if v is not None:
            fmt, n = re.subn(rf"(?m)^{k}\s*=\s*\d+", f"{k} = {int(v)}", fmt)
            if n != 1:
                raise SystemExit(f"profile {base}: no [format] {k} to rewrite")
    name = f"{base}_w{weight_bits or 'p'}_t{trace_bits or 'p'}"
    text = re.sub(r'(?m)^name\s*=\s*"[^"]*"', f'name = "{name}"', text[:i] + fmt + text[j:], count=1)
    outdir.mkdir(parents=True, exist_ok=True)
    p = outdir / f"{name}.toml"
    p.write_text(text)
    return str(p)


def _task_and_net(spec: dict):
    from neurochip.train import build
    cfg = {"task": {"name": spec["task"], **dict(spec.get("task_opts") or {})}, "train": {"seed": int(spec["seed"])},
           "network": dict(spec.get("net_opts") or {}), "rule": dict(spec.get("rule_opts") or {})}
    if spec.get("n_rec"):
        cfg["network"]["n_rec"] = int(spec["n_rec"])
    task, net, rule, tr, _ = build(cfg)
    return task, net, rule


class OffsetTask:
    """``task`` whose 'train' draw i is draw i + offset (continue a float run's stream)."""

    def __init__(self, task, offset: int):
        self.task, self.offset = task, int(offset)

    def __getattr__(self, k):
        return getattr(self.task, k)

    def batch(self, n, split="train", index=0):
        return self.task.batch(n, split, index + (self.offset if split == "train" else 0))


def _float_eval(net, test) -> dict:
    from neurochip.onchip import chip_metrics
    from neurochip.simulate import simulate
    tr = simulate(net, test.x)
    m = chip_metrics(tr.out, test)
    m["rate_hz"] = float(tr.z.mean()) * 1000.0 / float(net.params.dt) if hasattr(tr, "z") else None
    return m


def _pretrain(task, net, rule, spec, outdir: Path):
    """Float e-prop for spec['pretrain'] iterations on the seed's stream (train draws s*10^6 + i); cached
    under OUT/pretrained/ (Network.save) so the chip and float points start from the same network."""
    from neurochip.network import Network
    from neurochip.train import train
    P = int(spec.get("pretrain") or 0)
    if P <= 0:
        return net
    pb = int(spec.get("pretrain_batch") or spec["batch"])
    stem = outdir / "pretrained" / f"{spec['task']}_s{spec['seed']}_P{P}_B{pb}_n{spec.get('n_rec') or 'ref'}"
    if stem.with_suffix(".json").is_file():
        return Network.load(stem)
    net, _ = train(net, rule, task, P, pb, int(spec["seed"]), progress=False, eval_every=10**9, eval_batches=1)
    stem.parent.mkdir(parents=True, exist_ok=True)
    net.save(stem)
    return net


def _approx(prof) -> tuple:
    """The approximations a profile needs for the reference networks (reckon: no ALIF, no refractory period)."""
    from neurochip.chips import load_profile
    f = load_profile(prof).format
    return tuple(a for a, ok in (("adaptation", f.adaptation), ("refractory", f.refractory),
                                       ("reset", "subtract" in f.resets)) if not ok)


def _schedule(spec: dict) -> dict:
    """The step learning-rate schedule of a point (float trainer and chip alike; absent: constant rate)."""
    if not spec.get("lr_decay"):
        return {}
    return {"lr_decay": float(spec["lr_decay"]), "lr_decay_every": int(spec["lr_decay_every"])}


def run_point(spec: dict, outdir: Path, progress: bool = False) -> dict:
    """Run one point (see the module docstring); returns its record."""
    from neurochip.onchip import OnchipPlan, default_lr, heldout, prepare_rule, train_onchip
    t0 = time.perf_counter()
    task, net, rule = _task_and_net(spec)
    test = heldout(task, int(spec["eval_trials"]))
    net = _pretrain(task, net, rule, spec, outdir)
    P = int(spec.get("pretrain") or 0) * int(spec.get("pretrain_batch") or spec["batch"]) // int(spec["batch"])
    first = int(spec["seed"]) * 10**6 + P
    its, B, K = int(spec["iterations"]), int(spec["batch"]), int(spec["eval_every"])
    key = "accuracy" if test.loss == "ce" else "nmse"
    rec = {"spec": spec, "metric": key}
    if spec["kind"] == "float":
        from neurochip.train import train
        frule = rule if not spec.get("float_sgd_lr") else replace(rule, optimizer="sgd", lr=float(spec["float_sgd_lr"]))
        pts = [{"iteration": 0, "trials": 0, f"heldout_{key}": _float_eval(net, test)[key]}]

        def cb(it, n, m):
            if (it + 1) % K == 0 or it + 1 == its:
                pts.append({"iteration": it + 1, "trials": (it + 1) * B, f"heldout_{key}": _float_eval(n, test)[key]})
        net2, hist = train(net, frule, OffsetTask(task, P), its, B, int(spec["seed"]), progress=progress, callback=cb,
                           eval_every=10**9, eval_batches=1, **_schedule(spec))
        fin = _float_eval(net2, test)
        rec.update({"final": fin[key], "before": pts[0][f"heldout_{key}"], "points": pts, "rate_hz": fin.get("rate_hz"),
                    "wall_s": time.perf_counter() - t0})
        return rec
    from neurochip.compiler import compile as compile_net
    from neurochip.compiler.pipeline import CompileOptions
    from neurochip.errors import NeurochipError
    prof = variant_profile(spec["chip"], spec.get("weight_bits"), spec.get("trace_bits"), outdir / "profiles")
    try:
        crule = replace(rule, eligibility=spec["eligibility"])
        cn = compile_net(net, prof, crule, options=CompileOptions.make(seed=int(spec["seed"]),
                                                                     learn_rounding=spec["rounding"],
                                                                     approximate=_approx(prof) if spec.get("approximate") else ()))
        lr = spec.get("lr") or default_lr(cn)
        cn = prepare_rule(cn, lr=float(lr), rounding=spec["rounding"], eligibility=spec["eligibility"], batch_size=B)
        plan = OnchipPlan(iterations=its, batch_size=B, eval_every=K, eval_trials=int(spec["eval_trials"]),
                          seed=int(spec["seed"]), first_index=first, **_schedule(spec))
        res = train_onchip(cn, task, plan, test=test, progress=progress)
    except NeurochipError as e:
        rec.update({"error": " ".join(str(e).split()), "wall_s": time.perf_counter() - t0})
        return rec
    cv = res.curve
    rec.update({"final": cv["after"], "before": cv["before"], "points": cv["points"], "lr": cv["lr"],
                "events": cv.get("events"), "wall_s": time.perf_counter() - t0, "train_wall_s": cv["wall_s"],
                "kernel_digest": cv.get("kernel_digest")})
    return rec


# --- grids ---------------------------------------------------------------------------------------------------


def _ints(s):
    return [int(v) for v in str(s).split(",") if v != ""]


def _strs(s):
    return [v for v in str(s).split(",") if v]


def sweep_specs(a) -> list[dict]:
    base = {"iterations": a.iterations, "batch": a.batch, "eval_every": a.eval_every or max(1, a.iterations // 4),
            "eval_trials": a.eval_trials, "n_rec": a.n_rec, "pretrain": a.pretrain, "lr": a.lr,
            "task_opts": json.loads(a.task_opts), "net_opts": json.loads(a.net_opts), "rule_opts": json.loads(a.rule_opts)}
    if a.setup:
        base["setup"] = a.setup
    if a.lr_decay != 1.0:                   # absent at a constant rate: the keys of earlier points stay valid
        base["lr_decay"], base["lr_decay_every"] = a.lr_decay, a.lr_decay_every
    specs = []
    for task in _strs(a.tasks):
        for s in _ints(a.seeds):
            specs.append({**base, "kind": "float", "task": task, "seed": s})
            if a.float_sgd and a.lr:
                specs.append({**base, "kind": "float", "task": task, "seed": s, "float_sgd_lr": a.lr})
            for wb in _ints(a.weight_bits):
                for tb in _ints(a.trace_bits):
                    for rnd in _strs(a.rounding):
                        for el in _strs(a.eligibility):
                            specs.append({**base, "kind": "chip", "task": task, "seed": s, "chip": a.chip,
                                          "weight_bits": wb, "trace_bits": tb, "rounding": rnd, "eligibility": el})
    return specs


def target_specs(a) -> list[dict]:
    """The issue-13 target runs: evidence from scratch on loihi2 and reckon, fine-tuning, pattern."""
    b = {"iterations": a.iterations, "batch": a.batch, "eval_every": a.eval_every or max(1, a.iterations // 4),
         "eval_trials": a.eval_trials, "n_rec": a.n_rec, "lr": a.lr}
    specs = []
    for s in _ints(a.seeds):
        specs += [
            {**b, "kind": "float", "task": "evidence", "seed": s, "pretrain": 0, "group": "evidence scratch"},
            {**b, "kind": "chip", "task": "evidence", "seed": s, "chip": "loihi2", "rounding": "nearest",
             "eligibility": "factorised", "pretrain": 0, "group": "evidence scratch"},
            {**b, "kind": "chip", "task": "evidence", "seed": s, "chip": "reckon", "rounding": "stochastic",
             "eligibility": "factorised", "pretrain": 0, "approximate": True, "group": "evidence scratch"},
            {**b, "kind": "float", "task": "evidence", "seed": s, "pretrain": a.pretrain or 150, "group": "evidence fine-tune"},
            {**b, "kind": "chip", "task": "evidence", "seed": s, "chip": "loihi2", "rounding": "nearest",
             "eligibility": "factorised", "pretrain": a.pretrain or 150, "group": "evidence fine-tune"},
            {**b, "kind": "float", "task": "pattern", "seed": s, "pretrain": 0, "batch": 1,
             "iterations": a.pattern_iterations, "eval_every": max(1, a.pattern_iterations // 4), "eval_trials": 1,
             "group": "pattern scratch"},
            {**b, "kind": "chip", "task": "pattern", "seed": s, "chip": "loihi2", "rounding": "nearest",
             "eligibility": "factorised", "pretrain": 0, "batch": 1, "iterations": a.pattern_iterations,
             "eval_every": max(1, a.pattern_iterations // 4), "eval_trials": 1, "group": "pattern scratch"},
        ]
    if a.only:
        specs = [s for s in specs if s["group"] in _strs(a.only) or s["task"] in _strs(a.only)]
    return specs


def run_specs(specs, out: Path, progress: bool) -> None:
    from neurochip.io import write_json
    pdir = out / "points"
    pdir.mkdir(parents=True, exist_ok=True)
    todo = [s for s in specs if not (pdir / f"{point_key(s)}.json").is_file()]
    print(f"{len(specs)} points, {len(specs) - len(todo)} done, {len(todo)} to run", flush=True)
    for i, s in enumerate(todo):
        k = point_key(s)
        print(f"[{i + 1}/{len(todo)}] {k} ...", flush=True)
        try:
            rec = run_point(s, out, progress=progress)
        except Exception as e:          # a bug or a tree in flux: report, keep the point unfinished (rerun retries it)
            print(f"    FAILED, not recorded: {type(e).__name__}: {e}", flush=True)
            continue
        write_json(pdir / f"{k}.json", rec)
        msg = rec.get("error") or f"{rec['metric']} {rec['before']:.3f} -> {rec['final']:.3f}"
        print(f"    {msg}  ({rec['wall_s']:.0f} s)", flush=True)


# --- report --------------------------------------------------------------------------------------------------


def load_points(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "points").glob("*.json"))]


def _label(spec: dict) -> tuple:
    if spec["kind"] == "float":
        name = f"float e-prop, SGD lr {spec['float_sgd_lr']:g}" if spec.get("float_sgd_lr") else "float e-prop"
        return (spec["task"], spec.get("group", ""), name, "-", "-", "-", "-")
    return (spec["task"], spec.get("group", ""), spec["chip"], spec.get("weight_bits") or "profile",
            spec.get("trace_bits") or "profile", spec["rounding"], spec["eligibility"])


def _budget(spec: dict) -> tuple:
    return (spec["iterations"], spec["batch"], spec.get("lr_decay") or 1.0, spec.get("lr_decay_every") or 0,
            spec.get("pretrain") or 0, spec.get("n_rec"), spec["eval_trials"],
            json.dumps(spec.get("task_opts") or {}, sort_keys=True), json.dumps(spec.get("net_opts") or {}, sort_keys=True))


def summarise(points: list[dict]) -> list[dict]:
    """Rows: one per (label, budget), mean / std / n over seeds of the final held-out metric."""
    groups: dict = {}
    for p in points:
        groups.setdefault((_label(p["spec"]), _budget(p["spec"])), []).append(p)
    rows = []
    for (lab, bud), ps in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        ok = [p for p in ps if "error" not in p]
        vals = [p["final"] for p in ok]
        before = [p["before"] for p in ok]
        row = {"task": lab[0], "group": lab[1], "chip": lab[2], "weight_bits": lab[3], "trace_bits": lab[4],
               "rounding": lab[5], "eligibility": lab[6], "iterations": bud[0], "batch": bud[1], "lr_decay": bud[2],
               "lr_decay_every": bud[3], "pretrain": bud[4], "n_rec": bud[5], "eval_trials": bud[6], "task_opts": bud[7],
               "net_opts": bud[8],
               "setup": ps[0]["spec"].get("setup") or "", "metric": ps[0]["metric"], "seeds": sorted(p["spec"]["seed"] for p in ps),
               "n_ok": len(ok), "mean": float(np.mean(vals)) if vals else None,
               "std": float(np.std(vals)) if len(vals) > 1 else (0.0 if vals else None),
               "values": vals, "before_mean": float(np.mean(before)) if before else None,
               "wall_s_mean": float(np.mean([p.get("train_wall_s", p["wall_s"]) for p in ps])),
               "errors": sorted({p["error"] for p in ps if "error" in p}),
               "lr": sorted({p.get("lr") for p in ok if p.get("lr") is not None})}
        rows.append(row)
    # gap to the float baseline of the same task, group and budget
    for r in rows:
        same = ("task", "group", "iterations", "batch", "lr_decay", "lr_decay_every", "pretrain", "n_rec", "task_opts", "net_opts")
        f = [q for q in rows if q["chip"] == "float e-prop" and all(q[k] == r[k] for k in same)]
        r["float_mean"] = f[0]["mean"] if f else None
        g = [q for q in rows if q["chip"].startswith("float e-prop, SGD") and all(q[k] == r[k] for k in same)]
        r["float_sgd_mean"] = g[0]["mean"] if g else None
        r["gap"] = (r["mean"] - f[0]["mean"]) if (f and r["mean"] is not None and f[0]["mean"] is not None) else None
    return rows


def _fmt(v, nd=3):
    return "n/a" if v is None else f"{v:.{nd}f}"


def markdown(rows: list[dict]) -> str:
    head = ("| task | run | chip | w bits | trace bits | rounding | eligibility | budget (it x B) | held-out before "
            "| held-out after, mean +- std (seeds) | float e-prop (Adam), same trials | float SGD at the chip lr, same trials "
            "| chip - float Adam | train wall / run (s) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        m = "acc" if r["metric"] == "accuracy" else "NMSE"
        after = (f"{m} {_fmt(r['mean'])} +- {_fmt(r['std'])} ({len(r['values'])})" if r["mean"] is not None
                 else "error: " + "; ".join(r["errors"])[:160])
        bud = f"{r['iterations']} x {r['batch']}" + (f", lr x {r['lr_decay']:g} every {r['lr_decay_every']}"
                                                      if r["lr_decay"] != 1.0 else "") + (f" after {r['pretrain']} float it" if r["pretrain"] else "")
        lines.append(f"| {r['setup'] or r['task']} | {r['group'] or 'sweep'} | {r['chip']} | {r['weight_bits']} | {r['trace_bits']} | "
                     f"{r['rounding']} | {r['eligibility']} | {bud} | {_fmt(r['before_mean'])} | {after} | "
                     f"{_fmt(r['float_mean'])} | {_fmt(r['float_sgd_mean'])} | {_fmt(r['gap'])} | {r['wall_s_mean']:.0f} |")
    return head + "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Per task two panels: held-out metric vs weight bits (at the most common trace width) and vs trace bits
    (at the widest weights), one line per (rounding, eligibility), float baselines as horizontal lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from collections import Counter
    tasks = sorted({(r["task"], r["setup"]) for r in rows})
    fig, axes = plt.subplots(len(tasks) or 1, 2, figsize=(12, 3.8 * max(1, len(tasks))), squeeze=False)
    for (ax_w, ax_t), (t, setup) in zip(axes, tasks):
        rs = [r for r in rows if (r["task"], r["setup"]) == (t, setup) and not r["chip"].startswith("float")
              and isinstance(r["weight_bits"], int) and not r["pretrain"]]
        fl = [r for r in rows if (r["task"], r["setup"]) == (t, setup) and r["chip"].startswith("float") and not r["pretrain"]]
        metric = (rs or fl or [{"metric": "accuracy"}])[0]["metric"]
        tb0 = Counter(r["trace_bits"] for r in rs).most_common(1)[0][0] if rs else None
        wb0 = max((r["weight_bits"] for r in rs), default=None)
        for ax, xkey, fixed in ((ax_w, "weight_bits", ("trace_bits", tb0)), (ax_t, "trace_bits", ("weight_bits", wb0))):
            sel_all = [r for r in rs if r[fixed[0]] == fixed[1]]
            for form in sorted({(r["rounding"], r["eligibility"]) for r in sel_all}):
                sel = sorted([r for r in sel_all if (r["rounding"], r["eligibility"]) == form], key=lambda r: r[xkey])
                ok = [r for r in sel if r["mean"] is not None]
                if ok:
                    ax.errorbar([r[xkey] for r in ok], [r["mean"] for r in ok], yerr=[r["std"] or 0.0 for r in ok],
                                marker="o", capsize=3, label=f"{form[0]}, {form[1]}")
                bad = [r[xkey] for r in sel if r["mean"] is None]
                if bad:
                    ax.plot(bad, [0.5 if metric == "accuracy" else 1.0] * len(bad), "x", color="k", ms=8)
            for r, ls in zip(fl, ("--", "-.", ":")):
                if r["mean"] is not None:
                    ax.axhline(r["mean"], color="k", ls=ls, lw=1, label=f"{r['chip']}")
            if metric == "accuracy":
                ax.axhline(0.5, color="0.6", ls=":", lw=1)
            else:
                ax.set_yscale("log")
            ax.set_xlabel(xkey.replace("_", " ") + (" (incl. sign)" if xkey == "weight_bits" else ""))
            ax.set_ylabel(f"held-out {metric}")
            ax.set_title(f"{setup or t}: {fixed[0].replace('_', ' ')} = {fixed[1]} (x: refused by the compiler)",
                         fontsize=8)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(out: Path, md: Path | None, png: Path | None) -> list[dict]:
    from neurochip.io import write_json
    rows = summarise(load_points(out))
    write_json(out / "study.json", {"rows": rows})
    text = markdown(rows)
    (out / "study.md").write_text(text)
    plot(rows, png or out / "study.png")
    if md is not None:
        md.write_text(text)
        write_json(md.with_suffix(".json"), {"rows": rows})      # the JSON beside the published table
    print(text)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["sweep", "targets", "report"])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--tasks", default="evidence,pattern")
    ap.add_argument("--chip", default="loihi2", help="base profile of the sweep")
    ap.add_argument("--weight-bits", default="4,5,6,7,8,9")
    ap.add_argument("--trace-bits", default="7")
    ap.add_argument("--rounding", default="nearest,stochastic")
    ap.add_argument("--eligibility", default="factorised,per_synapse")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--iterations", type=int, default=50, help="weight applications (fresh batch each)")
    ap.add_argument("--pattern-iterations", type=int, default=300, help="targets: pattern iterations (batch 1)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--eval-trials", type=int, default=128)
    ap.add_argument("--n-rec", type=int, default=None, help="recurrent neurons (default: the task's reference 100)")
    ap.add_argument("--pretrain", type=int, default=0, help="float iterations before (fine-tuning study)")
    ap.add_argument("--lr", type=float, default=None, help="on-chip lr (default: the compiled rule's chip rate)")
    ap.add_argument("--task-opts", default="{}", help="JSON task options (e.g. a shorter evidence task)")
    ap.add_argument("--net-opts", default="{}", help="JSON network options over the task's reference network")
    ap.add_argument("--rule-opts", default="{}", help="JSON rule options over the task's reference rule")
    ap.add_argument("--setup", default="", help="short name of the task/network setup for the table")
    ap.add_argument("--lr-decay", type=float, default=1.0,
                    help="step schedule: rate x lr_decay every --lr-decay-every updates (chip: 1/2, 1/4, ...)")
    ap.add_argument("--lr-decay-every", type=int, default=100)
    ap.add_argument("--float-sgd", action="store_true", help="sweep: also float e-prop with SGD at --lr")
    ap.add_argument("--float-only", action="store_true",
                    help="sweep: only the float points (budgets the chip kernel cannot afford; a later chip sweep on "
                         "the same folder finds them done)")
    ap.add_argument("--only", default="", help="targets: only these groups or tasks (comma-separated)")
    ap.add_argument("--md", type=Path, default=None)
    ap.add_argument("--png", type=Path, default=None)
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args(argv)
    if a.command == "report":
        report(a.out, a.md, a.png)
        return 0
    specs = sweep_specs(a) if a.command == "sweep" else target_specs(a)
    if a.float_only:
        specs = [sp for sp in specs if sp["kind"] == "float"]
    run_specs(specs, a.out, a.progress)
    report(a.out, a.md, a.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
