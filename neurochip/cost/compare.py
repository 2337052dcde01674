"""Like-for-like comparison of chips: every chip priced on the same basis.

For each chip report (`report.chip_report`) `basis(rep)` gives, per trial (one inference, or one
learning step on one sample):

- **dynamic** energy: the priced per-event costs only (synaptic ops, neuron updates, routing, learning
  events), no static power. A learning step is the inference's forward pass plus the learning events of
  the learning run (traces, weight writes, learning signal): the forward pass is priced on the inference
  run's counts, so a learning step can never come out cheaper than the inference it contains (the
  learning run's own forward pass changes as its weights change; that difference is activity, not
  learning cost).
- **static** energy at a stated pacing: static power x cores used x the trial's duration when one chip
  time step takes ``step_ms`` of wall-clock time (real-time pacing, as in the e-prop tasks). It is shown
  apart from dynamic energy because it depends on the pacing, not on the network.
- **all-in** figures (a chip whose only published cost is an operating-point average that already
  contains static power, routing and neuron updates, e.g. loihi2's Hala Point bound): reported in their
  own column as an upper bound at *that* operating point, never as dynamic energy.
- **unpriced** events: every counted event without a published cost; a total with unpriced events is
  a lower bound (shown as ">=").
- **accuracy** of the network compiled for this chip (with the approximations the chip needed, named)
  on held-out trials, and the energy per correct inference = energy per inference / accuracy.

Pure functions over the report dicts (JSON-able); no energy constant lives here.
"""
from __future__ import annotations

from typing import Any

STATIC_EVENT = "static_mw_per_core"


def _per_trial_uj(pj: float | None, trials: int) -> float | None:
    return None if pj is None else pj / max(int(trials), 1) * 1e-6


def _dynamic_unpriced(e: dict) -> list[str]:
    return sorted(u for u in e.get("unpriced", []) if u != STATIC_EVENT)


def basis(rep: dict[str, Any]) -> dict[str, Any]:
    """The like-for-like figures of one chip report (see the module docstring). Energies in uJ per trial;
    ``*_complete`` False means the value is a lower bound (unpriced events); None = not available."""
    inf = rep["inference"]
    T = max(int(inf["steps"]) // max(int(inf["trials"]), 1), 1)
    step_ms = float(rep.get("step_ms", inf.get("step_ms", 1.0)))
    all_in = inf.get("mode") == "all_in"
    out: dict[str, Any] = {
        "chip": rep["chip"], "mode": inf.get("mode"), "n_cores": int(rep.get("n_cores", 0)),
        "steps_per_trial": T, "step_ms": step_ms, "trial_ms": T * step_ms,
        "approximations": list(rep.get("approximations", [])),
        "accuracy": (rep.get("accuracy") or {}).get("accuracy"),
        "accuracy_trials": (rep.get("accuracy") or {}).get("trials"),
    }
    unpriced = set(_dynamic_unpriced(inf))
    if all_in:
        out.update(dynamic_infer_uj=None, dynamic_infer_complete=False, static_uj=None, static_mw=None,
                   all_in_infer_uj=_per_trial_uj(inf["total_pj"], inf["trials"]))
    else:
        out.update(dynamic_infer_uj=_per_trial_uj(inf["dynamic_pj"], inf["trials"]),
                   dynamic_infer_complete=not _dynamic_unpriced(inf),
                   static_uj=_per_trial_uj(inf.get("static_pj"), inf["trials"]),
                   static_mw=_static_mw(inf), all_in_infer_uj=None)
    learn = rep.get("learning")
    if learn:
        ev = _per_trial_uj(learn.get("learning_pj", 0.0), learn["trials"])
        lun = _dynamic_unpriced(learn)
        unpriced |= set(lun)
        learn_complete = not lun
        if all_in:
            out["all_in_learn_uj"] = (out["all_in_infer_uj"] or 0.0) + ev
            out["dynamic_learn_uj"], out["dynamic_learn_complete"] = None, False
            out["learn_events_uj"], out["learn_complete"] = ev, learn_complete
        else:
            out["dynamic_learn_uj"] = (out["dynamic_infer_uj"] or 0.0) + ev
            out["dynamic_learn_complete"] = out["dynamic_infer_complete"] and learn_complete
            out["learn_events_uj"], out["learn_complete"] = ev, learn_complete
            out["all_in_learn_uj"] = None
    out["unpriced"] = sorted(unpriced | ({STATIC_EVENT} if (not all_in and out["static_uj"] is None) else set()))
    acc = out["accuracy"]
    if acc and acc > 0:
        if out["dynamic_infer_uj"] is not None:
            out["dynamic_per_correct_uj"] = out["dynamic_infer_uj"] / acc
            if out["static_uj"] is not None:
                out["total_per_correct_uj"] = (out["dynamic_infer_uj"] + out["static_uj"]) / acc
        if out["all_in_infer_uj"] is not None:
            out["all_in_per_correct_uj"] = out["all_in_infer_uj"] / acc
    return out


def _static_mw(e: dict) -> float | None:
    for ln in e.get("lines", []):
        if ln.get("category") == "static" and ln.get("pj_per_event") is not None:
            return ln["pj_per_event"] / 1e6          # pJ per ms of the chip (mW x cores x 1e6) -> mW
    return None


def _fmt(v: float | None, complete: bool = True, digits: int = 3) -> str:
    if v is None:
        return "n/p"
    s = f"{v:.{digits}g}"
    return s if complete else f">= {s}"


def comparison_rows(reports: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per chip (the side-by-side table of the report and of `neurochip bench`), column names with
    units. Chips that do not fit get one row saying so."""
    rows = []
    for r in reports:
        if "error" in r:
            rows.append({"chip": r["chip"], "compiled with": "does not fit", "accuracy": "-",
                         "dynamic uJ / inference": "-", "dynamic uJ / learning step": "-",
                         "static uJ / trial (pacing)": "-", "all-in upper bound uJ / inference": "-",
                         "dynamic uJ / correct inference": "-", "unpriced events": r["error"][:80]})
            continue
        b = basis(r)
        acc = b["accuracy"]
        pacing = f"{b['steps_per_trial']} steps x {b['step_ms']:g} ms"
        if b["mode"] == "all_in":
            static = "inside all-in"
        elif b["static_uj"] is None:
            static = f"n/p ({pacing})"
        else:
            static = f"{b['static_uj']:.3g} ({b['static_mw']:.3g} mW x {b['trial_ms'] / 1e3:g} s)"
        if "dynamic_per_correct_uj" in b:
            per_correct = _fmt(b["dynamic_per_correct_uj"], b["dynamic_infer_complete"])
        elif "all_in_per_correct_uj" in b:
            per_correct = f"<= {b['all_in_per_correct_uj']:.3g} (all-in)"
        else:
            per_correct = "-"
        rows.append({
            "chip": b["chip"],
            "compiled with": ", ".join(b["approximations"]) or "exact model",
            "accuracy": "-" if acc is None else f"{acc:.3f}" + (f" (n={b['accuracy_trials']})" if b.get("accuracy_trials") else ""),
            "dynamic uJ / inference": _fmt(b["dynamic_infer_uj"], b["dynamic_infer_complete"]),
            "dynamic uJ / learning step": (_fmt(b.get("dynamic_learn_uj"), b.get("dynamic_learn_complete", True))
                                           if "dynamic_learn_uj" in b else "-"),
            "static uJ / trial (pacing)": static,
            "all-in upper bound uJ / inference": ("-" if b["all_in_infer_uj"] is None else f"<= {b['all_in_infer_uj']:.3g}"
                                                  + (f"; learning step >= {b['all_in_learn_uj']:.3g}"
                                                     if b.get("all_in_learn_uj") is not None else "")),
            "dynamic uJ / correct inference": per_correct,
            "unpriced events": ", ".join(b["unpriced"]) or "none",
        })
    return rows


def markdown(rows: list[dict[str, str]]) -> str:
    """The rows as a markdown table (one row per chip)."""
    if not rows:
        return ""
    keys = list(rows[0])
    head = "| " + " | ".join(keys) + " |\n|" + " --- |" * len(keys) + "\n"
    return head + "".join("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |\n" for r in rows)


NOTES = (
    "dynamic = priced per-event energy only; a learning step = the inference's forward pass + the learning "
    "events (traces, weight writes, learning signal) per sample",
    "static = static power x cores used x trial duration at the stated pacing (one chip step per step_ms of "
    "wall-clock time: real time for the e-prop tasks); it depends on the pacing, not on the network",
    "all-in = an operating-point average that already contains static power, routing and neuron updates "
    "(loihi2: Hala Point, 2600 W / 380e12 SOP/s): an upper bound at that operating point, not comparable "
    "with dynamic energy; learning events are not in it (>=)",
    ">= : some counted events have no published cost (listed); the value is a lower bound",
    "accuracy: the network compiled for that chip (with the approximations named) on the held-out trials",
)
