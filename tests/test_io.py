"""Bundles: round trip is exact; every kind of corruption is refused with ArtifactError; writes atomic."""
import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from neurochip.errors import ArtifactError
from neurochip.io import load_bundle, save_bundle, staged_output_dir

dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.float32, np.float64, np.bool_, np.uint8])


@settings(max_examples=40, deadline=None)
@given(arrs=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                            dtypes.flatmap(lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5))),
                            max_size=4),
       meta=st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.booleans()), max_size=3))
def test_round_trip_exact(tmp_path_factory, arrs, meta):
    stem = tmp_path_factory.mktemp("b") / "x"
    save_bundle(stem, "thing", 3, arrs, meta)
    back, m = load_bundle(stem, "thing", 3)
    assert set(back) == set(arrs)
    for k in arrs:
        assert back[k].dtype == arrs[k].dtype and back[k].shape == arrs[k].shape
        np.testing.assert_array_equal(back[k], arrs[k])
    assert m == meta


def _saved(tmp_path):
    stem = tmp_path / "net"
    save_bundle(stem, "network", 1, {"w": np.arange(100, dtype=np.int32).reshape(10, 10)}, {"a": 1})
    return stem


def test_missing_json(tmp_path):
    stem = _saved(tmp_path)
    (tmp_path / "net.json").unlink()
    with pytest.raises(ArtifactError, match="not found"):
        load_bundle(stem, "network", 1)


def test_truncated_npz(tmp_path):
    stem = _saved(tmp_path)
    p = tmp_path / "net.npz"
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.raises(ArtifactError):
        load_bundle(stem, "network", 1)


def test_altered_array(tmp_path):
    stem = _saved(tmp_path)
    arrays = {"w": np.arange(100, dtype=np.int32).reshape(10, 10)}
    arrays["w"][3, 3] = 7777
    buf = io.BytesIO(); np.savez(buf, **arrays)
    (tmp_path / "net.npz").write_bytes(buf.getvalue())
    with pytest.raises(ArtifactError, match="sha256"):
        load_bundle(stem, "network", 1)


def test_flipped_byte_detected(tmp_path):
    stem = _saved(tmp_path)
    p = tmp_path / "net.npz"
    b = bytearray(p.read_bytes())
    b[len(b) // 3] ^= 0xFF
    p.write_bytes(bytes(b))
    with pytest.raises(ArtifactError):
        load_bundle(stem, "network", 1)


def test_foreign_schema_and_kind(tmp_path):
    stem = _saved(tmp_path)
    with pytest.raises(ArtifactError, match="schema version"):
        load_bundle(stem, "network", 2)
    with pytest.raises(ArtifactError, match="expected a 'compiled'"):
        load_bundle(stem, "compiled", 1)
    m = json.loads((tmp_path / "net.json").read_text())
    m["format"] = "something-else"
    (tmp_path / "net.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="not a neurochip bundle"):
        load_bundle(stem, "network", 1)


def test_pickle_bearing_npz_refused(tmp_path):
    stem = _saved(tmp_path)
    buf = io.BytesIO()
    np.savez(buf, w=np.array([{"evil": 1}], dtype=object))
    (tmp_path / "net.npz").write_bytes(buf.getvalue())
    with pytest.raises(ArtifactError):
        load_bundle(stem, "network", 1)


def test_object_arrays_not_saved(tmp_path):
    with pytest.raises(ArtifactError, match="dtype object"):
        save_bundle(tmp_path / "x", "k", 1, {"a": np.array([None], dtype=object)}, {})


def test_not_a_zip(tmp_path):
    stem = _saved(tmp_path)
    (tmp_path / "net.npz").write_bytes(b"hello, not a zip")
    with pytest.raises(ArtifactError, match="truncated or not an npz"):
        load_bundle(stem, "network", 1)


def test_staged_output_dir_is_all_or_nothing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with staged_output_dir(out) as d:
            (d / "a.txt").write_text("half")
            raise RuntimeError("boom")
    assert not out.exists()
    assert not any(p.name.startswith(".run.partial") for p in tmp_path.iterdir())
    with staged_output_dir(out) as d:
        (d / "a.txt").write_text("whole")
    assert (out / "a.txt").read_text() == "whole"
    with pytest.raises(ArtifactError, match="not empty"):
        with staged_output_dir(out):
            pass
    with staged_output_dir(out, force=True) as d:
        (d / "b.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]


# --- issue 14: the manifest digest covers every setting; the float Network bundle is checked too ---------

def _redigest(json_path, m):
    from neurochip.io import manifest_digest
    m["digest"] = manifest_digest(m)
    json_path.write_text(json.dumps(m))


@settings(max_examples=30, deadline=None)
@given(path=st.sampled_from([("meta", "a"), ("meta", "new"), ("kind",), ("schema",), ("arrays", "w", "shape"),
                             ("arrays", "w", "dtype")]),
       value=st.one_of(st.integers(), st.text(max_size=4), st.none(), st.floats(allow_nan=False)))
def test_any_manifest_edit_breaks_the_digest(tmp_path_factory, path, value):
    tmp = tmp_path_factory.mktemp("d")
    stem = _saved(tmp)
    j = tmp / "net.json"
    m = json.loads(j.read_text())
    d = m
    for k in path[:-1]:
        d = d[k]
    if d.get(path[-1], object()) == value:
        return  # not an edit
    d[path[-1]] = value
    j.write_text(json.dumps(m))
    with pytest.raises(ArtifactError):
        load_bundle(stem, "network", 1)


def test_manifest_without_digest_refused(tmp_path):
    stem = _saved(tmp_path)
    m = json.loads((tmp_path / "net.json").read_text())
    del m["digest"]
    (tmp_path / "net.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="no digest"):
        load_bundle(stem, "network", 1)


def test_manifest_dtype_shape_must_match(tmp_path):
    stem = _saved(tmp_path)
    j = tmp_path / "net.json"
    m = json.loads(j.read_text())
    m["arrays"]["w"]["shape"] = [100]
    _redigest(j, m)
    with pytest.raises(ArtifactError, match="manifest says"):
        load_bundle(stem, "network", 1)


@pytest.fixture()
def saved_net(tmp_path):
    from neurochip.network import NeuronParams, init_network
    init_network(3, 6, 2, NeuronParams(kind="alif"), seed=0).save(tmp_path / "network")
    return tmp_path / "network"


@pytest.mark.parametrize("key,value,needle", [("tau_m", 40.0, "digest"), ("tau_m", -5.0, "tau_m"),
                                              ("gamma_pd", "x", "gamma_pd"), ("kind", "hh", "kind"),
                                              ("n_ref", 2.5, "n_ref"), ("scaled_input", "yes", "scaled_input"),
                                              ("surprise", 1, "surprise")])
def test_network_bundle_settings_checked(saved_net, key, value, needle):
    """A float Network bundle whose params were edited (and the manifest digest recomputed) is refused:
    by validation when the value is out of range, by the network digest when it is merely different."""
    from neurochip.network import Network
    j = saved_net.with_suffix(".json")
    m = json.loads(j.read_text())
    m["meta"]["params"][key] = value
    _redigest(j, m)
    with pytest.raises(ArtifactError, match=needle):
        Network.load(saved_net)


def test_network_path_forms(saved_net):
    from neurochip.network import Network
    a = Network.load(saved_net)
    for form in (saved_net.parent, saved_net.with_suffix(".npz"), saved_net.with_suffix(".json")):
        assert Network.load(form).digest() == a.digest()
