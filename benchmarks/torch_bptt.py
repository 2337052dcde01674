"""Fair PyTorch BPTT baseline: the same spiking network, written the way a competent PyTorch user writes it.

Two halves, so the Python 3.10 benchmarks can use it without torch:

- numpy side (no torch import): ``write_spec`` saves the network (float weights, neuron constants), the
  inputs and the loss of one workload to an ``.npz``; ``measure`` runs this file in the torch venv
  (``.venv-torch``, Python 3.11, torch 2.13 CPU wheel, see ``ensure_torch``) on that spec and returns the
  timing as a dict.
- torch side (``python torch_bptt.py SPEC.npz [options]``): builds the network and times one gradient
  (forward + backward through autograd, float32, CPU) per repeat; prints one JSON line.

Network = neurochip's float model (``neurochip.network``, eprop_spec 1.1-1.4): LIF/ALIF, reset by
subtraction one step later, refractoriness n_ref (no spike and zero pseudo-derivative while refractory),
adaptive threshold ``A = v_th + beta a``, surrogate ``psi = gamma/v_th max(0, 1 - |v - A|/v_th)``,
leaky readout ``y = kappa y + c_kappa W_out z``, output ``y + b_out``; recurrent sparsity by a fixed
0/1 mask (zero diagonal) multiplied into W_rec (a dense matmul, as a PyTorch user would write it).
Loss: MSE on every masked step, or cross-entropy on every masked step (the evidence task: the recall
window only). Gradients of W_in, W_rec, W_out, b_out.

Input-current variants (``--variant``):
- ``unbind``: ``cur = x @ W_in^T`` once for all steps, then ``cur.unbind(1)`` (one view per step, whose
  backward is a single stack);
- ``step``:   ``x_t @ W_in^T`` inside the loop (W_in's gradient accumulates per step);
- ``slice``:  the old baseline, ``cur[:, t]`` of the precomputed ``[B, T, N]`` tensor: each slice's
  backward materialises a full-size ``[B, T, N]`` zero gradient, so the backward pass costs O(T^2).
  Kept only to show what the linearity check catches.

Linearity check (``--linearity``): the same gradient is also timed at T/2; t(T) / t(T/2) must lie in
[1.6, 2.5] for a baseline whose cost is linear in T (plus a small constant). The result travels in the
JSON (``linearity``) and the benchmarks print it beside every PyTorch number.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TORCH_VENV = ROOT / ".venv-torch"
TORCH_PY311 = "/root/.pyenv/versions/3.11.7/bin/python"
LINEAR_RANGE = (1.6, 2.5)        # t(T) / t(T/2) of a baseline linear in T
VARIANTS = ("unbind", "step", "slice")


# ----------------------------------------------------------------------------------------- numpy side
def write_spec(path, *, w_in, w_rec, rec_mask, w_out, b_out, beta, alpha, rho, kappa, c_in, c_a, c_kappa,
               v_th, gamma, n_ref, x, loss, target, mask=None) -> None:
    """Save one workload. Shapes: w_in [N, n_in], w_rec / rec_mask [N, N] ([post, pre]), w_out [n_out, N],
    b_out [n_out], beta [N]; x [B, T, n_in] 0/1; loss 'mse' (target float [B, T, n_out]) or 'ce'
    (target int labels [B, T]); mask [B, T] bool (steps that enter the loss; default all)."""
    x = np.asarray(x)
    B, T, _ = x.shape
    if loss not in ("mse", "ce"):
        raise ValueError(f"loss must be 'mse' or 'ce', got {loss!r}")
    mask = np.ones((B, T), bool) if mask is None else np.asarray(mask, bool)
    np.savez(path, w_in=np.asarray(w_in, np.float32), w_rec=np.asarray(w_rec, np.float32),
             rec_mask=np.asarray(rec_mask, bool), w_out=np.asarray(w_out, np.float32),
             b_out=np.asarray(b_out, np.float32), beta=np.asarray(beta, np.float32),
             consts=np.array([alpha, rho, kappa, c_in, c_a, c_kappa, v_th, gamma, n_ref], np.float64),
             x=x.astype(np.uint8), loss=np.array(loss), target=np.asarray(target), mask=mask)


def write_spec_from_network(path, net, x, loss, target, mask=None) -> None:
    """``write_spec`` from a ``neurochip.network.Network`` (float side)."""
    p = net.params
    write_spec(path, w_in=net.w_in, w_rec=net.w_rec, rec_mask=net.rec_mask, w_out=net.w_out, b_out=net.b_out,
               beta=net.beta, alpha=p.alpha, rho=p.rho, kappa=p.kappa, c_in=p.c_in, c_a=p.c_a, c_kappa=p.c_kappa,
               v_th=p.v_th, gamma=p.gamma_pd, n_ref=p.n_ref, x=x, loss=loss, target=target, mask=mask)


def ensure_torch() -> tuple[str | None, str]:
    """Path of a Python with torch (creating .venv-torch with the local CPU wheel if needed), or (None, reason)."""
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


def measure(py: str, spec, *, threads: int = 1, batch: int | None = None, variant: str = "unbind",
            repeats: int = 2, linearity: bool = True, timeout: float = 1500) -> dict:
    """Run the torch side on ``spec`` in its own process with ``threads`` threads (OMP/MKL/torch);
    returns its JSON dict (see ``_time``), or {"error": ...}."""
    cmd = [py, str(Path(__file__).resolve()), str(spec), "--threads", str(threads), "--variant", variant,
           "--repeats", str(repeats)] + (["--batch", str(batch)] if batch else []) + (["--linearity"] if linearity else [])
    n = str(threads)
    env = {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n}
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def linearity_note(r: dict) -> str:
    """Short table cell for a measure() result's linearity check; loud when it failed."""
    lin = r.get("linearity")
    if not lin:
        return "not checked"
    return f"{lin['ratio']:.2f} ok" if lin["ok"] else f"**{lin['ratio']:.2f} NOT LINEAR**"


# ----------------------------------------------------------------------------------------- torch side
def _build(spec: dict, variant: str):
    """Closure computing the loss for (x, target, mask) of any length, plus the parameters."""
    import torch
    import torch.nn.functional as F

    alpha, rho, kappa, c_in, c_a, c_kappa, v_th, gamma, n_ref = (float(v) for v in spec["consts"])
    n_ref = int(round(n_ref))
    w_in = torch.tensor(spec["w_in"], requires_grad=True)
    w_rec = torch.tensor(spec["w_rec"], requires_grad=True)
    w_out = torch.tensor(spec["w_out"], requires_grad=True)
    b_out = torch.tensor(spec["b_out"], requires_grad=True)
    rec_mask = torch.tensor(spec["rec_mask"].astype(np.float32))
    beta = torch.tensor(spec["beta"])
    adaptive = bool((spec["beta"] != 0).any())
    loss_kind = str(spec["loss"])

    class SpikeFn(torch.autograd.Function):
        """Heaviside forward; the e-prop pseudo-derivative, zero while refractory, backward."""
        @staticmethod
        def forward(ctx, u, free):                       # u = v - A, free = 1 - refractory
            psi = (gamma / v_th) * torch.clamp(1.0 - u.abs() / v_th, min=0.0) * free
            ctx.save_for_backward(psi)
            return (u > 0).to(u.dtype) * free

        @staticmethod
        def backward(ctx, g):
            (psi,) = ctx.saved_tensors
            return g * psi, None

    def loss_fn(x, target, mask):
        B, T, _ = x.shape
        N = w_rec.shape[0]
        wrec_t = (w_rec * rec_mask).t()                   # fixed sparsity mask, dense matmul
        w_out_t = w_out.t()
        if variant == "unbind":
            cur_steps = (x @ w_in.t()).unbind(1)
        elif variant == "slice":
            cur_all = x @ w_in.t()
        else:
            x_steps = x.unbind(1)
            w_in_t = w_in.t()
        v = x.new_zeros(B, N); z = x.new_zeros(B, N); r = x.new_zeros(B, N); a = x.new_zeros(B, N)
        y = x.new_zeros(B, w_out.shape[0])
        ys, zs = [], []
        for t in range(T):
            if variant == "unbind":
                cur = cur_steps[t]
            elif variant == "slice":
                cur = cur_all[:, t]                       # O(T) zero-filled gradient per slice in backward
            else:
                cur = x_steps[t] @ w_in_t
            if adaptive:
                a = rho * a + c_a * z
                thr = v_th + beta * a
            else:
                thr = v_th
            i_t = torch.addmm(cur, z, wrec_t)             # W_in x^t + W_rec z^{t-1}, one fused op
            v = alpha * v + (i_t if c_in == 1.0 else c_in * i_t) - v_th * z
            free = (r <= 0).to(v.dtype)
            z = SpikeFn.apply(v - thr, free)
            r = torch.clamp(r + n_ref * z.detach() - 1.0, 0.0, float(n_ref))
            y = torch.addmm(y, z, w_out_t, beta=kappa, alpha=c_kappa)   # kappa y + c_kappa W_out z
            ys.append(y)
            zs.append(z)
        out = torch.stack(ys, 1) + b_out                  # [B, T, n_out]
        if loss_kind == "mse":
            loss = 0.5 * (((out - target) ** 2).sum(-1) * mask).sum() / B
        else:
            loss = F.cross_entropy(out[mask], target[mask], reduction="sum") / B
        return loss, zs

    return loss_fn, (w_in, w_rec, w_out, b_out)


def _time(spec: dict, variant: str, repeats: int, linearity: bool, batch: int | None) -> dict:
    import torch

    x_all = spec["x"] if batch is None else spec["x"][:batch]
    B, T, _ = x_all.shape
    x = torch.tensor(x_all.astype(np.float32))
    if str(spec["loss"]) == "mse":
        target = torch.tensor(spec["target"][:B].astype(np.float32))
    else:
        target = torch.tensor(spec["target"][:B].astype(np.int64))
    mask = torch.tensor(spec["mask"][:B])
    loss_fn, params = _build(spec, variant)

    def one(n_steps: int) -> tuple[float, float, float, float]:
        # the first n_steps inputs; the loss mask of the LAST n_steps (a final-window loss keeps its window)
        for p in params:
            p.grad = None
        c0, w0 = time.process_time(), time.perf_counter()
        loss, zs = loss_fn(x[:, :n_steps], target[:, T - n_steps:], mask[:, T - n_steps:])
        loss.backward()
        c1, w1 = time.process_time(), time.perf_counter()
        rate = float(torch.stack([z.detach() for z in zs]).mean())      # outside the timed region
        return c1 - c0, w1 - w0, rate, float(loss.detach())

    one(min(T, 20))                                        # warm-up (allocator, autograd, BLAS threads)
    best_cpu, best_wall, rate, loss = math.inf, math.inf, 0.0, 0.0
    for _ in range(repeats):
        c, w, rate, loss = one(T)
        best_cpu, best_wall = min(best_cpu, c), min(best_wall, w)
    grad_norms = [float(p.grad.norm()) for p in params]
    res = {"cpu_ms_per_sample": 1e3 * best_cpu / B, "wall_ms_per_sample": 1e3 * best_wall / B,
           "cpu_s_per_batch": best_cpu, "wall_s_per_batch": best_wall, "batch": B, "T": T,
           "threads": torch.get_num_threads(), "variant": variant, "rate_hz": 1e3 * rate, "loss": loss,
           "grad_norms": grad_norms, "torch": torch.__version__, "dtype": "float32", "repeats": repeats}
    if linearity:
        half = T // 2
        hc, hw = math.inf, math.inf
        for _ in range(repeats):
            c, w, _, _ = one(half)
            hc, hw = min(hc, c), min(hw, w)
        # CPU time unless several threads (then wall: the CPU time of spinning workers is not work)
        num, den = (best_cpu, hc) if torch.get_num_threads() == 1 else (best_wall, hw)
        ratio = num / den
        res["linearity"] = {"T_half": half, "cpu_s_half": hc, "wall_s_half": hw, "ratio": ratio,
                            "range": list(LINEAR_RANGE), "ok": bool(LINEAR_RANGE[0] <= ratio <= LINEAR_RANGE[1])}
    return res


def main(argv: list[str]) -> None:
    import argparse
    ap = argparse.ArgumentParser(description="Time one PyTorch BPTT gradient of a spec written by write_spec.")
    ap.add_argument("spec")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's default, all cores)")
    ap.add_argument("--variant", choices=VARIANTS, default="unbind")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None, help="use the first BATCH trials of the spec")
    ap.add_argument("--linearity", action="store_true", help="also time T/2 and check t(T)/t(T/2)")
    a = ap.parse_args(argv)
    import torch
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with np.load(a.spec, allow_pickle=False) as f:
        spec = {k: f[k] for k in f.files}
    print(json.dumps(_time(spec, a.variant, a.repeats, a.linearity, a.batch)))


if __name__ == "__main__":
    main(sys.argv[1:])
