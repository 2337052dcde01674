"""Run a sweep's points on a local process pool or on Ray, one atomic result file per point, resumable.

Output folder::

    OUT/sweep.json            the spec (and its digest); a folder made by another spec is refused
    OUT/points/<id>.json      one finished point: {"point": {...}, "result": {...}} (written atomically)
    OUT/points/<id>.error     the one-line error of a failed point (retried by the next run)
    OUT/summary.csv|json|png  the table, statistics and plots of the finished points (`summary`)

A re-run with the same spec skips every point whose result file exists (resume after Ctrl-C or a crash;
a point is either whole or absent). Executors are well-kept libraries, never a home-made scheduler:
``concurrent.futures.ProcessPoolExecutor`` (spawned workers; no setup) and Ray (``ray.init(address)``;
``address='local'`` starts a local Ray instance on this machine).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

from ..errors import BackendError, ConfigError, NeurochipError
from ..io import atomic_write_text, write_json
from .spec import Point, SweepSpec, expand

EXECUTORS = ("local", "ray")


def _work(kind: str, cfg: dict) -> tuple[bool, Any]:
    """Worker entry: (True, result) or (False, one-line error). Never raises (so a bad point cannot take
    the pool down); the traceback of an unexpected error is summarised in its line."""
    from .point import run_point
    try:
        return True, run_point(kind, cfg)
    except NeurochipError as e:
        return False, " ".join(str(e).split())
    except Exception as e:  # noqa: BLE001 - reported per point, the sweep goes on
        return False, f"{type(e).__name__}: {' '.join(str(e).split())[:500]}"


def point_path(out: Path, p: Point) -> Path:
    return out / "points" / f"{p.id}.json"


def is_done(out: Path, p: Point) -> bool:
    """True when the point's result file exists, parses and belongs to this point."""
    f = point_path(out, p)
    if not f.is_file():
        return False
    try:
        d = json.loads(f.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return d.get("point", {}).get("id") == p.id and isinstance(d.get("result"), dict)


def prepare_outdir(spec: SweepSpec, out: Path, force: bool, extend: bool = False) -> int:
    """Create OUT (or resume it): refuse a folder made by a different spec unless ``force`` (which
    replaces it whole) or ``extend`` (a spec of the same name that grew or changed: its manifest replaces the
    old one, which is kept as ``sweep.<old digest>.json``; finished points are keyed by a digest of their
    whole config, so those the new spec still holds are reused and the others stay on disk, outside the
    summary). Returns the number of point files already in OUT."""
    mf = out / "sweep.json"
    if out.exists() and any(out.iterdir()):
        old = None
        if mf.is_file():
            try:
                old = json.loads(mf.read_text("utf-8"))
            except (OSError, ValueError):
                old = None
        same = isinstance(old, dict) and old.get("digest") == spec.digest
        if not same and extend and isinstance(old, dict) and old.get("name") == spec.name:
            write_json(out / f"sweep.{str(old.get('digest'))[:12]}.json", old)
            write_json(mf, spec.to_dict())
        elif not same:
            if extend:
                was = old.get("name") if isinstance(old, dict) else None
                raise ConfigError(f"--extend: {out} holds sweep {was!r}, not {spec.name!r} (extend needs the same "
                                  f"[sweep] name); use a new folder or --force to replace it")
            if not force:
                raise ConfigError(f"{out} holds another sweep (or other files); use a new folder, --extend to add "
                                  f"this spec's points to it (same [sweep] name; finished points are kept), or "
                                  f"--force to replace it")
            shutil.rmtree(out)
    (out / "points").mkdir(parents=True, exist_ok=True)
    if not mf.is_file():
        write_json(mf, spec.to_dict())
    return len(list((out / "points").glob("*.json")))


def adopt_moved(out: Path, points: list[Point]) -> int:
    """Finished points of an earlier version of the spec whose config is in ``points`` under another index (the
    grid grew or its tables were reordered, so the index prefix of the id moved): each is rewritten under its
    new id (atomically, then the old file is removed). A point id is ``<index>-<digest of kind and config>``,
    so the match is on the digest. Returns how many were adopted."""
    ids = {p.id for p in points}
    by_digest: dict[str, list[Path]] = {}
    for f in (out / "points").glob("*.json"):
        if f.stem not in ids:
            by_digest.setdefault(f.stem.split("-", 1)[-1], []).append(f)
    n = 0
    for p in points:
        if is_done(out, p):
            continue
        same = by_digest.get(p.id.split("-", 1)[-1], [])
        for f in same:
            try:
                d = json.loads(f.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(d.get("result"), dict) or not isinstance(d.get("point"), dict):
                continue
            d["point"].update(index=p.index, id=p.id)
            write_json(point_path(out, p), d)
            f.unlink()
            same.remove(f)
            n += 1
            break
    return n


def _record(out: Path, p: Point, ok: bool, res: Any) -> None:
    err = out / "points" / f"{p.id}.error"
    if ok:
        write_json(point_path(out, p), {"point": {"index": p.index, "id": p.id, "values": p.values,
                                                  "config": p.config}, "result": res})
        err.unlink(missing_ok=True)
    else:
        atomic_write_text(err, str(res) + "\n")


def _stop_workers(ex: ProcessPoolExecutor) -> None:
    """Terminate the pool's worker processes (running points included). ``shutdown(cancel_futures=True)`` drops
    only the queued points: the running ones went on computing, and the main either waited for them or, killed,
    left them orphaned. Python >= 3.14 has ``terminate_workers``; before it, the executor's process table."""
    stop = getattr(ex, "terminate_workers", None)
    if stop is not None:
        stop()
        return
    for proc in list((getattr(ex, "_processes", None) or {}).values()):
        proc.terminate()


def _local(todo, workers, on_done):
    """``ProcessPoolExecutor`` with spawned workers (fresh interpreters: no forked numba/tqdm/lava threads). A
    worker that dies (OOM killer, a crash) breaks the pool, and the sweep ends with that error instead of waiting
    for a result that will not come (``multiprocessing.Pool`` would wait for ever); an interrupt (Ctrl-C, or
    SIGINT to the main alone) stops the running points too (`_stop_workers`)."""
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as ex:
        futs = {ex.submit(_work, p.kind, p.config): p for p in todo}
        try:
            for f in as_completed(futs):
                on_done(futs[f], *f.result())
        except BaseException as e:
            _stop_workers(ex)                   # first: shutdown() drops the executor's process table
            ex.shutdown(wait=False, cancel_futures=True)
            if isinstance(e, BrokenProcessPool):
                raise BackendError("sweep: a worker process died while running a point; the finished points "
                                   "are kept: re-run the same command to resume (out of memory? try fewer "
                                   "--workers)") from None
            raise


def _ray(todo, workers, address, on_done):
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'neurochip[sweep]' (or 'ray')") from None
    started = False
    if not ray.is_initialized():
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(_work)
        refs = {remote.remote(p.kind, p.config): p for p in todo}
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for r in done:
                    on_done(refs.pop(r), *ray.get(r))
        except BaseException:
            for r in refs:
                ray.cancel(r, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


def run_sweep(spec: SweepSpec, outdir: str | os.PathLike, *, executor: str = "local", workers: int | None = None,
              address: str | None = None, force: bool = False, extend: bool = False, progress: bool = True,
              log: Callable[[str], None] = print) -> dict:
    """Run every unfinished point of ``spec`` into ``outdir``; returns the summary (see `summary`).
    ``extend``: accept a folder of the same sweep name made by another version of the spec (see
    `prepare_outdir`)."""
    from .point import check_point
    from .summary import write_summary
    if executor not in EXECUTORS:
        raise ConfigError(f"executor {executor!r}; known: {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")
    if force and extend:
        raise ConfigError("--force replaces the output folder and --extend keeps its finished points: give one")
    workers = workers or os.cpu_count() or 1
    points = expand(spec)
    for p in points:                            # every point checked before any work starts
        try:
            check_point(p.kind, p.config)
        except NeurochipError as e:
            raise ConfigError(f"point {p.id} ({p.values}): {' '.join(str(e).split())}") from None
    out = Path(outdir)
    on_disk = prepare_outdir(spec, out, force, extend)
    if extend:
        moved = adopt_moved(out, points)
        if moved:
            log(f"sweep {spec.name}: {moved} finished point(s) moved to their index in the extended spec")
    todo = [p for p in points if not is_done(out, p)]
    if len(todo) < len(points):
        log(f"sweep {spec.name}: {len(points) - len(todo)} of {len(points)} points already done, running {len(todo)}")
    if on_disk > len(points) - len(todo):
        log(f"sweep {spec.name}: {on_disk - (len(points) - len(todo))} finished point(s) in {out} are not in this "
            f"spec: kept on disk, left out of the summary")
    from tqdm.auto import tqdm
    bar = tqdm(total=len(points), initial=len(points) - len(todo), desc=f"sweep {spec.name}", unit="pt",
               disable=not progress, dynamic_ncols=True)
    failed: list[str] = []

    def on_done(p, ok, res):
        _record(out, p, ok, res)
        if not ok:
            failed.append(f"{p.id}: {res}")
        bar.update(1)

    try:
        if todo:
            if executor == "local":
                _local(todo, workers, on_done)
            else:
                _ray(todo, workers, address or "local", on_done)
    finally:
        bar.close()
    summary = write_summary(spec, out, points)
    summary["failed"] = failed
    return summary
