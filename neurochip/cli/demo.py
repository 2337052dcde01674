"""``neurochip demo``: the main job end to end on the embedded default (or a TOML config).

First run: Numba compiles every kernel the main job calls the first time it is called (cached on disk
afterwards, ``@njit(cache=True)``). On a cold cache that compilation is most of the first run's time, and
the fixed-point kernels (compile, on-chip learning, validate, cost stages) would only be compiled after the
float training. So, unless the cache already holds them, the demo starts a *kernel warm-up*: a second,
low-priority process that runs the same main job on a tiny copy of the config (same neuron kind, rule,
chip and eligibility: the same kernels with the same argument types) into a temporary directory, which
compiles and caches those kernels on the second core while the first trains. The main job then loads them
from the cache. The warm-up writes nothing the user sees, is stopped as soon as the main job ends (or
fails, or is interrupted), and is off with ``--no-warmup`` or ``NEUROCHIP_NO_WARMUP=1``.
"""
from __future__ import annotations

import argparse
import os
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="run the main job end to end: train -> compile -> learn on-chip -> lava check -> validate -> cost",
        description="Train a spiking RNN with float e-prop on evidence accumulation, compile it to a chip "
                    "profile (default loihi2), continue learning on-chip on the native fixed-point backend, "
                    "confirm bit-exactness on lava for a few held-out trials, validate against the float "
                    "reference, and report energy (uJ), communication and memory against BPTT. Writes "
                    "OUTDIR/report.html, summary.json and the intermediate artifacts.")
    p.add_argument("-o", "--out", default="out/demo", help="output directory (default out/demo); built atomically")
    p.add_argument("--config", default=None, help="TOML file overriding the embedded default (sections: task, network, "
                   "rule, train, chip, onchip, lava, validate, bench; see neurochip/config.py); validated whole, "
                   "and the untrained network test-compiled to the chip, before training starts")
    p.add_argument("--chip", default=None, help="chip profile name or .toml path (overrides [chip] name)")
    p.add_argument("--iterations", type=int, default=None, help="float training iterations (overrides [train])")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory (whole)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--no-warmup", action="store_true",
                   help="do not compile the fixed-point kernels in a background process during training "
                        "(only matters while Numba's cache is cold, i.e. on a first run)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..config import check_compiles, load_config, validate_config
    from ..pipeline import format_summary_rows, run_main_job

    cfg = load_config(args.config)
    if args.chip is not None:
        cfg["chip"]["name"] = args.chip
    if args.iterations is not None:
        cfg["train"]["iterations"] = args.iterations
    # Everything is checked now (types, ranges, chips, memory, and that the network compiles to the chip),
    # not after minutes of training.
    where = f"{args.config}: " if args.config else ""
    validate_config(cfg, where=where, main_job=True, trial_compile=False)
    warm = None
    if not (args.no_warmup or os.environ.get("NEUROCHIP_NO_WARMUP") or kernel_cache_warm()):
        warm = start_warmup(cfg)
    try:
        check_compiles(cfg, where)  # the last check (compiles the untrained network), beside the warm-up
        s = run_main_job(cfg, args.out, force=args.force, progress=not args.no_progress)
    finally:
        stop_warmup(warm)
    rows = format_summary_rows(s)
    w = max(len(k) for k in rows)
    print("\nneurochip main job summary")
    for k, v in rows.items():
        v = f"{v:.4g}" if isinstance(v, float) else v
        print(f"  {k:<{w}}  {v}")
    print(f"\nreport: {args.out}/report.html   machine-readable: {args.out}/summary.json")
    sys.stdout.flush()
    if not s.get("passed", True):
        # every output is written; the exit code says the chip run did not validate (exit 4, one line)
        from ..errors import ValidationFailed
        raise ValidationFailed("demo: validation failed: " + "; ".join(s["stages"]["validate"]["tolerance_failures"]))
    return 0


# --- kernel warm-up (see the module docstring) -------------------------------------------------------------

def kernel_cache_warm() -> bool:
    """True when Numba's on-disk cache already holds the fixed-point inference and learning kernels."""
    import glob
    from .. import kernels
    root = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(os.path.dirname(kernels.__file__), "__pycache__")
    names = [os.path.basename(p) for p in glob.glob(os.path.join(root, "**", "*.nbi"), recursive=True)]
    return any(n.startswith("fixed_forward.") for n in names) and \
        any(n.startswith(("eprop_fixed.", "learn_trial.")) for n in names)


def warmup_config(cfg: dict) -> dict:
    """A tiny copy of ``cfg``: same task, neuron kind, rule, chip and on-chip settings (hence the same kernels
    and argument types), 16 neurons, no float training (the main process compiles the float kernels itself
    as it trains; the warm-up goes straight on to the fixed-point stages), a few trials per stage."""
    import copy
    w = copy.deepcopy(cfg)
    w["network"] = {**w.get("network", {}), "n_rec": 16}
    w["network"].pop("n_adaptive", None)
    w["train"] = {**w.get("train", {}), "iterations": 0, "batch_size": 2, "eval_batches": 1, "val_batches": 1,
                  "eval_every": 1, "confirm_batches": 0, "early_stop": None, "progress": False}
    w["onchip"] = {**w["onchip"], "trials": 4, "batch_size": 2, "epochs": 1}
    w["lava"] = {**w["lava"], "trials": 1}
    w["validate"] = {**w["validate"], "trials": 2}
    w["bench"] = {**w["bench"], "trials": 1}
    return w


def start_warmup(cfg: dict):
    """Start the warm-up process (own session, lower priority, silent); None if it cannot start."""
    import json
    import subprocess
    import tempfile
    try:
        fd, path = tempfile.mkstemp(prefix="neurochip-warmup-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(warmup_config(cfg), f)
        return subprocess.Popen([sys.executable, "-m", "neurochip.cli.demo", "--warm-kernels", path],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError:
        return None


def stop_warmup(proc) -> None:
    """Stop the warm-up process and everything it started (its own process group)."""
    import signal
    import subprocess
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    try:  # a grandchild that outlived the warm-up process itself
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _warm_kernels(cfg_path: str) -> int:
    """The warm-up process: the main job on the tiny config into a temporary directory, lava skipped (it
    compiles no Numba kernel of ours), everything discarded. Exits when its parent is gone."""
    import json
    import shutil
    import signal
    import tempfile
    import threading
    import time
    os.nice(10)
    t0 = time.perf_counter()
    report = os.environ.get("NEUROCHIP_WARMUP_REPORT")  # tools/first_run.sh: where the warm-up's CPU time goes

    def done(completed: bool) -> None:
        if report:
            import resource
            r = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
            with open(report, "w") as f:
                json.dump({"cpu_s": round(sum(x.ru_utime + x.ru_stime for x in r), 1), "completed": completed,
                           "wall_s": round(time.perf_counter() - t0, 1)}, f)

    def on_term(*a):
        done(False)
        os._exit(0)
    signal.signal(signal.SIGTERM, on_term)
    parent = os.getppid()

    def orphan_watch():  # a safety net only: the demo stops the warm-up itself (stop_warmup)
        while True:
            time.sleep(5.0)
            if os.getppid() != parent:
                os._exit(0)
    threading.Thread(target=orphan_watch, daemon=True).start()
    with open(cfg_path) as f:
        cfg = json.load(f)
    os.unlink(cfg_path)
    import neurochip.backends as backends
    from ..errors import BackendError
    real = backends.get_backend

    def no_lava(name, *a, **k):
        if name == "lava":
            raise BackendError("skipped in the kernel warm-up")
        return real(name, *a, **k)
    backends.get_backend = no_lava
    from ..pipeline import run_main_job
    d = tempfile.mkdtemp(prefix="neurochip-warmup-")
    ok = False
    try:
        run_main_job(cfg, os.path.join(d, "out"), force=True, progress=False, log=lambda *a, **k: None)
        ok = True
    finally:
        shutil.rmtree(d, ignore_errors=True)
        done(ok)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--warm-kernels":
        sys.exit(_warm_kernels(sys.argv[2]))
    sys.exit(2)
