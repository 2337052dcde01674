"""CompiledNetwork save/load: exact round trip (hypothesis) and every corruption refused with ArtifactError."""
import dataclasses
import io
import json
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings, strategies as st

from neurochip.compiler import CompiledNetwork, CompileOptions, compile, compile_sparse
from neurochip.errors import ArtifactError
from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule

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
