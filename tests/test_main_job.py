"""The main job end to end at a reduced size, and its report checked against the one-by-one commands.

`neurochip demo` draws its held-out, on-chip training and cost inputs exactly as `neurochip run |
validate | bench --task evidence --trials N --seed 0` do, so each number in summary.json must be
reproduced, exactly, by the corresponding command on the artifacts the demo wrote."""
import json
import subprocess
import sys

import numpy as np
import pytest

SMALL = """
[train]
iterations = 6
[onchip]
trials = 16
epochs = 1
batch_size = 8
[validate]
trials = 12
[bench]
trials = 3
chips = ["loihi2", "reckon"]
[lava]
trials = 1
"""


LEARNING_CHECK = ("on-chip update", "cosine vs float", "norm ratio vs float", "on-chip learning lowered")


def _learning_failure(line: str) -> bool:
    """A validation failure about on-chip learning (the per-matrix update gate), not inference fidelity."""
    return any(k in line for k in LEARNING_CHECK)


def _cli(*args, ok=(0,)):
    p = subprocess.run([sys.executable, "-m", "neurochip.cli.main", *map(str, args)], capture_output=True, text=True,
                       timeout=900)
    assert p.returncode in ok, p.stderr[-3000:]
    return p.stdout, p.stderr, p.returncode


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("main_job")
    (d / "small.toml").write_text(SMALL)
    # exit 4 = validation failed after every output was written (neurochip/cli/demo.py)
    out, err, rc = _cli("demo", "--config", d / "small.toml", "-o", d / "out", "--no-progress", ok=(0, 4))
    assert "neurochip main job summary" in out
    s = json.loads((d / "out" / "summary.json").read_text())
    s["_rc"], s["_stderr"] = rc, err
    return d, d / "out", s


def test_exit_code_follows_validation(demo):
    """The demo fails (exit 4, one line naming every failed check) exactly when validation fails."""
    _, _, s = demo
    v = s["stages"]["validate"]
    assert (s["_rc"] == 4) == (not v["tolerances_passed"]) and (s["_rc"] == 0) == v["tolerances_passed"]
    if s["_rc"] == 4:
        line = [ln for ln in s["_stderr"].splitlines() if ln.startswith("neurochip: error:")]
        assert len(line) == 1 and all(f in line[0] for f in v["tolerance_failures"]), s["_stderr"][-2000:]


def test_outputs_written_and_self_contained(demo):
    _, out, s = demo
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4           # curves, core map, validation, energy
    for name in ("network.npz", "compiled.npz", "compiled_learned.npz", "bench.json", "validate.json",
                 "learning_curve.png", "coremap.png", "energy_breakdown.png"):
        assert (out / name).is_file(), name
    assert set(s["stages"]) == {"train", "compile", "learn on-chip", "learn from scratch", "lava check", "validate",
                                "cost"}
    assert "Learning from random weights on chip" in html and (out / "scratch_curve.png").is_file()


def test_onchip_learning_from_random_weights_learns(demo):
    """The main job's from-scratch stage: an untrained one-cue network compiled for loihi2 learns on chip
    (+0.2 or more, far outside the held-out noise). The demo's draw (seed 0, session 20's lazy decays): 0.508 ->
    0.797, float 0.906. Whether the chip matches float is a statement over draws, not about one of them:
    tests/test_scratch_seeds.py (one draw in ~10 lands below float - 0.1 under either rounding model, measured).
    Mutation: [scratch] lr 2e-3 (updates too small to learn in 320 trials) -> 0.508 -> 0.500, fails."""
    _, out, s = demo
    sc = s["stages"]["learn from scratch"]
    assert sc["enabled"] and "error" not in sc, sc
    assert sc["before"] < 0.65 and sc["after"] - sc["before"] >= 0.2, sc
    assert sc["delta"] > 3 * sc["delta_se"], sc                                # far outside the held-out noise
    r = json.loads((out / "scratch.json").read_text())
    assert r["curve"]["points"][-1]["trials"] == sc["trials"] == 320 and r["chip"] == "loihi2"


def test_chip_passes_validation_against_the_float_reference(demo):
    """The main job's promise: the compiled network behaves like the float one it came from, within the
    configured tolerances, and those tolerances are real ones (not 0 agreement / any accuracy drop)."""
    _, _, s = demo
    v, tol = s["stages"]["validate"], s["config"]["validate"]
    assert tol["spike_agreement"] >= 0.5 and tol["max_accuracy_drop"] <= 0.1    # the defaults, not loosened
    assert [f for f in v["tolerance_failures"] if not _learning_failure(f)] == [], v   # inference fidelity holds
    assert v["spike_agreement"] >= tol["spike_agreement"], v                    # measured 0.63 at this size
    assert v["accuracy_drop"] <= tol["max_accuracy_drop"], v                    # measured 0.0
    assert abs(v["rate_chip_hz"] - v["rate_ref_hz"]) <= 0.1 * v["rate_ref_hz"], v   # measured 15.4 vs 15.5 Hz


def test_reduced_demo_fails_only_on_the_learning_outcome_if_at_all(demo):
    """At this reduced size (6 float iterations, 2 on-chip updates, 12 held-out trials: one trial is 8 points)
    the learning-outcome gate may trip on noise (measured 0.667 -> 0.500, exit 4); inference fidelity and the
    per-matrix update gate must hold. Whether the on-chip step raises accuracy is tested at the demo's full
    default size in tests/test_demo_learning.py."""
    _, _, s = demo
    v = s["stages"]["validate"]
    other = [f for f in v["tolerance_failures"] if not f.startswith("on-chip learning lowered held-out accuracy")]
    assert other == [], v["tolerance_failures"]
    assert s["stages"]["learn on-chip"]["float_continued"]["lr"] == s["stages"]["learn on-chip"]["lr"]


def test_lava_runs_the_learned_artifact_bit_exactly(demo):
    _, _, s = demo
    lc = s["stages"]["lava check"]
    assert lc.get("error") is None and lc["bit_exact"] is True, lc
    assert lc["spikes_identical"] is True and lc["voltages_identical"] is True and lc["readout_identical"] is not False
    # the report names the lava neuron model the check ran (it read a key the backend never wrote: always "")
    assert lc["model"] in ("lava PyLifModelBitAcc", "neurochip lava_models.ChipNeuron"), lc
    # and the printed summary says which (an ALIF network runs our ChipNeuron: not an outside oracle for it)
    from neurochip.pipeline import format_summary_rows
    row = str(format_summary_rows(s)["lava bit-exact"])
    assert row.startswith("True (") and lc["model"] in row, row


def test_compile_quantizes_accurately_and_learning_changes_the_weights(demo):
    _, out, s = demo
    q = s["stages"]["compile"]["quantize_rel_rms_error"]
    assert set(q) == {"in", "rec", "out"} and max(q.values()) < 0.04, q         # measured <= 0.0135 (9-bit mantissas)
    from neurochip.compiler.artifact import CompiledNetwork
    a, b = CompiledNetwork.load(out / "compiled"), CompiledNetwork.load(out / "compiled_learned")
    changed = [f for f in ("w_in", "w_rec", "w_out") if not np.array_equal(getattr(a, f), getattr(b, f))]
    assert changed, "on-chip learning changed no weight"                         # measured: w_in 12, w_rec 223 entries


def test_cost_stage_has_positive_energies_and_learning_cheaper_than_bptt(demo):
    _, _, s = demo
    for c in s["stages"]["cost"]:
        assert c["fits"], c
        for key in ("inference", "learning", "bptt"):
            assert np.isfinite(c[f"{key}_uj_per_trial"]) and c[f"{key}_uj_per_trial"] > 0, (c["chip"], key)
        assert c["bptt_uj_per_trial"] > 2 * c["learning_uj_per_trial"], c          # measured 54x (loihi2), 3.6x (reckon)


def test_compile_command_reproduces_the_artifact(demo):
    d, out, _ = demo
    from neurochip.compiler.artifact import CompiledNetwork
    _cli("compile", out / "network", "--chip", "loihi2", "--rule", "eprop_random", "-o", d / "c2")
    a, b = CompiledNetwork.load(out / "compiled"), CompiledNetwork.load(d / "c2" / "compiled")
    for f in ("w_in", "w_rec", "w_out", "bias_mant", "beta_mant", "core_of", "hops"):
        np.testing.assert_array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)), err_msg=f)
    for f in ("e_in", "e_rec", "e_out", "vth", "dv", "da", "dk", "scale_v", "scale_out"):
        assert getattr(a, f) == getattr(b, f), f


def test_run_command_reproduces_chip_accuracy(demo):
    d, out, s = demo
    st = s["stages"]["learn on-chip"]
    n = s["config"]["validate"]["trials"]
    _cli("run", out / "compiled", "--trials", n, "--seed", 0, "-o", d / "r0")
    r0 = json.loads((d / "r0" / "run.json").read_text())
    assert r0["test"] == st["test_before"]
    _, err, rc = _cli("run", out / "compiled", "--learn", "--trials", st["trials"], "--test-trials", n, "--epochs",
                      st["epochs"], "--batch-size", s["config"]["onchip"]["batch_size"], "--seed", 0, "-o", d / "r1",
                      ok=(0, 4))
    r1 = json.loads((d / "r1" / "run.json").read_text())          # written in both cases
    assert r1["test"] == st["test_after"]
    assert r1["learning"]["curve"] == st["train_curve"]
    # exit 4 exactly when on-chip learning lowered held-out accuracy by more than validate's tolerance
    from neurochip.tolerances import learning_outcome_failures
    assert (rc == 4) == bool(learning_outcome_failures(st["test_before"], st["test_after"])), err


LEARNING_KEYS = ("cosine_eprop", "cosine_bptt", "cosine_float_eprop_vs_bptt", "learning_per_projection",
                 "learning_one_update")


def _validate_cli(demo, name, *extra, options=True, same_verdict=True):
    """``same_verdict``: the run learns what the demo's validate stage learned, so its verdict must be the
    demo's; without the learning amount (--learn-trials ...) it learns on the held-out draw instead, a
    different comparison whose verdict may differ (only the fidelity numbers are compared then)."""
    d, out, s = demo
    n = s["config"]["validate"]["trials"]
    opts = ["--task", "evidence", "--trials", n, "--seed", 0] if options else []
    _, _, rc = _cli("validate", out / "compiled", *opts, "--learn", *extra, "-o", d / name, ok=(0, 4))
    rep = json.loads((d / name / "validate.json").read_text())
    if same_verdict:
        # the same verdict as the demo's validate stage, whose failures also include the on-chip stage's own
        # outcome (held-out accuracy before / after learning), which validate does not measure
        want = [f for f in s["stages"]["validate"]["tolerance_failures"] if "lowered held-out accuracy" not in f]
        assert rep["failures"] == want and (rc == 4) == bool(want), (rep["failures"], want)
    return rep["metrics"]


def _same(v, s, keys):
    for k in keys:
        val = s["stages"]["validate"][k]
        if isinstance(val, (int, float)):
            assert v[k] == pytest.approx(val, rel=1e-12, abs=1e-15, nan_ok=True), k
        elif val is not None:                   # nested records (e.g. per-projection learning) must match exactly
            assert v[k] == val, k


def test_validate_command_reproduces_fidelity(demo):
    _, _, s = demo
    v = _validate_cli(demo, "v", same_verdict=False)
    _same(v, s, [k for k in s["stages"]["validate"] if not k.startswith("tolerance") and k not in LEARNING_KEYS])


def test_validate_command_reproduces_the_learning_comparison(demo):
    """The demo's validate stage compares the update accumulated over the on-chip stage's amount of learning
    ([onchip] trials of a 'train' draw x epochs, its batch size); `validate --learn-trials --epochs --batch-size`
    (or --config, which sets them) reproduces every learning number exactly (issue 14; mutation: the CLI's
    learn_batch dropped, i.e. learning on the held-out draw as before -> cosines differ, this fails)."""
    d, _, s = demo
    oc = s["config"]["onchip"]
    v = _validate_cli(demo, "v_learn", "--learn-trials", oc["trials"], "--epochs", oc["epochs"],
                      "--batch-size", oc["batch_size"])
    _same_nan(v, s, LEARNING_KEYS)
    assert (v["learning_trials"], v["learning_epochs"], v["learning_batch_size"]) == \
        (oc["trials"], oc["epochs"], oc["batch_size"])
    # the same from the demo's own config file alone (task, seed, trials, learning amount and tolerances)
    _same_nan(_validate_cli(demo, "v_learn_cfg", "--config", d / "small.toml", options=False), s, LEARNING_KEYS)


def _same_nan(v, s, keys):
    """Exactly equal, NaN equal to NaN (a matrix without update has a NaN cosine in both): compared as the
    JSON text both were written as (floats round-trip exactly)."""
    for k in keys:
        assert k in v and json.dumps(v[k], sort_keys=True) == json.dumps(s["stages"]["validate"][k], sort_keys=True), k

def test_bench_command_reproduces_energy(demo):
    d, out, s = demo
    bc = s["config"]["bench"]
    _cli("bench", out / "compiled_learned", "--chip", ",".join(bc["chips"]), "--learn", "--compare", "bptt",
         "--task", "evidence", "--trials", bc["trials"], "--seed", 0, "--approximate", "auto", "-o", d / "b")
    b = {r["chip"]: r for r in json.loads((d / "b" / "bench.json").read_text())["chips"]}
    for c in s["stages"]["cost"]:
        assert c["fits"]
        r = b[c["chip"]]
        assert ("reckon" == c["chip"]) == bool(c["approximations"])   # ReckOn has no ALIF, no refractory period
        for key in ("inference", "learning", "bptt"):
            assert r[key]["per_trial_uj"] == pytest.approx(c[f"{key}_uj_per_trial"], rel=1e-12), (c["chip"], key)


def test_second_run_gives_identical_numbers(demo):
    d, _, s = demo
    _, _, rc = _cli("demo", "--config", d / "small.toml", "-o", d / "again", "--no-progress", ok=(0, 4))
    assert rc == s["_rc"]
    s2 = json.loads((d / "again" / "summary.json").read_text())
    assert s2["stages"] == s["stages"]
