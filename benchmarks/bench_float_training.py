"""Float training speed: neurochip e-prop and BPTT (Numba) vs PyTorch BPTT (CPU), per sample.

Network: ALIF (half adaptive), n_in = 100 Poisson inputs at 20 Hz, n_out = 10, T = 1000 steps,
batch 32, MSE loss on a random target, N = 256 and 1024. The PyTorch baseline is benchmarks/torch_bptt.py
(fair: per-step inputs, no full-size slice gradients) on the same weights and inputs. One timed gradient (forward + backward +
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
    """Path of a Python with torch (.venv-torch, created on demand), or (None, reason): see torch_bptt."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch_bptt
    return torch_bptt.ensure_torch()


def write_torch_spec(path, n_rec: int, T: int, B: int) -> None:
    """The worker's exact network and inputs (same seeds) as a torch_bptt spec (MSE every step)."""
    import numpy as np
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch_bptt
    from neurochip import NeuronParams, init_network
    net = init_network(100, n_rec, 10, NeuronParams(kind="alif"), seed=0, w_out_init="normal")
    rng = np.random.default_rng(0)
    x = (rng.random((B, T, 100)) < 0.02).astype(np.uint8)
    torch_bptt.write_spec_from_network(path, net, x, "mse", rng.standard_normal((B, T, 10)))


def run(quick: bool = False) -> dict:
    import tempfile
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch_bptt as tb
    from bench_onchip import torch_best
    sizes = [128] if quick else [256, 1024]
    T, B, repeats = (200, 8, 1) if quick else (1000, 32, 2)
    rows, data = [], {"T": T, "batch": B, "n_in": 100, "n_out": 10, "threads": 1, "results": {}}
    py, note = ensure_torch()
    with tempfile.TemporaryDirectory(prefix="bench_float_") as tmp:
        for n in sizes:
            res = {}
            for rule in ("eprop_random", "bptt"):
                res[rule] = _run_json([sys.executable, __file__, "--worker", str(n), str(T), str(B), rule, str(repeats)], ENV1)
            if py:
                spec = Path(tmp) / f"f{n}.npz"
                write_torch_spec(spec, n, T, B)
                res["torch_bptt"] = torch_best(py, spec, threads=1, batch=None, repeats=repeats)
                if n == sizes[0]:   # the old baseline's slicing, to show what the linearity check catches
                    res["torch_bptt_old_slice"] = tb.measure(py, spec, threads=1, variant="slice", repeats=1)
            data["results"][str(n)] = res
            t = res.get("torch_bptt", {}).get("cpu_ms_per_sample")
            for name, r in res.items():
                if "error" in r:
                    rows.append(f"| {n} | {name} | error: {r['error']} | | | | |")
                    continue
                label = {"torch_bptt": f"PyTorch BPTT, fair ({r.get('variant')})",
                         "torch_bptt_old_slice": "PyTorch BPTT, old `cur[:, t]` baseline (reference only)"}.get(name, name)
                lin = tb.linearity_note(r) if name.startswith("torch") else "-"
                sp = f"**{t / r['cpu_ms_per_sample']:.2f}x**" if t and name in ("eprop_random", "bptt") else (
                    "1.00x" if name == "torch_bptt" else (f"{t / r['cpu_ms_per_sample']:.2f}x" if t else "n/a"))
                rows.append(f"| {n} | {label} | {r['cpu_ms_per_sample']:.1f} | {r['wall_ms_per_sample']:.1f} | "
                            f"{r['rate_hz']:.1f} | {lin} | {sp} |")
    md = [f"Float training speed, T = {T}, batch {B}, 100 inputs at 20 Hz, 10 outputs, ALIF (half adaptive), MSE every "
          f"step, 1 thread, CPU time per sample (one gradient: forward + backward + weight sums), best of {repeats}. "
          "neurochip: float64 Numba; PyTorch: fair BPTT (`torch_bptt.py`, float32 autograd, the faster of the "
          "`unbind` / `step` input variants) on the same network and inputs. Linearity = t(T) / t(T/2) (1.6-2.5 "
          "expected). The old baseline row (slicing a precomputed `[B, T, N]` current inside the loop) is there "
          "only to show its O(T^2) backward; no ratio in the README uses it.",
          "", "| N | implementation | CPU ms/sample | wall ms/sample | rate (Hz) | linearity | fair PyTorch / this |",
          "|---|---|---|---|---|---|---|", *rows]
    if note:
        md += ["", note]
    return {"title": "Float training speed (e-prop, BPTT vs fair PyTorch BPTT)", "markdown": "\n".join(md), "data": data}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        n, T, B, rule, rep = sys.argv[2:7]
        print(json.dumps(worker(int(n), int(T), int(B), rule, int(rep))))
    else:
        print(run(quick="--quick" in sys.argv)["markdown"])
