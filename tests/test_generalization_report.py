"""benchmarks/generalization_report.py on synthetic sweep points: groups are labelled with the optimiser a table
sets, and each SGD / on-chip group is tested against BPTT with SGD at the same rate (like for like), not only
against the base BPTT (Adam on store-recall), whose optimiser alone moves the curvature."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _point(out: Path, i: int, values: dict, curv: float, gap: float, kind: str = "train", rule: str = "bptt"):
    res = {"kind": kind, "rule": rule, "iterations": 50, "stopped_early": True,
           "test": {"loss": 0.3 + gap, "error": 0.1}, "train_set": {"loss": 0.3, "error": 0.05},
           "curvature_w_rec": {"value": -curv, "converged": True}, "curvature_all": {"value": curv},
           "curvature_drift": []}
    if kind == "onchip":
        res["chip"] = "loihi2"
    (out / "points" / f"{i:05d}.json").write_text(json.dumps({"point": {"values": values}, "result": res}))


def _sweep(tmp_path, chip_curv: float) -> str:
    from generalization_report import load, report
    (tmp_path / "points").mkdir()
    i = 0
    for seed in range(6):
        # base BPTT (Adam): flat; BPTT with SGD 0.2: sharp; the chip (SGD 0.2): chip_curv
        _point(tmp_path, i, {"rule.name": "bptt", "train.seed": seed}, 1.0 + 0.01 * seed, 0.05); i += 1
        _point(tmp_path, i, {"rule.name": "bptt", "rule.optimizer": "sgd", "rule.lr": 0.2, "train.seed": seed},
               5.0 + 0.01 * seed, 0.05); i += 1
        _point(tmp_path, i, {"rule.name": "eprop_random", "chip.name": "loihi2", "onchip.lr": 0.2, "train.seed": seed},
               chip_curv + 0.01 * seed, 0.05, kind="onchip", rule="eprop_random"); i += 1
    return report(load(tmp_path))


def test_sgd_groups_are_labelled_and_tested_like_for_like(tmp_path):
    md = _sweep(tmp_path, chip_curv=5.0)
    assert "| bptt, sgd, lr 0.2 |" in md                      # the optimiser is in the label
    assert "Like for like" in md
    row = [ln for ln in md.splitlines() if ln.startswith("| eprop_random (chip loihi2), chip lr 0.2 | bptt, sgd, lr 0.2 |")]
    assert len(row) == 1, md
    # chip == SGD BPTT here: not sharper like for like (p >= 0.4), though far sharper than Adam BPTT (first table)
    p_like = float(row[0].split("|")[4])
    assert p_like >= 0.4, row
    # the findings table against the base BPTT: | rule | curvature p | gap p | variance p |
    first = [ln for ln in md.splitlines() if ln.startswith("| eprop_random (chip loihi2), chip lr 0.2 | ")
             and len(ln.split("|")) == 6][0]
    assert float(first.split("|")[2]) < 0.01, first


def test_like_for_like_detects_a_sharper_chip(tmp_path):
    """Mutation of the reference (comparing with the base Adam BPTT instead) would make both tests say 'sharper';
    here the chip is sharper than SGD BPTT too, and the like-for-like p must say so."""
    md = _sweep(tmp_path, chip_curv=9.0)
    row = [ln for ln in md.splitlines() if ln.startswith("| eprop_random (chip loihi2), chip lr 0.2 | bptt, sgd, lr 0.2 |")][0]
    assert float(row.split("|")[4]) < 0.01, row


def test_points_outside_the_current_spec_are_not_pooled(tmp_path):
    """After `neurochip sweep --extend` with a changed budget the old points stay on disk, outside the summary;
    the report reads only those the summary lists (pooling both counted every seed twice: n = 12, not 6)."""
    from generalization_report import load
    _sweep(tmp_path, chip_curv=5.0)                           # 18 points, none listed yet: all are read
    assert len(load(tmp_path)) == 18
    kept = sorted(f.stem for f in (tmp_path / "points").glob("*.json"))[:6]
    (tmp_path / "summary.json").write_text(json.dumps({"rows": [{"id": i} for i in kept]}))
    rows = load(tmp_path)
    assert len(rows) == 6
    assert {r["seed"] for r in rows} == set(range(2))         # points 0-5: seeds 0 and 1, three groups each
