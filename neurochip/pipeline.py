"""The main job end to end: train (float e-prop, briefly) -> compile -> learn on-chip (the chip continues the
float run, beside float e-prop continued on the same trials, `neurochip.float_continue`) -> learn from scratch (an untrained one-cue network learns on the chip, `neurochip.scratch`) -> lava
bit-exact check -> validate against the float reference -> cost report (energy, communication, memory vs
BPTT).

``run_main_job(cfg, outdir)`` writes into a staged directory (nothing half-written survives an error or
Ctrl-C) and returns the summary dict also written to ``summary.json``. Every number in the summary is a
deterministic function of the config (seeds are in the config), so two runs give identical numbers
(wall-clock timings are kept apart under ``timing_s``).
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .config import DEFAULT, merge
from .errors import NeurochipError
from .io import staged_output_dir, write_json

STAGES = ("train", "compile", "learn on-chip", "learn from scratch", "lava check", "validate", "cost")


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True)


def chip_metrics(outputs: np.ndarray, batch) -> dict[str, float]:
    """Task metrics of chip outputs (float, dequantised) on a task batch."""
    from .learning import task_metrics
    return task_metrics(outputs, batch.target, batch.mask, batch.loss)


def with_learned_weights(compiled, result):
    """The compiled network with the weight mantissas a learning run ended with."""
    kw = {k: np.asarray(v) for k, v in result.weights.items() if k in ("w_in", "w_rec", "w_out")}
    return replace(compiled, **kw) if kw else compiled


def run_main_job(cfg: dict | None = None, outdir: str | Path = "out/demo", *, force: bool = False,
                 progress: bool = True, log=print) -> dict[str, Any]:
    """Run every stage on ``cfg`` (merged over `DEFAULT`) into ``outdir``; return the summary."""
    from .train import train_from_config, plot_learning_curve, build
    from .chips import load_profile
    from .backends import get_backend
    from .simulate import simulate

    cfg = merge(DEFAULT, cfg or {})
    from .onchip import check_onchip_config
    check_onchip_config(cfg["onchip"])          # bad [onchip] values fail before the float training starts
    summary: dict[str, Any] = {"config": cfg, "stages": {}}
    timing: dict[str, float] = {}
    native = get_backend("native")
    stage_bar = _bar(len(STAGES), "main job", progress)

    def stage_done(name: str, t0: float) -> None:
        timing[name] = round(time.perf_counter() - t0, 3)
        stage_bar.update(1)

    with staged_output_dir(outdir, force=force) as d:
        # 1. float training -------------------------------------------------------------------
        t0 = time.perf_counter()
        stage_bar.set_description("train (float e-prop)")
        tcfg = {k: cfg[k] for k in ("task", "network", "rule", "train")}
        net, hist, tmetrics = train_from_config(tcfg, progress=progress)
        task, _, rule, _, _ = build(tcfg)
        net.save(d / "network")
        plot_learning_curve(hist, d / "learning_curve.png", title=f"{task.name}: {rule.name} (float)")
        write_json(d / "train_metrics.json", tmetrics)
        # Held-out draw exactly as the one-by-one commands draw it (`neurochip run|validate|bench --trials N
        # --seed <task seed>`: task.batch(N, 'test', 0)), so the report's numbers can be reproduced by them.
        n_test = int(cfg["validate"]["trials"])
        test = task.batch(n_test, "test", 0)
        ftr = simulate(net, test.x)
        float_test = chip_metrics(ftr.out, test)
        summary["stages"]["train"] = {"task": task.name, "rule": rule.name, "n_rec": net.n_rec,
                                      "iterations": tmetrics["iterations"], "float_test": float_test}
        stage_done("train", t0)

        # 2. compile --------------------------------------------------------------------------
        t0 = time.perf_counter()
        stage_bar.set_description(f"compile -> {cfg['chip']['name']}")
        profile = load_profile(cfg["chip"]["name"])
        oc = cfg["onchip"]
        cn, plan = compile_for_learning(cfg, net, rule, task, n_test)
        cn.save(d / "compiled")
        write_json(d / "compile_report.json", cn.report)
        from .compiler.coremap import coremap_png
        coremap_png(cn, d / "coremap.png")
        summary["stages"]["compile"] = {"chip": profile.name, "fits": True, "cores": cn.n_cores,
                                        "quantize_rel_rms_error": {k: v.get("rel_rms_error") if isinstance(v, dict) else v
                                                     for k, v in cn.report.get("quantize", {}).get("projections", {}).items()}}
        stage_done("compile", t0)

        # 3. on-chip learning (native backend, fixed point) ------------------------------------
        t0 = time.perf_counter()
        stage_bar.set_description("learn on-chip (native)")
        from .onchip import curve_series, ends_series, summary_points, train_onchip, verdict, write_curve
        lr_res = train_onchip(cn, task, plan, test=test, progress=progress)
        cn_learn, cv = lr_res.compiled, lr_res.curve
        cn_learn.save(d / "compiled_learned")
        after = native.run(cn_learn, test.x)
        chip_before = {k: v for k, v in cv["before_metrics"].items()}
        chip_after = chip_metrics(after.outputs, test)
        # float vs chip learning curves on one axis of training trials (the chip continues from the float run)
        n_float = int(tmetrics["iterations"]) * int(tcfg["train"].get("batch_size", 32))
        fpts = float_points(hist, int(tcfg["train"].get("batch_size", 32)))
        key = cv["metric"]
        fser = ("float e-prop (validation draws)", [p["trials"] for p in fpts if f"val_{key}" in p],
                [p[f"val_{key}"] for p in fpts if f"val_{key}" in p])
        cs = curve_series(cv, f"chip ({profile.name}, on-chip e-prop from the float weights)")
        cs = (cs[0], [n_float + t for t in cs[1]], cs[2])
        ce = ends_series(cv)
        ce = (ce[0], [n_float + t for t in ce[1]], ce[2])
        fheld = (f"float held-out ({float_test.get(key, float('nan')):.3f})", [n_float], [float_test.get(key)])
        # the reference the chip's step is read against: float e-prop on the same trials at the same rate, from
        # the chip's own (dequantised) weights (neurochip.float_continue)
        from .float_continue import continuation_series, float_continuation
        fc = float_continuation(cn, task, plan, test)
        write_curve(d, cv, stem="onchip_curve", series=[fser, fheld, cs, ce, *continuation_series(fc, n_float)],
                    title=f"{task.name}: float e-prop, then on-chip e-prop on {profile.name}")
        write_json(d / "learning_curves.json", {"float": {"trials_per_iteration": int(tcfg["train"].get("batch_size", 32)),
                                                           "points": fpts, "heldout": float_test},
                                                 "chip": cv, "chip_trials_offset": n_float, "float_continued": fc})
        line = verdict(cv)
        log(line)
        summary["stages"]["learn on-chip"] = {
            "trials": int(oc["trials"]), "epochs": int(oc["epochs"]), "batch_size": plan.batch_size,
            "iterations": plan.iterations, "eval_every": plan.eval_every, "lr": cv["lr"], "lr_mode": cv.get("lr_mode"),
            "eligibility": cv["eligibility"], "rounding": cv["rounding"], "test_before": chip_before,
            "test_after": chip_after, "train_curve": summary_points(cv), "lowered": cv["lowered"], "verdict": line,
            "delta": cv["delta"], "delta_se": cv.get("delta_se"),
            "float_continued": {"lr": fc["lr"], "start": fc["start"], "before": fc["before"], "after": fc["after"],
                                "delta": fc["delta"]},
            "weight_updates": cv["events"]["weight_updates"], "weight_clips": cv["events"]["weight_clips"],
            "curve_png": "onchip_curve.png", "curve_json": "learning_curves.json"}
        stage_done("learn on-chip", t0)

        # 3b. on-chip learning from random weights (a small one-cue network; neurochip.scratch) -----
        t0 = time.perf_counter()
        stage_bar.set_description("learn from scratch on-chip")
        summary["stages"]["learn from scratch"] = _scratch_stage(cfg, profile, d, log)
        stage_done("learn from scratch", t0)

        # 4. lava bit-exact check ----------------------------------------------------------------
        t0 = time.perf_counter()
        stage_bar.set_description("lava bit-exact check")
        k = int(cfg["lava"]["trials"])
        lava_info: dict[str, Any] = {"trials": k}
        try:
            lava = get_backend("lava")
            xs = test.x[:k]
            rl = lava.run(cn_learn, xs, record=("spikes", "outputs", "v"), timeout_s=float(cfg["lava"]["timeout_s"]))
            rn = native.run(cn_learn, xs, record=("spikes", "outputs", "v"))
            same_s = bool(np.array_equal(rl.spikes, rn.spikes))
            same_v = bool(rl.v is not None and rn.v is not None and np.array_equal(rl.v, rn.v))
            same_o = bool(np.array_equal(rl.out_int, rn.out_int)) if rl.out_int is not None else None
            lava_info.update({"spikes_identical": same_s, "voltages_identical": same_v, "readout_identical": same_o,
                              "bit_exact": same_s and same_v and same_o is not False,
                              # which neuron lava ran: its own PyLifModelBitAcc is an outside oracle; our
                              # ChipNeuron process (ALIF, saturating profiles) is our model on lava's runtime
                              "model": rl.meta.get("neuron_model", "")})
        except NeurochipError as e:
            lava_info.update({"bit_exact": None, "error": str(e)})
        summary["stages"]["lava check"] = lava_info
        stage_done("lava check", t0)

        # 5. validate against the float reference -----------------------------------------------
        t0 = time.perf_counter()
        stage_bar.set_description("validate vs float")
        from .validate import Inputs, plot_validation, validate
        vc = cfg["validate"]
        tol = {"spike_agreement": float(vc["spike_agreement"]), "accuracy_drop": float(vc["max_accuracy_drop"])}
        # the on-chip update accumulated over the demo's amount of learning (trials x epochs, its batch size) on a
        # training draw, against float SGD with the same rates on the same mini-batches (validate's gates)
        vrep, vplot = validate(cn, backend="native", reference="float", learn=True, tolerances=tol,
                               inputs=Inputs(test.x, test, f"{task.name} held-out draw"), seed=int(cfg["task"]["seed"]),
                               learn_batch=task.batch(int(oc["trials"]), "train", 0), learn_epochs=int(oc["epochs"]),
                               learn_batch_size=plan.batch_size)
        from .validate import learning_outcome_failures
        vrep["failures"] += learning_outcome_failures(chip_before, chip_after, float(vc["max_accuracy_drop"]))
        vrep["passed"] = not vrep["failures"]
        plot_validation(vplot, d / "validate.png", title=f"{profile.name}: chip (compiled float weights) vs float reference")
        write_json(d / "validate.json", vrep)
        vm = vrep["metrics"]
        summary["stages"]["validate"] = {k: vm.get(k) for k in (
            "spike_agreement", "spike_agreement_exact", "van_rossum", "readout_rms", "readout_nrmse", "accuracy_chip",
            "accuracy_ref", "accuracy_drop", "loss_delta", "weight_drift", "cosine_eprop", "cosine_bptt",
            "cosine_float_eprop_vs_bptt", "rate_chip_hz", "rate_ref_hz")}
        summary["stages"]["validate"]["learning_per_projection"] = vm.get("learning_per_projection")
        summary["stages"]["validate"]["learning_one_update"] = vm.get("learning_one_update")
        summary["stages"]["validate"]["tolerances"] = vrep["tolerances"]
        summary["stages"]["validate"]["tolerances_passed"] = bool(vrep["passed"])
        summary["stages"]["validate"]["tolerance_failures"] = list(vrep["failures"])
        stage_done("validate", t0)

        # 6. cost: energy, communication, memory vs BPTT -------------------------------------------
        t0 = time.perf_counter()
        stage_bar.set_description("cost report")
        from .cost.bench import bench, write_outputs
        bc = cfg["bench"]
        xb = task.batch(int(bc["trials"]), "test", 0)
        reports = bench(cn_learn, list(bc["chips"]), xb, learn=True, compare_bptt=bool(bc["compare_bptt"]),
                        eval_batch=test)      # accuracy of each chip's compile on the held-out draw
        write_outputs(reports, d)
        summary["stages"]["cost"] = [_cost_summary(r) for r in reports]
        stage_done("cost", t0)

        summary["timing_s"] = timing
        from .report_html import provenance
        summary["provenance"] = provenance(cfg)
        summary["passed"] = bool(vrep["passed"])      # the demo's exit code follows (cli/demo.py)
        write_json(d / "summary.json", summary)
        _write_html(d, summary)
    stage_bar.close()
    return summary


def _scratch_stage(cfg: dict, profile, d: Path, log) -> dict[str, Any]:
    """Run `neurochip.scratch.learn_from_scratch` on the main job's chip (``[scratch]``, seed = the task seed);
    writes scratch_curve.png / scratch.json. A chip that cannot hold the small network or its rule is
    recorded (``error``), not fatal; the register-overflow warnings of its runs are counted, not printed."""
    import warnings
    sc = cfg["scratch"]
    if not sc["enabled"]:
        return {"enabled": False}
    from .onchip_curve import plot_curves
    from .scratch import ScratchPlan, learn_from_scratch, scratch_line, scratch_series
    plan = ScratchPlan(iterations=int(sc["iterations"]), batch_size=int(sc["batch_size"]), lr=float(sc["lr"]),
                       eligibility=str(sc["eligibility"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            r = learn_from_scratch(profile, plan, seed=int(cfg["task"]["seed"]))
        except NeurochipError as e:
            log(f"learn from scratch: skipped on {profile.name} ({e})")
            return {"enabled": True, "error": str(e)}
    r["overflow_warnings"] = len(caught)
    line = scratch_line(r)
    log(line)
    plot_curves(scratch_series(r), d / "scratch_curve.png", metric=r["metric"],
                title=f"from random weights: chip ({r['chip']}) vs float e-prop, same trials")
    write_json(d / "scratch.json", r)
    # wall times stay out of the summary's stages (timing_s holds them): two runs give identical stages
    out = {k: v for k, v in r.items() if k not in ("curve", "float_points", "wall_s")}
    out.update({"enabled": True, "verdict": line, "curve_png": "scratch_curve.png", "curve_json": "scratch.json"})
    return out


def compile_for_learning(cfg: dict, net, rule, task, n_test: int):
    """(compiled network, `OnchipPlan`) of the main job's on-chip stage for ``cfg`` (merged over `DEFAULT`).

    The on-chip rule: plain SGD on the per-step error at ``[onchip] lr`` (the compiled rule's chip rate when
    None), in the ``[onchip] eligibility`` form (docs/onchip_learning.md); as `neurochip compile` then
    `neurochip run compiled --learn --trials T --epochs E --batch-size B --test-trials N --seed <task seed>`."""
    from .chips import load_profile
    from .compiler import compile as compile_net
    from .compiler.pipeline import CompileOptions
    from .onchip import OnchipPlan, check_plan, default_curve_trials, default_eval_every, prepare_rule

    opts = CompileOptions.make(rounding=cfg["chip"].get("rounding", "nearest"), seed=int(cfg["train"].get("seed", 0)))
    cn = compile_net(net, load_profile(cfg["chip"]["name"]), rule, options=opts)
    oc = cfg["onchip"]
    its = -(-int(oc["trials"]) // int(oc["batch_size"]))
    plan = OnchipPlan(iterations=its, batch_size=int(oc["batch_size"]), epochs=int(oc["epochs"]),
                      eval_every=default_eval_every(its), eval_trials=int(n_test), seed=int(cfg["task"]["seed"]),
                      curve_trials=default_curve_trials(int(n_test)), lr_decay=oc.get("lr_decay", 1.0),
                      lr_decay_every=oc.get("lr_decay_every", 100))
    cn = prepare_rule(cn, lr=float(oc["lr"]) if oc.get("lr") is not None else None,
                      eligibility=oc.get("eligibility"), rounding=oc.get("rounding"), batch_size=plan.batch_size)
    check_plan(cn, task, plan)
    return cn, plan


def float_points(hist, batch_size: int) -> list[dict]:
    from .onchip import float_curve_points
    return float_curve_points(hist, batch_size)


def _cost_summary(r: dict) -> dict:
    if "error" in r:
        return {"chip": r["chip"], "fits": False, "error": r["error"]}
    out = {"chip": r["chip"], "fits": True, "cores": r.get("n_cores"), "approximations": []}
    for note in r.get("notes", []):
        if "approximations accepted:" in note:
            out["approximations"] = [a.strip() for a in note.split("approximations accepted:")[1].split(",")]
    for key in ("inference", "learning", "bptt"):
        if key in r:
            out[f"{key}_uj_per_trial"] = r[key].get("per_trial_uj")
            out[f"{key}_complete"] = r[key].get("complete")
    from .cost.compare import basis, comparison_rows
    out["approximations"] = list(r.get("approximations", out["approximations"]))
    out["basis"] = basis(r)                       # like-for-like figures (cost/compare.py)
    out["row"] = comparison_rows([r])[0]
    return out


def _write_html(d: Path, s: dict) -> None:
    from .report_html import write_main_report
    write_main_report(d, s)


def _lava_row(lc: dict):
    """The lava check's verdict and what it compared against: lava's own bit-accurate LIF is an outside oracle;
    neurochip's ChipNeuron process (ALIF, saturating profiles) on lava's runtime checks the runtime, synapses
    and routing, not our neuron arithmetic."""
    bx, model = lc.get("bit_exact"), lc.get("model") or ""
    if not model:
        return bx
    what = "our neuron model on lava's runtime" if model.startswith("neurochip") else "lava's own neuron model"
    return f"{bx} ({model}: {what})"


def format_summary_rows(s: dict) -> dict[str, Any]:
    """The short summary (also printed by `neurochip demo`)."""
    st = s["stages"]
    key = "accuracy" if "accuracy" in st["train"]["float_test"] else "nmse"
    rows = {
        "task / rule": f"{st['train']['task']} / {st['train']['rule']} (N={st['train']['n_rec']})",
        f"float {key} (held-out)": st["train"]["float_test"].get(key),
        f"chip {key} after compile": st["learn on-chip"]["test_before"].get(key),
        f"chip {key} after on-chip learning": st["learn on-chip"]["test_after"].get(key),
        f"float e-prop continued on the same trials ({key})": _continued(st["learn on-chip"]),
        "lava bit-exact": _lava_row(st["lava check"]),
        "spike agreement vs float": st["validate"].get("spike_agreement"),
        "validation tolerances": "passed" if st["validate"].get("tolerances_passed", True)
                                 else "FAILED: " + "; ".join(st["validate"].get("tolerance_failures", [])),
    }
    sc = st.get("learn from scratch") or {}
    if "after" in sc:
        rows[f"chip {sc['metric']}, on-chip learning from random weights"] = (
            f"{sc['before']:.3f} -> {sc['after']:.3f} (float e-prop, same trials: {sc['float_sgd_after']:.3f}; "
            f"{sc['setup']}, {sc['trials']} trials)")
    for c in st["cost"]:
        if c.get("fits") and "row" in c:
            w = c["row"]
            rows[f"{c['chip']}: accuracy; dynamic uJ/inference, /learning step; static uJ/trial; all-in bound"] = (
                f"{w['accuracy']}; {w['dynamic uJ / inference']}, {w['dynamic uJ / learning step']}; "
                f"{w['static uJ / trial (pacing)']}; {w['all-in upper bound uJ / inference']} (compiled with: "
                f"{w['compiled with']}; unpriced: {w['unpriced events']})")
        elif c.get("fits"):
            approx = f" (fits only with approximations: {', '.join(c['approximations'])})" if c.get("approximations") else ""
            rows[f"{c['chip']}: uJ/inference, uJ/learning step, uJ/BPTT step"] = (
                f"{_fmt(c.get('inference_uj_per_trial'), c.get('inference_complete'))}, "
                f"{_fmt(c.get('learning_uj_per_trial'), c.get('learning_complete'))}, "
                f"{_fmt(c.get('bptt_uj_per_trial'), c.get('bptt_complete'))}{approx}")
        else:
            rows[f"{c['chip']}"] = "does not fit: " + c.get("error", "")[:120]
    return rows


def _continued(st: dict) -> str | None:
    """'before -> after' of float e-prop continued on the chip's trials, with its rate and start."""
    fc = st.get("float_continued")
    if not fc:
        return None
    return f"{fc['before']:.3f} -> {fc['after']:.3f} (SGD lr {fc['lr']:g}, from the chip's weights)"


def _fmt(v, complete) -> str:
    if v is None:
        return "n/p"
    return ("" if complete in (True, None) else ">=") + f"{v:.3g}"
