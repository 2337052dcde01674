"""Atomic, pickle-free storage of named numpy arrays with a JSON manifest.

A bundle ``<stem>`` is two files: ``<stem>.npz`` (numpy arrays, ``allow_pickle=False``) and
``<stem>.json`` (manifest: ``format``, ``schema``, ``kind``, per-array ``sha256``/``dtype``/``shape``,
free ``meta`` and ``digest``). ``digest`` is the sha256 of the canonical JSON (sorted keys, no
whitespace, see `manifest_digest`) of everything else in the manifest, per-array checksums included,
so no setting in ``meta`` (thresholds, decays, the embedded chip profile, sizes) and no array can change
without the load noticing. It is an integrity check, not a signature: someone who edits a value on
purpose can recompute it, which is why loaders also range-check every value against its format
(``compiler/artifact.py``, ``neurochip/network.py``). ``load_bundle`` verifies everything and raises
`ArtifactError` on a missing, truncated, altered, foreign-kind, foreign-schema or object/pickle-bearing
file. Writes go to a
temporary file in the same directory followed by ``os.replace``, so a crash or Ctrl-C never leaves a
half-written file under the final name.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ArtifactError

FORMAT = "neurochip-bundle"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same directory, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 & ~umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_figure(fig, path: str | os.PathLike | None, dpi: float | None = None, **savefig_kw) -> bytes:
    """Render matplotlib figure ``fig`` as PNG at ``dpi`` (dots per inch; None: matplotlib's default), close it,
    and write the bytes to ``path`` atomically (`atomic_write_bytes`) when a path is given. Extra keywords go to
    ``Figure.savefig`` (e.g. ``bbox_inches='tight'``). Returns the PNG bytes."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", **({"dpi": dpi} if dpi is not None else {}), **savefig_kw)
    finally:
        plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        atomic_write_bytes(path, data)
    return data


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (numpy scalars/arrays converted)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _sha(a: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(a.dtype.str).encode())
    h.update(str(a.shape).encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _canonical(obj: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, ASCII, numpy values as plain JSON."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_json_default)


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 (hex) over the canonical JSON of the manifest without its ``digest`` entry."""
    body = {k: v for k, v in manifest.items() if k != "digest"}
    return hashlib.sha256(_canonical(body).encode("ascii")).hexdigest()


def bundle_paths(stem: str | os.PathLike) -> tuple[Path, Path]:
    """Return (npz path, json path) for a bundle stem; accepts a stem or either file name."""
    p = Path(stem)
    if p.suffix in (".npz", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".npz"), p.with_suffix(".json")


def resolve_bundle(path: str | os.PathLike, names: tuple[str, ...]) -> Path:
    """The bundle stem named by ``path`` in any accepted form: the stem itself, ``<stem>.npz``,
    ``<stem>.json``, or a directory holding ``<name>.json`` for the first of ``names`` present (e.g. a
    ``neurochip compile`` output directory and ``compiled``). Every command takes these same forms."""
    p = Path(path)
    if p.is_dir():
        for n in names:
            if (p / f"{n}.json").is_file() or (p / f"{n}.npz").is_file():
                return p / n
        raise ArtifactError(f"{p}: directory holds no {' or '.join(n + '.json' for n in names)} "
                            f"(give the bundle as <dir>/<name>, <name>.npz or <name>.json)")
    if p.suffix in (".npz", ".json"):
        p = p.with_suffix("")
    return p


def save_bundle(stem: str | os.PathLike, kind: str, schema: int, arrays: dict[str, np.ndarray],
                meta: dict[str, Any]) -> Path:
    """Save ``arrays`` + ``meta`` as bundle ``stem`` of ``kind`` at ``schema`` version. Returns npz path."""
    npz_path, json_path = bundle_paths(stem)
    clean: dict[str, np.ndarray] = {}
    for k, a in arrays.items():
        a = np.asarray(a)
        if a.dtype == object:
            raise ArtifactError(f"array '{k}' has dtype object; bundles hold numeric arrays only")
        clean[k] = a
    buf = io.BytesIO()
    np.savez(buf, **clean)
    manifest = {
        "format": FORMAT, "kind": kind, "schema": schema,
        "arrays": {k: {"sha256": _sha(a), "dtype": a.dtype.str, "shape": list(a.shape)} for k, a in clean.items()},
        "meta": meta,
    }
    # Round trip through JSON first, so the digest is computed over exactly what a load will read back.
    manifest = json.loads(json.dumps(manifest, default=_json_default))
    manifest["digest"] = manifest_digest(manifest)
    # npz first, manifest last: a manifest only exists for a fully written npz.
    atomic_write_bytes(npz_path, buf.getvalue())
    write_json(json_path, manifest)
    return npz_path


def load_bundle(stem: str | os.PathLike, kind: str, schema: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load and verify a bundle. Returns (arrays, meta). Raises `ArtifactError` on any mismatch."""
    npz_path, json_path = bundle_paths(stem)
    for p in (npz_path, json_path):
        if not p.is_file():
            raise ArtifactError(f"{p}: file not found (a {kind} is saved as <name>.npz + <name>.json)")
    try:
        manifest = json.loads(json_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{json_path}: manifest is not valid JSON ({e.__class__.__name__}: {e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{json_path}: not a neurochip bundle (format={manifest.get('format') if isinstance(manifest, dict) else None!r})")
    if manifest.get("kind") != kind:
        raise ArtifactError(f"{json_path}: holds a '{manifest.get('kind')}', expected a '{kind}'")
    if manifest.get("schema") != schema:
        raise ArtifactError(f"{json_path}: schema version {manifest.get('schema')!r}, this neurochip reads version {schema}")
    if not isinstance(manifest.get("digest"), str):
        raise ArtifactError(f"{json_path}: manifest has no digest (written by an older neurochip, or edited); "
                            f"re-create it with this version")
    if manifest_digest(manifest) != manifest["digest"]:
        raise ArtifactError(f"{json_path}: manifest does not match its digest (a setting or checksum was edited "
                            f"after saving); re-create the file instead of editing it")
    expected = manifest.get("arrays")
    if not isinstance(expected, dict) or not all(isinstance(v, dict) for v in expected.values()):
        raise ArtifactError(f"{json_path}: manifest has no valid array table")
    meta = manifest.get("meta", {})
    if not isinstance(meta, dict):
        raise ArtifactError(f"{json_path}: manifest 'meta' must be a JSON object, got {type(meta).__name__}")
    try:
        with zipfile.ZipFile(npz_path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise ArtifactError(f"{npz_path}: member {bad} is corrupt (CRC mismatch)")
        with np.load(npz_path, allow_pickle=False) as z:
            names = set(z.files)
            if names != set(expected):
                raise ArtifactError(f"{npz_path}: arrays {sorted(names ^ set(expected))} differ from the manifest")
            arrays = {k: z[k] for k in z.files}
    except ArtifactError:
        raise
    except ValueError as e:  # numpy refuses object arrays without pickle
        raise ArtifactError(f"{npz_path}: refused to load ({e}); pickled content is never loaded") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise ArtifactError(f"{npz_path}: truncated or not an npz archive ({e.__class__.__name__}: {e})") from None
    for k, a in arrays.items():
        info = expected[k]
        if info.get("dtype") != a.dtype.str or info.get("shape") != list(a.shape):
            raise ArtifactError(f"{npz_path}: array '{k}' is {a.dtype.str} {list(a.shape)} but the manifest says "
                                f"{info.get('dtype')} {info.get('shape')}")
        if _sha(a) != info.get("sha256"):
            raise ArtifactError(f"{npz_path}: array '{k}' does not match its sha256 in the manifest (altered file)")
    return arrays, meta


class staged_output_dir:
    """Context manager that builds an output directory atomically.

    Everything is written into a hidden sibling ``.<name>.partial-<pid>``; on success it replaces
    ``path`` in one rename, so an error or Ctrl-C leaves no half-written output under ``path``. An
    existing non-empty ``path`` is refused unless ``force`` (then it is replaced whole, never in part)::

        with staged_output_dir("out/run", force=False) as d:
            write_json(d / "metrics.json", ...)
    """

    def __init__(self, path: str | os.PathLike, force: bool = False):
        self.path = Path(path)
        self.force = force
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        import shutil
        if self.path.exists() and not self.path.is_dir():
            raise ArtifactError(f"output path {self.path} exists and is not a directory")
        if self.path.is_dir() and any(self.path.iterdir()) and not self.force:
            raise ArtifactError(f"output directory {self.path} exists and is not empty; choose another -o or pass --force to replace it whole")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.parent / f".{self.path.name}.partial-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        import shutil
        if self.tmp is None:
            return False
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if self.path.exists():
            old = self.path.parent / f".{self.path.name}.old-{os.getpid()}"
            os.replace(self.path, old)
            os.replace(self.tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.path)
        return False
