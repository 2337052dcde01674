"""CompiledNetwork save/load: exact round trip (hypothesis) and every corruption refused with ArtifactError."""
import dataclasses
import io
import json
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from neurochip.compiler import CompiledNetwork, CompileOptions, compile, compile_sparse
from neurochip.errors import ArtifactError
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule

from neurochip.io import _sha, manifest_digest

from cc_helpers import PROFILES, sparse_net


def assert_same(a: CompiledNetwork, b: CompiledNetwork):
    for f in dataclasses.fields(CompiledNetwork):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), f.name
        elif sp.issparse(x):
            assert sp.issparse(y) and x.dtype == y.dtype and x.shape == y.shape
            assert np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices) and np.array_equal(x.data, y.data), f.name
        elif f.name == "rule" and x is not None:
            assert type(x) is type(y)
            for rf in dataclasses.fields(x):
                u, v = getattr(x, rf.name), getattr(y, rf.name)
                if isinstance(u, np.ndarray):
                    assert u.dtype == v.dtype and np.array_equal(u, v), rf.name
                else:
                    assert type(u) is type(v) and u == v, rf.name
        elif dataclasses.is_dataclass(x):
            assert type(x) is type(y) and x == y, f.name
        else:
            assert type(x) is type(y) and x == y, f.name


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(n_in=st.integers(1, 6), n_rec=st.integers(2, 40), n_out=st.integers(1, 3), p_rec=st.floats(0.1, 1.0),
       kind=st.sampled_from(["lif", "alif"]), prof=st.sampled_from(PROFILES), rounding=st.sampled_from(["nearest", "stochastic"]),
       seed=st.integers(0, 99), sparse=st.booleans(), with_rule=st.booleans())
def test_round_trip_exact(tmp_path_factory, n_in, n_rec, n_out, p_rec, kind, prof, rounding, seed, sparse, with_rule):
    net = init_network(n_in, n_rec, n_out, NeuronParams(kind=kind), p_rec=p_rec, seed=seed)
    o = CompileOptions.make(rounding=rounding, seed=seed, approximate=("reset", "adaptation", "refractory"))
    from neurochip.chips import load_profile
    elig = load_profile(prof).learning.eligibility
    rule = LearningRule(eligibility=elig[0]) if with_rule and elig else None
    if sparse:
        from neurochip.compiler import SparseNetwork
        m = sp.csr_matrix(net.rec_mask.astype(float))
        m.data[:] = net.w_rec[net.rec_mask]
        cn = compile_sparse(SparseNetwork(net.params, net.w_in, m, net.w_out, net.b_out, net.B, net.beta), prof, rule, options=o)
    else:
        cn = compile(net, prof, rule, options=o)
    stem = tmp_path_factory.mktemp("art") / "c"
    cn.save(stem)
    back = CompiledNetwork.load(stem)
    assert_same(cn, back)
    back.save(stem.with_name("c2"))  # and a second generation is byte-identical in its arrays
    assert_same(back, CompiledNetwork.load(stem.with_name("c2")))


@pytest.fixture()
def saved(tmp_path, small_net):
    cn = compile(small_net, "loihi2")
    stem = tmp_path / "compiled"
    cn.save(stem)
    return stem


def test_missing_json(saved):
    saved.with_suffix(".json").unlink()
    with pytest.raises(ArtifactError, match="not found"):
        CompiledNetwork.load(saved)


def test_missing_npz(saved):
    saved.with_suffix(".npz").unlink()
    with pytest.raises(ArtifactError):
        CompiledNetwork.load(saved)


@pytest.mark.parametrize("frac", [0.0, 0.3, 0.9])
def test_truncated_npz(saved, frac):
    p = saved.with_suffix(".npz")
    data = p.read_bytes()
    p.write_bytes(data[:int(len(data) * frac)])
    with pytest.raises(ArtifactError):
        CompiledNetwork.load(saved)


@pytest.mark.parametrize("where", [0.2, 0.5, 0.8])
def test_flipped_byte(saved, where):
    p = saved.with_suffix(".npz")
    data = bytearray(p.read_bytes())
    i = int(len(data) * where)
    data[i] ^= 0x40
    p.write_bytes(bytes(data))
    with pytest.raises(ArtifactError):
        CompiledNetwork.load(saved)


def test_altered_array_with_valid_zip(saved):
    # Rewrite one array consistently at the zip level: only the manifest's sha256 can catch it.
    p = saved.with_suffix(".npz")
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["w_rec"] = arrays["w_rec"].copy()
    arrays["w_rec"].flat[1] += 1
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    p.write_bytes(buf.getvalue())
    with pytest.raises(ArtifactError, match="sha256"):
        CompiledNetwork.load(saved)


def test_foreign_schema(saved):
    j = saved.with_suffix(".json")
    m = json.loads(j.read_text())
    m["schema"] = 999
    j.write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="schema"):
        CompiledNetwork.load(saved)


def test_foreign_kind(saved):
    j = saved.with_suffix(".json")
    m = json.loads(j.read_text())
    m["kind"] = "network"
    j.write_text(json.dumps(m))
    with pytest.raises(ArtifactError):
        CompiledNetwork.load(saved)


def test_pickle_bearing_npz(saved):
    p = saved.with_suffix(".npz")
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["w_rec"] = np.array([{"evil": 1}, None], dtype=object)  # needs pickle to load
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    p.write_bytes(buf.getvalue())
    with pytest.raises(ArtifactError):
        CompiledNetwork.load(saved)


def test_field_missing_from_manifest(saved):
    j = saved.with_suffix(".json")
    m = json.loads(j.read_text())
    del m["meta"]["fields"]["vth"]
    j.write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="digest"):
        CompiledNetwork.load(saved)
    m["digest"] = manifest_digest(m)  # a deliberate edit with the digest recomputed: the field check catches it
    j.write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="vth"):
        CompiledNetwork.load(saved)


def test_not_json(saved):
    saved.with_suffix(".json").write_text("{not json")
    with pytest.raises(ArtifactError):
        CompiledNetwork.load(saved)


def test_provenance(small_net):
    cn = compile(small_net, "loihi1", options=CompileOptions.make(approximate=("reset",)))
    pv = cn.provenance
    assert pv["network_digest"] == small_net.digest() and pv["profile_name"] == "loihi1"
    assert pv["profile_path"].endswith("loihi1.toml") and pv["compiler_version"] and pv["utc_time"].endswith("+00:00")
    assert pv["options"]["check"]["approximate"] == ["reset"]


# --- issue 14: artifacts cannot change silently ------------------------------------------------------------
# Two layers: the manifest digest refuses any edit; a deliberate edit that also recomputes every checksum
# and the digest ("redigest") is refused by the range checks of compiler.artifact_checks.check_artifact.

def _edit(stem, meta_fn=None, arrays_fn=None, redigest=True):
    """Edit a saved artifact: meta_fn(fields_meta, manifest) edits the JSON, arrays_fn(arrays) the npz (its
    sha256 entries recomputed); with redigest the manifest digest is recomputed too (a determined editor)."""
    j, p = stem.with_suffix(".json"), stem.with_suffix(".npz")
    m = json.loads(j.read_text())
    if meta_fn is not None:
        meta_fn(m["meta"]["fields"], m)
    if arrays_fn is not None:
        with np.load(p) as z:
            arrays = {k: z[k] for k in z.files}
        arrays_fn(arrays)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        p.write_bytes(buf.getvalue())
        for k, a in arrays.items():
            m["arrays"][k] = {"sha256": _sha(a), "dtype": a.dtype.str, "shape": list(a.shape)}
    if redigest:
        m["digest"] = manifest_digest(m)
    j.write_text(json.dumps(m))


def _set(field, value):
    def fn(fm, m):
        fm[field] = {"value": value}
    return fn


def _profile(key, value):
    def fn(fm, m):
        fm["profile"]["__profile__"]["format"][key] = value
    return fn


def _big_mantissa(arrays):
    arrays["w_rec"] = arrays["w_rec"].copy()
    arrays["w_rec"][0, 1] = 10**7


def _n_rec(fm, m):
    fm["n_rec"]["value"] += 1


EDITS = {  # the issue's edits, each with what the refusal must name
    "threshold": (_set("vth", 9000), None, None),               # inside its width: only the digest can tell
    "threshold past its width": (_set("vth", 1 << 17), None, "vth"),
    "dv 5000 past 4095": (_set("dv", 5000), None, "dv"),
    "profile weight_bits 9 -> 3": (_profile("weight_bits", 3), None, "w_"),
    "threshold as a string": (_set("vth", "8191"), None, "vth"),
    "mantissa 10^7 with a matching array checksum": (None, _big_mantissa, "w_rec"),
    "changed n_rec": (_n_rec, None, "shape"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_issue_edits_refused_by_the_digest(saved, name):
    meta_fn, arrays_fn, _ = EDITS[name]
    _edit(saved, meta_fn, arrays_fn, redigest=False)
    with pytest.raises(ArtifactError, match="digest"):
        CompiledNetwork.load(saved)


@pytest.mark.parametrize("name", [k for k, v in EDITS.items() if v[2]])
def test_issue_edits_refused_by_the_range_checks(saved, name):
    meta_fn, arrays_fn, needle = EDITS[name]
    _edit(saved, meta_fn, arrays_fn, redigest=True)
    with pytest.raises(ArtifactError, match=needle) as ei:
        CompiledNetwork.load(saved)
    assert "\n" not in str(ei.value)


def test_unedited_and_redigested_artifact_loads(saved):
    _edit(saved, None, None, redigest=True)  # the helper itself does not break a good artifact
    CompiledNetwork.load(saved)


# (field, lowest allowed, highest allowed) for loihi2 (12-bit decays, 17-bit thresholds, exponents [-8, 7])
RANGED = [("du", 0, 4095), ("dv", 0, 4095), ("da", 0, 4095), ("dk", 0, 4095), ("vth", 0, (1 << 17) - 1),
          ("e_in", -8, 7), ("e_rec", -8, 7), ("e_out", -8, 7), ("n_ref", 1, 1 << 16)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(i=st.integers(0, len(RANGED) - 1), over=st.integers(1, 10**9), below=st.booleans())
def test_scalar_outside_its_format_refused(saved_loihi2, i, over, below):
    field, lo, hi = RANGED[i]
    stem = saved_loihi2()
    _edit(stem, _set(field, lo - over if below else hi + over))
    with pytest.raises(ArtifactError, match=field):
        CompiledNetwork.load(stem)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(proj=st.sampled_from(["w_in", "w_rec", "w_out"]), over=st.integers(1, 2**30), below=st.booleans())
def test_weight_mantissa_outside_its_format_refused(saved_loihi2, proj, over, below):
    stem = saved_loihi2()

    def fn(arrays):
        arrays[proj] = arrays[proj].copy()
        arrays[proj].flat[0] = -256 - over if below else 255 + over   # loihi2: 9-bit mantissas [-256, 255]
    _edit(stem, None, fn)
    with pytest.raises(ArtifactError, match=proj):
        CompiledNetwork.load(stem)


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True)
                           | st.text(max_size=6), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                           max_leaves=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_manifest_edit_is_one_artifact_error(saved_loihi2, data):
    """Replace one field's manifest entry (or its value) with any JSON value: without the digest it is
    refused; with a recomputed digest the load either refuses with ArtifactError or returns an artifact whose
    values are all in format -- never another exception (no traceback reaches a user)."""
    stem = saved_loihi2()
    fm = json.loads(stem.with_suffix(".json").read_text())["meta"]["fields"]
    field = data.draw(st.sampled_from(sorted(fm)))
    v = data.draw(json_values)
    whole = data.draw(st.booleans())

    def fn(fields_meta, m):
        if whole or not isinstance(fields_meta[field], dict) or "value" not in fields_meta[field]:
            fields_meta[field] = v
        else:
            fields_meta[field]["value"] = v
    # an "edit" that writes the value already there (e.g. None into plasticity = None) changes nothing
    after = json.loads(json.dumps(fm))
    fn(after, None)
    assume(after[field] != fm[field])
    redigest = data.draw(st.booleans())
    _edit(stem, fn, None, redigest=redigest)
    if not redigest:
        with pytest.raises(ArtifactError, match="digest"):
            CompiledNetwork.load(stem)
        return
    try:
        cn = CompiledNetwork.load(stem)
    except ArtifactError as e:
        assert "\n" not in str(e)
        return
    from neurochip.compiler.artifact_checks import artifact_problems
    assert artifact_problems(cn) == []


@pytest.fixture()
def saved_loihi2(tmp_path, small_net):
    """A factory of fresh copies of one saved loihi2 artifact with an on-chip rule (hypothesis examples
    each get their own copy)."""
    import itertools
    import shutil
    cn = compile(small_net, "loihi2", LearningRule("eprop_random"))
    base = tmp_path / "base"
    cn.save(base)
    counter = itertools.count()

    def make():
        stem = tmp_path / f"c{next(counter)}"
        for suf in (".npz", ".json"):
            shutil.copy(base.with_suffix(suf), stem.with_suffix(suf))
        return stem
    return make


def test_path_forms(saved):
    """A compile output directory, the stem, <stem>.npz and <stem>.json all name the same artifact."""
    a = CompiledNetwork.load(saved)
    for form in (saved.parent, saved.with_suffix(".npz"), saved.with_suffix(".json")):
        assert_same(a, CompiledNetwork.load(form))


# --- issue 12: the quantiser's decisions are saved (w_lsb, scale_a), never recomputed downstream ---------------

def test_quantiser_decisions_saved_and_read(small_net, tmp_path):
    """w_lsb is the quantiser's own ProjQuant.lsb (bit for bit), scale_a its adaptation scale; both survive a
    round trip, the compiled rule carries the same LSBs, and dequantize reads them."""
    from neurochip.compiler.quantize import quantize
    from neurochip.validate import dequantize
    seen = {}
    cn = compile(small_net, "loihi2", LearningRule("eprop_symmetric"), callback=lambda n, x: seen.setdefault(n, x))
    q = seen["quantize"]
    assert cn.w_lsb.tolist() == [q.w_in.lsb, q.w_rec.lsb, q.w_out.lsb]
    assert cn.scale_a == q.scale_a and cn.scale_a > 1          # small_net is ALIF: a real adaptation scale
    assert np.array_equal(cn.rule.w_lsb, cn.w_lsb)
    q2 = quantize(seen["graph"], cn.profile, reset=cn.reset)     # an independent quantiser run agrees
    assert q2.scale_a == cn.scale_a
    cn.save(tmp_path / "c")
    back = CompiledNetwork.load(tmp_path / "c")
    assert back.w_lsb.tolist() == cn.w_lsb.tolist() and back.scale_a == cn.scale_a
    for i, n in enumerate(("w_in", "w_rec", "w_out")):
        assert np.array_equal(dequantize(back, n, getattr(back, n)), getattr(back, n) * cn.w_lsb[i])
    with pytest.raises(Exception, match="unknown projection"):
        back.weight_lsb("w_bias")


def _drop_decisions(drop_report: bool):
    def fn(fm, m):
        del fm["w_lsb"], fm["scale_a"]
        del m["arrays"]["w_lsb"]
        if drop_report:
            del fm["report"]["value"]["quantize"]["projections"]["rec"]["lsb"]
    return fn


def test_older_artifact_gets_decisions_from_its_report(saved):
    """An artifact saved before w_lsb / scale_a were fields: derived once from its own report (covered by the
    digest); without them in the report it is refused with one line naming what is missing."""
    want = CompiledNetwork.load(saved)
    _edit(saved, _drop_decisions(False), lambda a: a.pop("w_lsb"))
    old = CompiledNetwork.load(saved)
    assert old.w_lsb.tolist() == want.w_lsb.tolist() and old.scale_a == want.scale_a


def test_older_artifact_without_decisions_refused(saved):
    _edit(saved, _drop_decisions(True), lambda a: a.pop("w_lsb"))
    with pytest.raises(ArtifactError, match="predates the saved quantiser decisions"):
        CompiledNetwork.load(saved)


def _scale_lsb(k):
    def fn(arrays):
        arrays["w_lsb"] = arrays["w_lsb"].copy()
        arrays["w_lsb"][k] *= 2.0
    return fn


@pytest.mark.parametrize("k", [0, 1, 2])
def test_edited_lsb_refused(saved, saved_loihi2, k):
    """A doubled LSB (checksums and digest recomputed) disagrees with its exponent and scale (no rule) and
    with the compiled rule's copy (with a rule): refused."""
    _edit(saved, None, _scale_lsb(k))
    with pytest.raises(ArtifactError, match=r"w_lsb\[w_(in|rec|out)\] = .* disagrees with its exponent"):
        CompiledNetwork.load(saved)
    stem = saved_loihi2()
    _edit(stem, None, _scale_lsb(k))
    with pytest.raises(ArtifactError, match="w_lsb"):
        CompiledNetwork.load(stem)


def test_edited_scale_a_refused(saved):
    _edit(saved, _set("scale_a", 3.0))
    with pytest.raises(ArtifactError, match="scale_a"):
        CompiledNetwork.load(saved)
    _edit(saved, _set("scale_a", 2.0 ** 40))
    with pytest.raises(ArtifactError, match="scale_a"):
        CompiledNetwork.load(saved)
