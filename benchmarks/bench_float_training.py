"""Float training speed: neurochip e-prop and BPTT (Numba) vs PyTorch BPTT (CPU), per sample.

Network: ALIF (half adaptive), n_in = 100 Poisson inputs at 20 Hz, n_out = 10, T = 1000 steps,
batch 32, MSE loss on a random target, N = 256 and 1024. One timed gradient (forward + backward +
weight-gradient sums) per rule, best of ``repeats``, after a warm-up that loads the Numba cache.

Every measurement runs in its own subprocess with 1 thread (NUMBA/OpenBLAS/OMP = 1 and
torch.set_num_threads(1)) and reports CPU time (time.process_time): the machine is shared, and CPU
time of a single-threaded process is what contention distorts least. Wall time is reported too.
PyTorch runs in a separate Python 3.11 venv (.venv-torch, created on demand with the CPU wheel);
torch is never a runtime dependency. Usage: python benchmarks/bench_float_training.py [--quick]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TORCH_VENV = ROOT / ".venv-torch"
TORCH_PY311 = "/root/.pyenv/versions/3.11.7/bin/python"
ENV1 = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def worker(n_rec: int, T: int, B: int, rule_name: str, repeats: int) -> dict:
    """Time neurochip's `grads` for one rule in this process (call with 1-thread env)."""
    import numpy as np
    from neurochip import LearningRule, NeuronParams, init_network
    from neurochip.learning import grads
    from neurochip.simulate import simulate
    from neurochip.tasks import Batch
    net = init_network(100, n_rec, 10, NeuronParams(kind="alif"), seed=0, w_out_init="normal")
    rng = np.random.default_rng(0)
    x = (rng.random((B, T, 100)) < 0.02).astype(np.uint8)
    batch = Batch(x=x, target=rng.standard_normal((B, T, 10)), loss="mse", mask=np.ones((B, T), bool))
    rule = LearningRule(rule_name, reg_rate=0.0)
    small = Batch(x=x[:1, :20], target=batch.target[:1, :20], loss="mse", mask=batch.mask[:1, :20])
    grads(net, rule, small)  # warm-up: load compiled kernels
    cpu, wall, rate = [], [], 0.0
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        tr = simulate(net, batch.x)
        grads(net, rule, batch, tr)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        rate = float(tr.z.mean()) * 1e3
    return {"cpu_ms_per_sample": 1e3 * min(cpu) / B, "wall_ms_per_sample": 1e3 * min(wall) / B, "rate_hz": rate}


def _run_json(cmd: list[str], env: dict, timeout: float = 3600) -> dict:
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_torch() -> tuple[str | None, str]:
    """Path of a Python with torch (creating .venv-torch if needed), or (None, reason)."""
    py = TORCH_VENV / "bin" / "python"
    try:
        if not py.exists():
            subprocess.run([TORCH_PY311, "-m", "venv", str(TORCH_VENV)], check=True, capture_output=True, timeout=600)
            subprocess.run([str(TORCH_VENV / "bin" / "pip"), "install", "torch==2.13.0", "numpy"], check=True,
                           capture_output=True, timeout=1800)
        subprocess.run([str(py), "-c", "import torch"], check=True, capture_output=True, timeout=300)
        return str(py), ""
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"PyTorch unavailable ({e.__class__.__name__}: {str(e)[:200]}); torch rows skipped"


def torch_time(py: str, n_rec: int, T: int, B: int, repeats: int) -> dict:
    """CPU time of the PyTorch baseline (torch_bptt.py prints wall ms; we measure CPU time around it
    by running it with 1 thread and reading its own process time)."""
    r = _run_json([py, str(ROOT / "benchmarks" / "torch_bptt.py"), str(n_rec), "100", "10", str(T), str(B),
                   str(repeats), "20", "alif", "1"], ENV1)
    return r


def run(quick: bool = False) -> dict:
    sizes = [256] if quick else [256, 1024]
    T, B, repeats = (200, 8, 1) if quick else (1000, 32, 2)
    rows, data = [], {"T": T, "batch": B, "n_in": 100, "n_out": 10, "threads": 1, "results": {}}
    py, note = ensure_torch()
    for n in sizes:
        res = {}
        for rule in ("eprop_random", "bptt"):
            res[rule] = _run_json([sys.executable, __file__, "--worker", str(n), str(T), str(B), rule, str(repeats)], ENV1)
        if py:
            res["torch_bptt"] = torch_time(py, n, T, B, repeats)
        data["results"][str(n)] = res
        t = res.get("torch_bptt", {}).get("cpu_ms_per_sample")
        for name, r in res.items():
            sp = f"{t / r['cpu_ms_per_sample']:.2f}x" if t else "n/a"
            rows.append(f"| {n} | {name} | {r['cpu_ms_per_sample']:.1f} | {r['wall_ms_per_sample']:.1f} | "
                        f"{r['rate_hz']:.1f} | {sp} |")
    md = [f"Float training speed, T = {T}, batch {B}, 100 inputs, 10 outputs, ALIF, 1 thread, CPU time per sample",
          "", "| N | implementation | CPU ms/sample | wall ms/sample | rate (Hz) | speed-up vs torch BPTT |",
          "|---|---|---|---|---|---|", *rows]
    if note:
        md += ["", note]
    return {"title": "Float training speed (e-prop, BPTT vs PyTorch)", "markdown": "\n".join(md), "data": data}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        n, T, B, rule, rep = sys.argv[2:7]
        print(json.dumps(worker(int(n), int(T), int(B), rule, int(rep))))
    else:
        print(run(quick="--quick" in sys.argv)["markdown"])
