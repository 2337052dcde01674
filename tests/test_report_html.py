"""The main job's report (`neurochip.report_html.write_main_report`): the verdict with every failing check,
accuracy and energy per chip side by side, the quantisation table and provenance, from a summary and the
files the stages wrote; tables never widen the page (they scroll in their own box)."""
from __future__ import annotations

import html
import json
import re

from neurochip.report_html import provenance, table_html, write_main_report


def _summary(failures):
    per = {"w_in": {"cosine": -0.13, "norm_ratio": 206.0, "cosine_bptt": -0.1, "cosine_float_vs_bptt": 0.2,
                    "moved_fraction": 0.01, "float_rule": "eprop_random SGD"}}
    return {
        "config": {"task": {"seed": 3}, "train": {"seed": 5}},
        "stages": {
            "train": {"task": "evidence", "rule": "eprop_random", "n_rec": 100, "iterations": 10,
                      "float_test": {"accuracy": 0.9}},
            "compile": {"chip": "loihi2", "fits": True, "cores": 1},
            "learn on-chip": {"test_before": {"accuracy": 0.85}, "test_after": {"accuracy": 0.84}, "verdict": "v"},
            "lava check": {"bit_exact": True},
            "validate": {"spike_agreement": 0.7, "learning_per_projection": per,
                         "tolerances": {"update_cosine": 0.5, "update_norm_ratio_min": 0.6, "update_norm_ratio_max": 1.7},
                         "tolerances_passed": not failures, "tolerance_failures": failures},
            "cost": [],
        },
        "timing_s": {"train": 1.0},
        "provenance": provenance({"task": {"seed": 3}, "train": {"seed": 5}}),
        "passed": not failures,
    }


def test_report_shows_verdict_chips_quantisation_and_provenance(tmp_path):
    rows = [{"chip": "loihi1", "compiled with": "reset to zero (not by subtraction)", "accuracy": "0.750 (n=256)",
             "dynamic uJ / inference": "21.5", "static uJ / trial (pacing)": "1.84e+03 (0.82 mW x 2.25 s)"},
            {"chip": "reckon", "compiled with": "adaptation dropped (ALIF -> LIF)", "accuracy": "0.305 (n=256)",
             "dynamic uJ / inference": ">= 24.5", "static uJ / trial (pacing)": "n/p"}]
    (tmp_path / "bench.json").write_text(json.dumps({"chips": [], "comparison": rows, "comparison_notes": ["a note"]}))
    (tmp_path / "compile_report.json").write_text(json.dumps({"quantize": {"projections": {
        "in": {"n": 4000, "exp": 6, "lsb": 0.0047, "rel_rms_error": 0.0085, "max_abs_error": 0.0023,
               "saturated_fraction": 0.0, "zeroed_fraction": 0.01}}}}))
    fails = ["w_in: cosine vs float eprop_random SGD = -0.13 < 0.5", "w_out received no on-chip update (float x)"]
    write_main_report(tmp_path, _summary(fails))
    doc = (tmp_path / "report.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", " ", doc))
    assert "Validation FAILED (2 check(s))" in text
    assert all(f"<li>{html.escape(f)}</li>" in doc for f in fails)        # one line per failing check
    for cell in ("reset to zero (not by subtraction)", "0.305 (n=256)", "1.84e+03 (0.82 mW x 2.25 s)", ">= 24.5"):
        assert cell in text, cell                                           # accuracy beside energy, per chip
    assert "0.0085" in text and "4000" in text                              # quantisation table
    assert "[task] seed" in text and "numpy" in text and "command" in text  # provenance
    assert "FAIL" in text and "206" in text                                 # per-matrix learning table
    assert "(figure chip_comparison.png not produced by this run)" in text  # missing pieces are said to be
    write_main_report(tmp_path, _summary([]))
    assert "Validation PASSED" in (tmp_path / "report.html").read_text()
    # a passing run whose on-chip step lowered accuracy (within tolerance) says so under the verdict
    s = _summary([])
    s["stages"]["learn on-chip"]["verdict"] = "WARNING: on-chip learning LOWERED held-out accuracy from 0.85 to 0.84"
    write_main_report(tmp_path, s)
    doc = (tmp_path / "report.html").read_text()
    summary = doc[doc.index("Validation PASSED"):doc.index("Accuracy and energy per chip")]
    assert "LOWERED held-out accuracy from 0.85 to 0.84" in summary


def test_tables_scroll_inside_their_box():
    t = table_html([{"a": 1, "b": "x" * 500}])
    assert t.startswith("<div class='tw'>") and "<table" in t


def test_report_shows_the_one_update_on_both_passes(tmp_path):
    """validate's learning_one_update (neurochip.chip_pass) is a table of its own: float pass and chip's pass per
    matrix; absent data gives no empty table."""
    s = _summary([])
    write_main_report(tmp_path, s)
    assert "chip's pass" not in (tmp_path / "report.html").read_text()
    s["stages"]["validate"]["learning_one_update"] = {
        "spike_agreement_exact": 0.97, "trials": 16,
        "w_in": {"cosine_float_pass": 0.675, "norm_ratio_float_pass": 1.06, "cosine_chip_pass": 0.942,
                 "norm_ratio_chip_pass": 1.01}}
    write_main_report(tmp_path, s)
    text = html.unescape(re.sub(r"<[^>]+>", " ", (tmp_path / "report.html").read_text()))
    assert "One update (16 trials)" in text
    assert "0.675" in text and "0.942" in text and "chip's pass" in text
