"""A self-contained HTML report: headings, tables, preformatted text and PNG figures embedded as base64
(one file, opens offline, no external assets), and the main job's report (`write_main_report`).

Layout rules (checked in a headless browser at 1400 px): the page is at most 1320 px wide; a wide
table scrolls inside its own box instead of widening the page; table cells wrap; figures scale to the
page width.
"""
from __future__ import annotations

import base64
import html
import json
import platform
import sys
from pathlib import Path
from typing import Any

from .io import atomic_write_text

_CSS = """body{font-family:system-ui,sans-serif;max-width:1320px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.35}
h1{border-bottom:2px solid #446}h2{margin-top:1.6em;color:#335;border-bottom:1px solid #ccd}h3{color:#446;margin:.9em 0 .3em}
.tw{overflow-x:auto;max-width:100%}table{border-collapse:collapse;margin:.5em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top;overflow-wrap:break-word;hyphens:none}
th{background:#eef;text-align:center}td:first-child,th:first-child{text-align:left}
table.wide td{max-width:260px;text-align:left}table.kv td:last-child{text-align:left}
img{max-width:100%;height:auto;border:1px solid #ddd;margin:.4em 0}pre{background:#f6f6f8;padding:.6em;overflow-x:auto;font-size:12px}
.ok{color:#070;font-weight:bold}.bad{color:#a00;font-weight:bold}.note{color:#555;font-size:13px}
ul.fail{color:#a00}.grid2{display:grid;grid-template-columns:1fr 1fr;gap:1em}"""


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "-"
    return html.escape(str(v))


def table_html(rows: list[dict[str, Any]] | dict[str, Any], *, cls: str = "") -> str:
    """A dict becomes a two-column table; a list of dicts a table with one column per key (the union of
    keys, in first-seen order). Wrapped in a box that scrolls horizontally if it is wider than the page."""
    if isinstance(rows, dict):
        body = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_cell(v)}</td></tr>" for k, v in rows.items())
        return f"<div class='tw'><table class='kv {cls}'>{body}</table></div>"
    if not rows:
        return "<p>(none)</p>"
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<div class='tw'><table class='wide {cls}'><tr>{head}</tr>{body}</table></div>"


def image_html(path: str | Path, alt: str = "") -> str:
    p = Path(path)
    if not p.is_file():
        return f"<p class='note'>(figure {html.escape(p.name)} not produced by this run)</p>"
    b64 = base64.b64encode(p.read_bytes()).decode()
    return f'<img alt="{html.escape(alt or p.stem)}" src="data:image/png;base64,{b64}">'


def para(text: str, cls: str = "note") -> str:
    return f"<p class='{cls}'>{html.escape(text)}</p>"


def write_report(path: str | Path, title: str, sections: list[tuple[str, list[str]]]) -> None:
    """Write ``sections`` = [(heading, [html fragments])] as one self-contained HTML file (atomic)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for heading, frags in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.extend(frags)
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))


# --------------------------------------------------------------------------------------------------
# provenance
# --------------------------------------------------------------------------------------------------
def _version(mod: str) -> str:
    try:
        from importlib.metadata import version
        return version(mod)
    except Exception:  # noqa: BLE001  (a missing distribution is reported as such)
        return "not installed"


def _git_commit() -> str:
    import subprocess
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                           capture_output=True, text=True, timeout=5)
        if r.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5)
        return r.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(cfg: dict | None = None) -> dict[str, Any]:
    """Versions, seeds and the command of this run (JSON-able): what a reader needs to reproduce it."""
    cfg = cfg or {}
    seeds = {f"[{sec}] {k}": v for sec in ("task", "network", "train", "chip", "onchip")
             for k, v in (cfg.get(sec) or {}).items() if "seed" in k}
    return {
        "command": " ".join(["neurochip"] + sys.argv[1:]) if Path(sys.argv[0]).name in ("neurochip", "main.py", "__main__.py")
        else " ".join(sys.argv),
        "seeds": seeds,
        "versions": {"neurochip": _version("neurochip"), "python": platform.python_version(),
                     **{m: _version(m) for m in ("numpy", "numba", "scipy", "lava-nc", "brian2", "matplotlib")}},
        "git_commit": _git_commit(),
        "platform": f"{platform.system()} {platform.machine()}",
    }


# --------------------------------------------------------------------------------------------------
# the main job's report
# --------------------------------------------------------------------------------------------------
def _read_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _verdict(s: dict) -> list[str]:
    v = s["stages"].get("validate", {})
    fails = v.get("tolerance_failures") or []
    if v.get("tolerances_passed", not fails):
        head = "<p class='ok'>Validation PASSED: every check held (tolerances below).</p>"
    else:
        head = (f"<p class='bad'>Validation FAILED ({len(fails)} check(s)); the demo exits non-zero.</p>"
                "<ul class='fail'>" + "".join(f"<li>{html.escape(f)}</li>" for f in fails) + "</ul>")
    out = [head]
    lo = s["stages"].get("learn on-chip", {})
    verdict = str(lo.get("verdict") or "")
    if verdict.startswith("WARNING"):   # within tolerance, but a learning step that lowered accuracy is said up front
        out.append(f"<p class='bad'>{html.escape(verdict)}</p>")
    return out


def _continued_line(lo: dict) -> str:
    """The float reference of the on-chip step, one sentence (empty when the run has none)."""
    fc = lo.get("float_continued")
    if not fc:
        return ""
    return (f"Float e-prop continued on the same trials (plain SGD at the chip's rate {fc['lr']:g}, from the "
            f"chip's dequantised weights, same held-out trials): {fc['before']:.4f} -> {fc['after']:.4f} "
            f"({100 * fc['delta']:+.1f} points).")


def _quant_rows(d: Path) -> list[dict[str, Any]]:
    rep = _read_json(d / "compile_report.json") or {}
    q = rep.get("quantize", {})
    rows = []
    for name, p in (q.get("projections") or {}).items():
        if isinstance(p, dict):
            rows.append({"projection": name, "synapses": p.get("n"), "exponent": p.get("exp"),
                         "float LSB": p.get("lsb"), "rel. RMS error": p.get("rel_rms_error"),
                         "max |error|": p.get("max_abs_error"), "saturated": p.get("saturated_fraction"),
                         "zeroed": p.get("zeroed_fraction")})
    dec = q.get("decays") or {}
    for k in ("alpha", "kappa", "rho"):
        if isinstance(dec.get(k), list) and len(dec[k]) == 2:
            rows.append({"projection": f"decay {k} (float -> chip)", "synapses": "-", "exponent": "-",
                         "float LSB": "-", "rel. RMS error": abs(dec[k][1] - dec[k][0]) / abs(dec[k][0]) if dec[k][0] else None,
                         "max |error|": abs(dec[k][1] - dec[k][0]), "saturated": "-", "zeroed": "-"})
    return rows


def _learning_rows(v: dict) -> list[dict[str, Any]]:
    per = v.get("learning_per_projection") or {}
    tol = v.get("tolerances") or {}
    rows = []
    for n, p in per.items():
        rows.append({"matrix": n, "cosine vs float rule": p.get("cosine"),
                     f"(>= {tol.get('update_cosine', '-')})": "ok" if (p.get("cosine") or -9) >= tol.get("update_cosine", -9) else "FAIL",
                     "norm ratio chip / float": p.get("norm_ratio"),
                     f"(in [{tol.get('update_norm_ratio_min', '-')}, {tol.get('update_norm_ratio_max', '-')}])":
                         "ok" if tol.get("update_norm_ratio_min", 0) <= (p.get("norm_ratio") or -1) <= tol.get("update_norm_ratio_max", 1e300) else "FAIL",
                     "cosine vs BPTT": p.get("cosine_bptt"), "float rule vs BPTT": p.get("cosine_float_vs_bptt"),
                     "synapses moved": p.get("moved_fraction"), "float rule": p.get("float_rule"),
                     "rate (lr x 2^gain)": p.get("lr")})
    return rows


def _one_update_rows(v: dict) -> list[dict[str, Any]]:
    """One weight application on the first mini-batch vs the float rule's step from the same weights, on the
    float network's forward pass and on the chip's own (neurochip.chip_pass)."""
    one = v.get("learning_one_update") or {}
    return [{"matrix": n, "cosine, float pass": p.get("cosine_float_pass"),
             "norm ratio, float pass": p.get("norm_ratio_float_pass"),
             "cosine, chip's pass": p.get("cosine_chip_pass"), "norm ratio, chip's pass": p.get("norm_ratio_chip_pass")}
            for n, p in one.items() if isinstance(p, dict)]


def _scratch_section(d: Path, sc: dict) -> list[str]:
    """The main job's "learn from scratch" stage (`neurochip.scratch`): its curve, verdict and numbers."""
    if not sc:
        return [para("(not run)")]
    if not sc.get("enabled", False):
        return [para("(stage switched off: [scratch] enabled = false)")]
    if sc.get("error"):
        return [para(f"Not run on this chip: {sc['error']}", cls="bad")]
    return [para("An untrained network (" + html.escape(str(sc.get("setup"))) + ") compiled for the chip learns with "
                 "the chip's rule alone, beside float e-prop with the same rule, rate and training trials; both are "
                 "scored on the same held-out trials."),
            image_html(d / sc["curve_png"], "from random weights: chip vs float") if sc.get("curve_png") else "",
            para(str(sc.get("verdict", ""))),
            table_html({k: v for k, v in sc.items() if not isinstance(v, (dict, list)) and k not in ("verdict", "setup")})]


def write_main_report(d: str | Path, s: dict) -> None:
    """report.html of the main job in ``d`` from its summary ``s`` and the files the stages wrote there
    (bench.json, compile_report.json, learning_curves.json, figures). Missing pieces are said to be missing."""
    d = Path(d)
    st = s["stages"]
    bench = _read_json(d / "bench.json") or {}
    from .pipeline import format_summary_rows   # the same short summary the CLI prints

    summary_rows = format_summary_rows(s)
    summary_rows = {k: v for k, v in summary_rows.items() if not k.endswith("all-in bound")}
    cmp_rows = bench.get("comparison") or []
    notes = bench.get("comparison_notes") or []
    lo = st.get("learn on-chip", {})
    v = st.get("validate", {})
    one_rows = _one_update_rows(v)
    curves = [image_html(d / lo["curve_png"], "float vs chip learning curve")] if lo.get("curve_png") else []
    sections = [
        ("Summary", _verdict(s) + [table_html(summary_rows)]),
        ("Accuracy and energy per chip (like for like)",
         [para("Each chip runs the network compiled for it (approximations named); energies per trial. "
               "Dynamic and static energy are shown apart; all-in figures in their own column."),
          table_html(cmp_rows), image_html(d / "chip_comparison.png", "accuracy and energy per chip"),
          "<ul class='note'>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"]),
        ("Learning: float vs chip",
         curves + [image_html(d / "learning_curve.png", "float training curve"),
                   para(str(lo.get("verdict", ""))),
                   table_html([{"when": "before on-chip learning", **lo.get("test_before", {})},
                               {"when": "after on-chip learning", **lo.get("test_after", {})}]),
                   para(_continued_line(lo)),
                   table_html({k: val for k, val in lo.items() if not isinstance(val, (dict, list))})]),
        ("Learning from random weights on chip",
         _scratch_section(d, st.get("learn from scratch") or {})),
        ("Validation against the float reference",
         [image_html(d / "validate.png", "validation"),
          "<h3>On-chip update per trained matrix (accumulated over the run) vs float SGD with the same rates</h3>",
          table_html(_learning_rows(v)) if v.get("learning_per_projection") else para("(no learning comparison)"),
          *([f"<h3>One update ({(v.get('learning_one_update') or {}).get('trials')} trials) vs the float rule's step "
             "from the same weights</h3>",
             para("On the float pass, the float rule sees the float network's own spikes; on the chip's pass it sees "
                  "the chip's spikes, readout and membrane. A gap between the two columns is the forward pass "
                  "(fixed-point state flips spikes), not the learning arithmetic."),
             table_html(one_rows)] if one_rows else []),
          "<h3>Fidelity metrics and tolerances</h3>",
          table_html({k: val for k, val in v.items() if not isinstance(val, (dict, list))}),
          table_html(v.get("tolerances") or {})]),
        ("Compile and quantisation",
         [image_html(d / "coremap.png", "core map"),
          table_html({"chip": st.get("compile", {}).get("chip"), "cores": st.get("compile", {}).get("cores")}),
          "<h3>Quantisation</h3>", table_html(_quant_rows(d))]),
        ("Lava bit-exactness", [table_html(dict(st.get("lava check", {})))]),
        ("Energy, communication, memory (details)",
         [image_html(d / "energy_breakdown.png", "energy by category"), image_html(d / "traffic_heatmap.png", "traffic"),
          image_html(d / "bptt_scaling.png", "BPTT vs e-prop for this network"),
          "<h3>Per-chip details (energy by category, communication, memory, NeuroBench)</h3>",
          _detail_table(bench)]),
        ("Provenance",
         [table_html({"command": s.get("provenance", {}).get("command"),
                      "git commit": s.get("provenance", {}).get("git_commit"),
                      "platform": s.get("provenance", {}).get("platform")}),
          "<h3>Versions</h3>", table_html(s.get("provenance", {}).get("versions", {})),
          "<h3>Seeds</h3>", table_html(s.get("provenance", {}).get("seeds", {})),
          "<h3>Configuration</h3>", "<pre>" + html.escape(json.dumps(s.get("config", {}), indent=1)) + "</pre>",
          "<h3>Stage times (s)</h3>", table_html(s.get("timing_s", {}))]),
    ]
    write_report(d / "report.html", "neurochip main job", sections)


def _detail_table(bench: dict) -> str:
    """`cost.report.markdown_table` of the fitting chips as an HTML table (one column per chip)."""
    from .cost.report import markdown_table
    ok = [r for r in bench.get("chips", []) if "error" not in r]
    if not ok:
        return para("(no chip fits)")
    try:
        md = markdown_table(ok)
    except (KeyError, TypeError) as e:           # a report from another version: say so, don't fail the report
        return para(f"(detail table unavailable: {e})")
    lines = [ln.strip().strip("|").split("|") for ln in md.strip().splitlines()]
    head, body = lines[0], lines[2:]
    return table_html([{(h.strip() or "quantity"): c.strip() for h, c in zip(head, row)} for row in body])
