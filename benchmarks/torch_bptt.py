"""PyTorch BPTT baseline for bench_float_training.py (standalone: stdlib + numpy + torch).

The same network as neurochip's float model (eprop_spec 1.1-1.4): ALIF/LIF with reset by
subtraction, refractoriness n_ref, adaptive threshold, pseudo-derivative
psi = gamma/v_th max(0, 1 - |v - A|/v_th), leaky readout with c_kappa = 1 - kappa, MSE loss over all
steps; autograd through everything (the usual "BPTT with surrogate gradient"), float32, CPU.

usage: python torch_bptt.py N_REC N_IN N_OUT T BATCH [REPEATS] [INPUT_RATE_HZ] [KIND] [THREADS]
prints one JSON line: {"wall_ms_per_sample", "cpu_ms_per_sample" (best of REPEATS), "ms_per_batch", "threads", "rate_hz"}
"""
import json
import math
import sys
import time

import numpy as np
import torch


class SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, v_th, gamma):  # u = v - A
        ctx.save_for_backward(u)
        ctx.v_th, ctx.gamma = v_th, gamma
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        psi = ctx.gamma / ctx.v_th * torch.clamp(1 - u.abs() / ctx.v_th, min=0)
        return g * psi, None, None


def main(argv):
    n_rec, n_in, n_out, T, B = (int(a) for a in argv[:5])
    repeats = int(argv[5]) if len(argv) > 5 else 2
    rate_hz = float(argv[6]) if len(argv) > 6 else 20.0
    kind = argv[7] if len(argv) > 7 else "alif"
    if len(argv) > 8 and int(argv[8]) > 0:
        torch.set_num_threads(int(argv[8]))
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    dt, tau_m, tau_a, tau_out, v_th, n_ref, gamma = 1.0, 20.0, 2000.0, 20.0, 0.6, 5, 0.3
    alpha, rho, kappa = math.exp(-dt / tau_m), math.exp(-dt / tau_a), math.exp(-dt / tau_out)
    beta = torch.zeros(n_rec)
    if kind == "alif":
        beta[n_rec // 2:] = 1.7 * (1 - rho) / (1 - alpha)
    w_in = torch.tensor(rng.standard_normal((n_rec, n_in)) / math.sqrt(n_in), dtype=torch.float32, requires_grad=True)
    wr = rng.standard_normal((n_rec, n_rec)) / math.sqrt(n_rec)
    np.fill_diagonal(wr, 0)
    w_rec = torch.tensor(wr, dtype=torch.float32, requires_grad=True)
    w_out = torch.tensor(rng.standard_normal((n_out, n_rec)) / math.sqrt(n_rec), dtype=torch.float32, requires_grad=True)
    b_out = torch.zeros(n_out, requires_grad=True)
    x = torch.tensor(rng.random((B, T, n_in)) < rate_hz * dt * 1e-3, dtype=torch.float32)
    target = torch.tensor(rng.standard_normal((B, T, n_out)), dtype=torch.float32)
    offdiag = 1.0 - torch.eye(n_rec)

    def step():
        cur = x @ w_in.T  # [B, T, N] input currents at once
        wrec = w_rec * offdiag
        v = torch.zeros(B, n_rec); a = torch.zeros(B, n_rec); z = torch.zeros(B, n_rec)
        r = torch.zeros(B, n_rec); y = torch.zeros(B, n_out)
        ys, spikes = [], 0.0
        for t in range(T):
            a = rho * a + z
            A = v_th + beta * a
            v = alpha * v + cur[:, t] + z @ wrec.T - v_th * z
            ref = (r > 0).to(v.dtype)
            z = SpikeFn.apply(v - A, v_th, gamma) * (1 - ref)
            r = torch.clamp(r + n_ref * z.detach() - 1, 0, n_ref)
            y = kappa * y + (1 - kappa) * z @ w_out.T
            ys.append(y)
            spikes += float(z.detach().sum())
        out = torch.stack(ys, 1) + b_out
        loss = 0.5 * ((out - target) ** 2).sum() / B
        for p in (w_in, w_rec, w_out, b_out):
            p.grad = None
        loss.backward()
        return spikes / (B * T * n_rec) * 1e3 / dt

    times, cpu, rate = [], [], 0.0
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        rate = step()
        times.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
    print(json.dumps({"wall_ms_per_sample": min(times) / B, "cpu_ms_per_sample": min(cpu) / B,
                      "ms_per_batch": times, "threads": torch.get_num_threads(),
                      "rate_hz": rate, "torch": torch.__version__, "dtype": "float32"}))


if __name__ == "__main__":
    main(sys.argv[1:])
