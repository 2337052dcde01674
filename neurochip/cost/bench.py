"""`neurochip bench` as a library: get event counts for an artifact on each requested chip, cost them,
write bench.json + figures.

Counts, in order of preference: the backend that declares fixed-point arithmetic with in-kernel counts
(`counting_backend`, today native; chosen by capabilities, not by name); else a saved run (``--counts run.json``: an EventCounts dict, or a RunResult-like dict holding one
under ``counts``); else the float reference's spikes (``neurochip.simulate``) turned into counts on the
compiled placement by ``backends.counts.counts_from_spikes`` (inference only; the report says so).

Chips: counts of a run compiled for chip X are only valid on chip Y if the network fits Y, so each
requested chip gets its own compile of the float network carried by the artifact (``*_float`` fields,
``float_params``, the rule in ``provenance``). A chip it does not fit is reported with the compiler's
constraint message.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..backend_contract import EventCounts, float_network
from ..errors import ArtifactError, BackendError, ChipConstraintError, ConfigError, NeurochipError
from .report import chip_report


# Constraint rule (compiler/check.py) -> the approximation that lifts it, for --approximate auto.
AUTO_APPROX = {"reset_mode": "reset", "neuron_model": "adaptation", "refractory": "refractory"}
# What each approximation changes in the neuron model (named in the comparison table).
APPROX_MEANING = {"reset": "reset to zero (not by subtraction)", "adaptation": "adaptation dropped (ALIF -> LIF)",
                  "refractory": "refractory period dropped"}


def rule_from_artifact(compiled):
    from ..rules import LearningRule
    d = (compiled.provenance or {}).get("rule")
    return LearningRule.from_dict(d) if isinstance(d, dict) else None


def compiled_for(compiled, chip: str, *, learn: bool = False, approximate: tuple[str, ...] = ()
                 ) -> tuple[Any, str, tuple[str, ...]]:
    """(CompiledNetwork for ``chip``, note, approximations accepted). Raises ChipConstraintError when the
    network does not fit.

    When recompiling, the learning rule's eligibility form and rounding are switched to ones the chip
    offers (they change the learning arithmetic, not the inference event counts) and the note says so;
    neuron-model approximations (``approximate``: reset, adaptation, refractory) must be accepted
    explicitly."""
    from dataclasses import replace
    from ..chips.profile import load_profile
    prof = load_profile(chip)
    plastic = getattr(compiled, "plasticity", None)
    if prof.name == compiled.profile_name and (not learn or compiled.rule is not None or plastic is not None
                                               or rule_from_artifact(compiled) is None):
        return compiled, "", ()
    from ..compiler.pipeline import CompileOptions, compile as fn
    notes = [f"recompiled for {prof.name} from the artifact's float network"]
    rule = rule_from_artifact(compiled) if learn else None
    rounding = "nearest" if "nearest" in prof.learning.rounding else prof.learning.rounding[0]
    if rule is not None and plastic is not None:
        if not prof.learning.plasticity_engine:
            notes.append(f"{prof.name} has no plasticity engine for {rule.name}: costed for inference only")
            rule = None
    elif rule is not None:
        if not prof.learning.supported:
            notes.append(f"{prof.name} has no on-chip learning: costed for inference only")
            rule = None
        else:
            if prof.learning.eligibility and rule.eligibility not in prof.learning.eligibility:
                notes.append(f"rule eligibility {rule.eligibility} -> {prof.learning.eligibility[0]} (what {prof.name} offers)")
                rule = replace(rule, eligibility=prof.learning.eligibility[0])
            if rounding != "nearest":
                notes.append(f"learning rounding -> {rounding} (what {prof.name} offers)")
    net = float_network(compiled)
    # a plasticity rule keeps the tag scale it was calibrated with (the calibration inputs are not saved)
    calib = {"calib_emax": float(plastic["calib_emax"])} if (rule is not None and plastic is not None) else {}
    approximate = tuple(approximate)
    if approximate == ("auto",):
        # Accept exactly the neuron-model approximations this chip needs (named in the notes).
        try:
            c = fn(net, prof, rule, options=CompileOptions.make(rounding=rounding), **calib)
            return c, "; ".join(notes), ()
        except ChipConstraintError as e:
            need = {AUTO_APPROX[v.rule] for v in e.violations if v.rule in AUTO_APPROX}
            if not need or any(v.rule not in AUTO_APPROX for v in e.violations):
                raise
            approximate = tuple(sorted(need))
    if approximate:
        notes.append(f"approximations accepted: {', '.join(approximate)}")
    opts = CompileOptions.make(rounding=rounding, approximate=approximate)
    c = fn(net, prof, rule, options=opts, **calib)
    return c, "; ".join(notes), approximate


def task_inputs(compiled, task: str, trials: int, seed: int, *, steps: int | None = None, rate_hz: float = 10.0,
                dt_ms: float = 1.0):
    """(inputs [trials, T, n_in] uint8, targets or None): a task's test split (``evidence``: group size
    n_in / 4; targets = the task's `Batch`, for learning runs) or ``poisson`` spikes at ``rate_hz`` for
    ``steps`` steps (no targets: learning is then costed analytically)."""
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if task == "poisson":
        rng = np.random.default_rng(seed)
        T = steps or 1000
        return (rng.random((trials, T, compiled.n_in)) < rate_hz * dt_ms * 1e-3).astype(np.uint8), None
    from dataclasses import replace
    from ..tasks import get_task
    kw: dict[str, Any] = {"seed": seed}
    if task == "evidence":
        if compiled.n_in % 4:
            raise ConfigError(f"evidence task needs n_in divisible by 4 (4 input groups); the artifact has n_in = {compiled.n_in}")
        kw["group_size"] = compiled.n_in // 4
    t = get_task(task, **kw)
    if t.n_in != compiled.n_in:
        raise ConfigError(f"task '{task}' has n_in = {t.n_in} but the artifact has n_in = {compiled.n_in}; use --task poisson")
    b = t.batch(trials, split="test", index=0)
    if steps:
        b = replace(b, x=b.x[:, :steps], target=b.target[:, :steps], mask=b.mask[:, :steps])
    return np.asarray(b.x), b


def load_counts(path) -> EventCounts:
    try:
        d = json.loads(Path(path).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path}: cannot read event counts ({e})") from None
    if isinstance(d, dict) and isinstance(d.get("counts"), dict):
        d = d["counts"]
    if not isinstance(d, dict) or "syn_ops" not in d:
        raise ArtifactError(f"{path}: not an EventCounts JSON (needs at least 'syn_ops', 'steps', 'trials')")
    return EventCounts.from_dict(d)


def counting_backend(*, learn: bool = False):
    """The backend whose counts the cost model reads, chosen by declared capabilities: fixed-point arithmetic,
    events counted in the kernel, and (for learning runs) the compiled rule executed exactly."""
    from ..backends import capabilities, get_backend
    from ..backends import backends_with
    for name in backends_with(arithmetic="fixed"):
        c = capabilities(name)
        if c.counts == "kernel" and (not learn or c.learning == "compiled_rule"):
            return get_backend(name)
    raise BackendError("no backend declares fixed-point arithmetic with in-kernel event counts"
                       + (" and exact on-chip learning" if learn else ""))


def run_counts(compiled, x: np.ndarray, *, learn: bool, targets=None) -> tuple[EventCounts | None, np.ndarray | None, str]:
    """(counts, spikes [B, T, n_rec], source) from the `counting_backend`, else from float-reference spikes
    (inference only: learning counts then come back None). ``targets``: Batch-like (target, mask, loss)
    for learning runs."""
    if learn and targets is None:
        return None, None, "no targets for a learning run (use a task, not poisson inputs)"
    if learn and compiled.rule is None and getattr(compiled, "plasticity", None) is None:
        return None, None, "the compiled network carries no on-chip rule"
    try:
        be = counting_backend(learn=learn)
        why = ""
    except (ImportError, AttributeError, NeurochipError) as e:
        be, why = None, str(e)
    if be is not None:
        run = getattr(be, "run", be)
        try:
            res = run(compiled, x, learn=learn, targets=targets) if learn else run(compiled, x, learn=False)
            return res.counts, np.asarray(res.spikes), f"{res.backend} backend"
        except (ImportError, NotImplementedError, BackendError, ChipConstraintError, ConfigError) as e:
            # A backend that cannot run this case (e.g. learning not built yet) falls back, and says so.
            be, why = None, f"counting backend failed: {type(e).__name__}: {e}"
    if learn:
        return None, None, f"counting backend unavailable ({why})"
    from ..backends.counts import counts_from_spikes
    from ..simulate import simulate
    net = float_network(compiled)
    z = simulate(net, x.astype(np.float64)).z
    return counts_from_spikes(compiled, x, z), z, f"float-reference spikes on the compiled placement (counting backend unavailable: {why})"


def bench(compiled, chips: list[str], x, *, learn: bool = False, compare_bptt: bool = False,
          step_ms: float | None = None, counts: EventCounts | None = None, approximate: tuple[str, ...] = ("auto",),
          targets=None, progress=None, eval_batch=None) -> list[dict[str, Any]]:
    """Cost reports, one per chip (a chip the network does not fit gets {'chip', 'error'}).

    x: inputs [B, T, n_in], or a task `Batch` (then it is also the learning run's targets).
    targets: Batch-like (target, mask, loss) for the learning run; without it (or without a backend
    learning run) the learning counts are analytic (`bptt.eprop_counts`) and the report says so.
    approximate: neuron-model approximations accepted when recompiling for another chip; the default
    ("auto",) accepts exactly those each chip needs and names them in the report's ``approximations``.
    eval_batch: a task Batch of held-out trials on which each chip's compiled network is run for its
    accuracy (``rep['accuracy']``; default: the cost inputs when they are a task batch).
    progress(chip) is called after each chip."""
    if hasattr(x, "x") and hasattr(x, "mask"):
        targets = x if targets is None else targets
        x = np.asarray(x.x)
    if step_ms is None:
        step_ms = float(compiled.float_params.get("dt", 1.0)) if compiled.float_params else 1.0
    reports = []
    for chip in chips:
        try:
            c, note, approx = compiled_for(compiled, chip, learn=learn, approximate=approximate)
        except ChipConstraintError as e:
            reports.append({"chip": chip, "error": f"does not fit: {e}"})
            if progress:
                progress(chip)
            continue
        notes = [note] if note else []
        if counts is not None and c is compiled:
            ci, spikes, src = counts, None, "saved run (--counts)"
        else:
            ci, spikes, src = run_counts(c, x, learn=False)
        notes.append(f"inference counts: {src}")
        cl = None
        if learn:
            cl, _, lsrc = run_counts(c, x, learn=True, targets=targets)
            notes.append(f"learning counts: {lsrc}" if cl is not None else f"learning counts: analytic e-prop ({lsrc})")
        rep = chip_report(c, ci, counts_learn=cl, step_ms=step_ms, inputs=x if spikes is not None else None,
                          spikes=spikes, compare_bptt=compare_bptt, learn=learn)
        rep["notes"] = notes + rep["notes"]
        rep["approximations"] = [APPROX_MEANING.get(a, a) for a in approx]
        acc = chip_accuracy(c, eval_batch if eval_batch is not None else targets)
        if acc is not None:
            rep["accuracy"] = acc
        reports.append(rep)
        if progress:
            progress(chip)
    return reports


def chip_accuracy(compiled, batch) -> dict[str, Any] | None:
    """Task metrics of ``compiled`` (inference, the `counting_backend`) on a task ``batch``, plus 'trials'; None
    without a batch or when the backend cannot run it (the report then shows no accuracy)."""
    if batch is None or not hasattr(batch, "mask"):
        return None
    from ..learning.losses import task_metrics
    try:
        r = counting_backend().run(compiled, np.asarray(batch.x))
    except (BackendError, ConfigError) as e:
        return {"error": str(e)}
    m = task_metrics(r.outputs, batch.target, batch.mask, batch.loss)
    m["trials"] = int(np.asarray(batch.x).shape[0])
    return m


def write_outputs(reports: list[dict[str, Any]], outdir: Path, *, bptt_rows=None) -> None:
    """bench.json (reports, the like-for-like comparison rows and basis), comparison.md, energy_breakdown.png,
    traffic_heatmap.png (and bptt_scaling.png) into ``outdir``."""
    from ..io import atomic_write_text, write_json
    from . import compare, plots
    rows = compare.comparison_rows(reports)
    write_json(outdir / "bench.json", {"chips": reports, "comparison": rows, "comparison_notes": list(compare.NOTES),
                                       "basis": [compare.basis(r) for r in reports if "error" not in r]})
    atomic_write_text(outdir / "comparison.md", compare.markdown(rows) + "\n" + "".join(f"- {n}\n" for n in compare.NOTES))
    ok = [r for r in reports if "error" not in r]
    cats = {}
    for r in ok:
        runs = {}
        for key, label in (("inference", "inference"), ("learning", "learning (e-prop)"), ("bptt", "learning (BPTT)")):
            e = r.get(key)
            if e:
                t = max(e["trials"], 1)
                runs[label] = {k: (None if v is None else v / t * 1e-6) for k, v in e["by_category_pj"].items()}
        cats[r["chip"]] = runs
    plots.energy_breakdown(cats, outdir / "energy_breakdown.png")
    if ok:
        plots.chip_comparison([compare.basis(r) for r in ok], outdir / "chip_comparison.png")
    grids = {r["chip"]: np.asarray(r["router_grid"]) for r in ok if r.get("router_grid") is not None}
    plots.traffic_heatmap(grids, outdir / "traffic_heatmap.png")
    if bptt_rows is None:
        bptt_rows = next((r["bptt"]["scaling"] for r in ok if r.get("bptt", {}).get("scaling")), None)
    if bptt_rows:
        mark = next((r["bptt"]["info"].get("T") for r in ok if r.get("bptt", {}).get("scaling") is bptt_rows), None)
        plots.bptt_scaling(bptt_rows, outdir / "bptt_scaling.png", mark_T=mark)
