"""neurochip sweep: spec checking, grid expansion, atomic per-point results, resume, local pool vs Ray."""
import json
import math
import os

import pytest
from hypothesis import given, settings, strategies as st

from neurochip.errors import ConfigError
from neurochip.sweep import expand, run_sweep
from neurochip.sweep.spec import parse_spec

TINY = {"task": {"name": "evidence"}, "network": {"n_rec": 12},
        "train": {"iterations": 2, "batch_size": 2, "train_set_size": 4, "eval_batches": 1, "eval_every": 2,
                  "early_stop": None},
        "analysis": {"curvature_trials": 2, "curvature_iters": 2, "curvature_all": False}}


def _spec(grid, base=TINY, name="t"):
    return parse_spec({"sweep": {"name": name}, "base": base, "grid": grid})


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_expand_is_the_cartesian_product_with_stable_distinct_ids(sizes):
    grid = {f"train.k{i}": list(range(n)) for i, n in enumerate(sizes)}
    pts = expand(_spec(grid, base={}))
    assert len(pts) == math.prod(sizes)
    assert len({p.id for p in pts}) == len(pts)                       # distinct configs, distinct ids
    assert [p.id for p in expand(_spec(grid, base={}))] == [p.id for p in pts]   # stable
    for p in pts:
        for k, v in p.values.items():
            sec, key = k.split(".")
            assert p.config[sec][key] == v


def test_id_changes_when_the_base_changes():
    a = expand(_spec({"train.seed": [0]}))[0].id
    base = json.loads(json.dumps(TINY))
    base["train"]["iterations"] = 3
    assert expand(_spec({"train.seed": [0]}, base=base))[0].id != a


@pytest.mark.parametrize("data,match", [
    ({"grid": {"train.seed": [0]}, "oops": {}}, "unknown table"),
    ({"grid": {}}, "at least one"),
    ({"grid": {"train.seed": []}}, "non-empty list"),
    ({"grid": {"seed": [1]}}, "section.key"),
    ({"grid": {"bogus.seed": [1]}}, "section.key"),
    ({"grid": {"train.lr": [float("nan")]}}, "finite"),
    ({"sweep": {"kind": "magic"}, "grid": {"train.seed": [0]}}, "kind"),
    ({"grid": {f"train.k{i}": list(range(10)) for i in range(6)}}, "at most"),
])
def test_bad_specs_are_named(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_spec(data)


def test_bad_point_config_is_refused_before_any_work(tmp_path):
    spec = _spec({"rule.name": ["eprop_random", "no_such_rule"]})
    with pytest.raises(ConfigError, match="no_such_rule"):
        run_sweep(spec, tmp_path / "o", workers=1, progress=False)
    assert not (tmp_path / "o").exists()


def _results(out):
    return {f.name: {k: v for k, v in json.loads(f.read_text())["result"].items() if "seconds" not in k}
            for f in sorted((out / "points").glob("*.json"))}


def test_resume_skips_finished_points_and_refuses_another_spec(tmp_path):
    spec = _spec({"train.seed": [0, 1]})
    out = tmp_path / "o"
    s = run_sweep(spec, out, workers=2, progress=False)
    assert s["finished"] == 2 and not s["failed"]
    files = sorted((out / "points").glob("*.json"))
    assert len(files) == 2
    keep, redo = files
    mtime = keep.stat().st_mtime_ns
    first = _results(out)
    redo.unlink()                                          # as if interrupted before this point finished
    msgs = []
    s2 = run_sweep(spec, out, workers=1, progress=False, log=msgs.append)
    assert keep.stat().st_mtime_ns == mtime                # not recomputed
    assert any("1 of 2 points already done" in m for m in msgs)
    assert _results(out) == first                          # the recomputed point is identical (seeded)
    assert s2["finished"] == 2
    for name in ("summary.csv", "summary.json", "summary.png"):
        assert (out / name).is_file()
    with pytest.raises(ConfigError, match="another sweep"):
        run_sweep(_spec({"train.seed": [5]}), out, workers=1, progress=False)


def test_extend_keeps_finished_points_and_runs_only_the_new_ones(tmp_path):
    """--extend: the same sweep name with a grown grid reuses the finished points (files untouched) and runs the
    new one; a point dropped from the spec stays on disk but leaves the summary, and points whose index moved
    are reused under their new id (not recomputed: identical results, no new run); the old manifest is kept;
    another name, or --force with --extend, is refused. Mutation: ignore ``extend`` -> 'another sweep';
    drop `adopt_moved` -> the moved points are recomputed ('running 2')."""
    out = tmp_path / "o"
    run_sweep(_spec({"train.seed": [0, 1]}), out, workers=1, progress=False)
    f0, f1 = sorted((out / "points").glob("*.json"))
    mtimes = (f0.stat().st_mtime_ns, f1.stat().st_mtime_ns)
    old_digest = json.loads((out / "sweep.json").read_text())["digest"]
    msgs = []
    grown = _spec({"train.seed": [0, 1, 2]})
    s = run_sweep(grown, out, workers=1, progress=False, extend=True, log=msgs.append)
    assert (f0.stat().st_mtime_ns, f1.stat().st_mtime_ns) == mtimes and s["finished"] == 3
    assert any("2 of 3 points already done, running 1" in m for m in msgs)
    assert json.loads((out / "sweep.json").read_text())["digest"] == grown.digest
    assert (out / f"sweep.{old_digest[:12]}.json").is_file()
    msgs.clear()
    before = {json.loads(f.read_text())["point"]["values"]["train.seed"]: json.loads(f.read_text())["result"]
              for f in (out / "points").glob("*.json")}
    assert len(before) == 3
    s = run_sweep(_spec({"train.seed": [1, 2]}), out, workers=1, progress=False, extend=True, log=msgs.append)
    assert s["finished"] == 2 and any("2 of 2 points already done" in m for m in msgs), msgs
    assert any("1 finished point(s) in" in m for m in msgs), msgs         # seed 0: kept, outside the summary
    after = {json.loads(f.read_text())["point"]["values"]["train.seed"]: json.loads(f.read_text())["result"]
             for f in (out / "points").glob("*.json")}
    assert after == before and len(list((out / "points").glob("*.json"))) == 3
    with pytest.raises(ConfigError, match="extend needs the same"):
        run_sweep(_spec({"train.seed": [0]}, name="other"), out, workers=1, progress=False, extend=True)
    with pytest.raises(ConfigError, match="give one"):
        run_sweep(grown, out, workers=1, progress=False, extend=True, force=True)


def test_ray_executor_gives_the_local_results(tmp_path):
    """The same spec (float points and on-chip points, two [[grid]] tables) on a local Ray instance started here
    and on the process pool: identical results."""
    pytest.importorskip("ray") if not os.environ.get("CI") else None
    base = {k: v for k, v in json.loads(json.dumps(ONCHIP)).items() if k not in ("chip", "onchip")}
    base["train"]["iterations"] = 4
    spec = parse_spec({"sweep": {"name": "r"}, "base": base,
                       "grid": [{"rule.name": ["eprop_random", "bptt"]},
                                {"kind": "onchip", "rule.name": ["eprop_random"], "chip.name": ["loihi2"]}]})
    run_sweep(spec, tmp_path / "local", workers=2, progress=False)
    run_sweep(spec, tmp_path / "ray", executor="ray", address="local", workers=2, progress=False)
    assert _results(tmp_path / "ray") == _results(tmp_path / "local")


def test_cli_rerun_resumes_the_same_folder(tmp_path, capsys):
    """The documented resume: the same `neurochip sweep SPEC -o OUT` again skips finished points (it was
    refused by the generic 'output directory exists' check before); another spec in OUT is still refused."""
    from neurochip.cli.main import main
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\nname = "t"\n[base]\ntask.name = "evidence"\nnetwork.n_rec = 12\n'
                    'train.iterations = 2\ntrain.batch_size = 2\ntrain.train_set_size = 4\ntrain.eval_batches = 1\n'
                    'train.eval_every = 2\nanalysis.curvature_trials = 2\nanalysis.curvature_iters = 2\n'
                    'analysis.curvature_all = false\n[grid]\n"train.seed" = [0]\n')
    out = tmp_path / "o"
    args = ["sweep", str(spec), "-o", str(out), "--workers", "1", "--no-progress"]
    assert main(args) == 0
    done = sorted((out / "points").glob("*.json"))
    mtime = done[0].stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0, capsys.readouterr().err
    assert done[0].stat().st_mtime_ns == mtime              # not recomputed
    other = tmp_path / "other.toml"
    other.write_text(spec.read_text().replace('[0]', '[1]'))
    assert main(["sweep", str(other), "-o", str(out), "--workers", "1", "--no-progress"]) == 2
    assert "another sweep" in capsys.readouterr().err


ONCHIP = {"task": {"name": "evidence", "n_cues": 1, "cue_ms": 30.0, "gap_ms": 10.0, "delay_ms": 20.0,
                   "recall_ms": 20.0, "group_size": 5},
          "network": {"kind": "lif", "n_ref": 2, "n_rec": 24}, "rule": {"reg_rate": 0.0, "optimizer": "sgd", "lr": 0.5},
          "train": {"iterations": 40, "batch_size": 8, "train_set_size": 64, "eval_batches": 8, "seed": 1},
          "chip": {"name": "loihi2"}, "onchip": {"eligibility": "per_synapse"},
          "analysis": {"curvature_trials": 4, "curvature_iters": 4, "curvature_all": False}}


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["onchip"].update(rate=1.0), "unknown \\[onchip\\] key"),
    (lambda c: c["onchip"].update(eligibility="dense"), "eligibility"),
    (lambda c: c["onchip"].update(lr=-1.0), "lr must be"),
    (lambda c: c.pop("chip"), "chip.name"),
    (lambda c: c.update(bench={}), "sections"),
])
def test_onchip_kind_refuses_bad_points_before_work(edit, match):
    from neurochip.sweep.point import check_point
    cfg = json.loads(json.dumps(ONCHIP))
    edit(cfg)
    with pytest.raises(ConfigError, match=match):
        check_point("onchip", cfg)


def test_onchip_kind_trains_on_chip_and_measures_gap_and_curvature_at_the_chips_weights():
    """One 'onchip' point (one-cue task, 24 LIF, loihi2, per-synapse, 64-trial finite set, 5 epochs): the
    chip learns (measured seed 1: held-out 0.50 -> 0.91, train set 0.95), its held-out figure from the training loop equals
    the point's own test error (two code paths, same trials), the gap is test - train_set, and the curvature
    is taken at the learned weights (it differs from the untrained network's). Mutation: curvature of
    `float_network(c)` (the source float weights) -> equal to the untrained one, fails."""
    import numpy as np
    from neurochip.analysis.curvature import dominant_eigenvalue
    from neurochip.sweep.point import _curvature_batch, run_point
    from neurochip.train import build
    r = run_point("onchip", json.loads(json.dumps(ONCHIP)))
    assert r["kind"] == "onchip" and r["chip"] == "loihi2" and r["eligibility"] == "per_synapse"
    assert r["heldout_after"] - r["heldout_before"] > 0.2, r
    assert r["heldout_after"] == pytest.approx(1.0 - r["test"]["error"])
    assert r["gap"]["error"] == pytest.approx(r["test"]["error"] - r["train_set"]["error"])
    assert r["gap"]["loss"] == pytest.approx(r["test"]["loss"] - r["train_set"]["loss"])
    task, net, _, tr, _ = build({k: ONCHIP[k] for k in ("task", "network", "rule", "train")})
    e0 = dominant_eigenvalue(net, _curvature_batch(task, tr, 4), ("w_rec",), max_iter=4, tol=1e-3)["value"]
    assert np.isfinite(r["curvature_w_rec"]["value"]) and abs(r["curvature_w_rec"]["value"] - e0) > 1e-3 * abs(e0)


def test_onchip_sweep_runs_from_the_cli_and_resumes(tmp_path):
    from neurochip.cli.main import main
    spec = tmp_path / "s.toml"
    base = json.loads(json.dumps(ONCHIP))
    base["train"]["iterations"] = 4
    lines = ["[sweep]", 'name = "oc"', 'kind = "onchip"', "[base]"]
    for sec, kv in base.items():
        for k, v in kv.items():
            lines.append(f"{sec}.{k} = {json.dumps(v)}")
    lines += ["[grid]", '"train.seed" = [0, 1]']
    spec.write_text("\n".join(lines) + "\n")
    assert main(["sweep", str(spec), "-o", str(tmp_path / "o"), "--no-progress"]) == 0
    rows = json.loads((tmp_path / "o" / "summary.json").read_text())["rows"]
    assert len(rows) == 2 and all(math.isfinite(r["test_error"]) and math.isfinite(r["curvature_w_rec"]) for r in rows)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "o" / "points").iterdir()}
    assert main(["sweep", str(spec), "-o", str(tmp_path / "o"), "--no-progress"]) == 0      # resume: nothing rerun
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "o" / "points").iterdir()} == mtimes


def test_onchip_kind_stops_at_the_matched_training_loss():
    """train.stop_loss on a finite set: the chip stops at the end of the first epoch whose mean task loss is
    below it (Liu's matched loss), like the float trainer. Measured seed 1: 40 of 200 updates, last epoch 0.239.
    Mutation: ignore the callback's return in train_onchip -> 200 updates, fails."""
    from neurochip.sweep.point import run_point
    cfg = json.loads(json.dumps(ONCHIP))
    cfg["train"].update(stop_loss=0.3, iterations=200)
    r = run_point("onchip", cfg)
    assert r["stopped_early"] and r["iterations"] < 200 and r["iterations"] % 8 == 0, r     # whole epochs of 64 / 8
    assert r["train_last"]["loss"] < 0.3


def test_several_grids_with_their_own_kinds_expand_to_the_union():
    """[[grid]] tables: points of each grid in order, each with its kind; a one-table spec keeps the ids it had
    (index + digest of its kind and config); a bad kind in a table is refused."""
    import hashlib
    from neurochip.sweep.spec import _canonical
    spec = parse_spec({"sweep": {"name": "m"}, "base": {"train": {"iterations": 2}},
                       "grid": [{"rule.name": ["bptt", "eprop_random"], "train.seed": [0, 1]},
                                {"kind": "onchip", "rule.name": ["eprop_random"], "train.seed": [0, 1],
                                 "chip.name": ["loihi2"]}]})
    pts = expand(spec)
    assert [p.kind for p in pts] == ["train"] * 4 + ["onchip"] * 2 and [p.index for p in pts] == list(range(6))
    assert len({p.id for p in pts}) == 6 and pts[4].config["chip"]["name"] == "loihi2" and "chip" not in pts[0].config
    assert spec.grid["rule.name"] == ["bptt", "eprop_random"] and spec.to_dict()["grids"][1]["kind"] == "onchip"
    one = _spec({"train.seed": [0, 1]})
    p = expand(one)[1]
    want = hashlib.sha256(_canonical({"kind": "train", "config": p.config}).encode()).hexdigest()[:10]
    assert p.id == f"00001-{want}" and "grids" not in one.to_dict()
    with pytest.raises(ConfigError, match="kind"):
        parse_spec({"sweep": {"name": "m"}, "grid": [{"kind": "magic", "train.seed": [0]}]})


def test_summary_groups_an_intervention_apart_and_correlates_abs_curvature(tmp_path):
    """A second grid table that sets rule.lr makes its own group ("bptt, rule.lr=0.002"), seeds never do; the
    correlation is of the gap with abs(lambda) (the signed one kept beside). Mutation: group by rule.name only
    -> one 'bptt' group of 3; correlate the signed value -> differs when a lambda is negative."""
    from neurochip.sweep.summary import correlation
    spec = parse_spec({"sweep": {"name": "iv"}, "base": TINY,
                       "grid": [{"rule.name": ["bptt"], "train.seed": [0, 1, 2]},
                                {"rule.name": ["bptt"], "rule.lr": [0.002], "train.seed": [0, 1, 2]}]})
    s = run_sweep(spec, tmp_path / "o", workers=1, progress=False, log=lambda m: None)
    assert set(s["groups"]) == {"bptt", "bptt, rule.lr=0.002"} and s["group_by"] == ["rule.name", "rule.lr"]
    assert all(g["loss_gap"]["n"] == 3 for g in s["groups"].values())
    rows = s["rows"]
    assert all(r["abs_curvature_w_rec"] == abs(r["curvature_w_rec"]) for r in rows)
    assert s["gap_vs_curvature"] == correlation([abs(r["curvature_w_rec"]) for r in rows], [r["loss_gap"] for r in rows])
    assert s["gap_vs_signed_curvature"] == correlation([r["curvature_w_rec"] for r in rows], [r["loss_gap"] for r in rows])


def test_float_and_chip_points_in_one_sweep(tmp_path):
    """One spec, one command: float and on-chip points of the same rule are grouped apart in the summary."""
    base = json.loads(json.dumps(ONCHIP))
    base["train"]["iterations"] = 4
    base.pop("chip"), base.pop("onchip")
    spec = parse_spec({"sweep": {"name": "mixed"}, "base": base,
                       "grid": [{"rule.name": ["eprop_random"], "train.seed": [0, 1]},
                                {"kind": "onchip", "rule.name": ["eprop_random"], "train.seed": [0, 1],
                                 "chip.name": ["loihi2"]}]})
    s = run_sweep(spec, tmp_path / "o", workers=1, progress=False, log=lambda m: None)
    assert s["finished"] == 4 and not s["failed"], s["failed"]
    # chip.name is set by the chip table only, so it names the chip points' group
    assert set(s["groups"]) == {"eprop_random [train]", "eprop_random, chip.name=loihi2 [onchip]"}
    assert {r["kind"] for r in s["rows"]} == {"train", "onchip"}
