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
