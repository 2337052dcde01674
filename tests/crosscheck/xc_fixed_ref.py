"""Slow, obviously-correct numpy model of docs/fixed_point.md (inference), written from the document only.

Independent of `neurochip.kernels` and of lava: the third implementation that the lava and native
backends are both checked against. int64 everywhere; one step at a time, one line per equation.
Registers at their limits follow lava's semantics (docs/fixed_point.md "Registers", overflow = 'lava'):
every neuron-side sum is an int32 (wrap32), u wraps once at the current width, v and the readout clip;
the readout's u register holds its input alone (lava LIF, du = 4095). Events per register kind are
counted where the stored value differs from the exact int64 result.
"""
from __future__ import annotations

import numpy as np


def trunc0_shift(x: np.ndarray, k: int) -> np.ndarray:
    """sign(x) * (|x| >> k): round toward zero (lava's decays)."""
    return np.sign(x) * (np.abs(x) >> k)


def floor_shift(x: np.ndarray, e: int) -> np.ndarray:
    """x << e for e >= 0, arithmetic (floor) x >> -e otherwise (lava Dense exponent, on the sum)."""
    return x << e if e >= 0 else x >> (-e)


def sat(x: np.ndarray, bits: int) -> np.ndarray:
    m = (1 << (bits - 1)) - 1
    return np.clip(x, -m, m)


def wrap32(x: np.ndarray) -> np.ndarray:
    """int64 -> the value an int32 register keeps (two's complement)."""
    return x.astype(np.int32).astype(np.int64)


def wrap_once(x: np.ndarray, bits: int) -> np.ndarray:
    h = 1 << (bits - 1)
    return np.where(x > h, x - 2 * h, np.where(x <= -h, x + 2 * h, x))


def run_reference(c, x: np.ndarray, *, shift: int = 6, mb: int = 24, cb: int = 24) -> dict:
    """Simulate CompiledNetwork ``c`` on ``x [B, T, n_in]``; returns spikes, v, a, y (int64, float axis)."""
    x = np.asarray(x, dtype=np.int64)
    B, T, _ = x.shape
    n_rec, n_out = c.n_rec, c.n_out
    w_in = np.asarray(c.w_in, np.int64)
    w_rec = np.asarray(c.w_rec, np.int64) * np.asarray(c.rec_mask, np.int64)
    w_out = np.asarray(c.w_out, np.int64)
    bias = floor_shift(np.asarray(c.bias_mant, np.int64), int(c.bias_exp))
    beta = np.asarray(c.beta_mant, np.int64)
    vth_eff = int(c.vth) << shift
    out = {k: np.zeros((B, T, n_rec), np.int64) for k in ("spikes", "v", "a")}
    out["y"] = np.zeros((B, T, n_out), np.int64)
    out["u"] = np.zeros((B, T, n_rec), np.int64)
    ev = {"current": 0, "membrane": 0, "readout": 0}
    int32 = {"current": 0, "membrane": 0, "readout": 0}    # of which an int32 sum wrapped first
    for b in range(B):
        u = np.zeros(n_rec, np.int64); v = np.zeros(n_rec, np.int64); a = np.zeros(n_rec, np.int64)
        r = np.zeros(n_rec, np.int64); zp = np.zeros(n_rec, np.int64); y = np.zeros(n_out, np.int64)
        for t in range(T):
            a_in = floor_shift(w_in @ x[b, t], int(c.e_in)) + floor_shift(w_rec @ zp, int(c.e_rec))
            exact = trunc0_shift(u * (4096 - (int(c.du) + 1)), 12) + (a_in << shift)
            u = wrap_once(wrap32(exact), cb)
            ev["current"] += int((u != exact).sum())
            int32["current"] += int((wrap32(exact) != exact).sum())
            R = vth_eff * zp if c.reset == "subtract" else 0
            exact = trunc0_shift(v * (4096 - int(c.dv)), 12) + u + bias - R
            v = sat(wrap32(exact), mb)
            ev["membrane"] += int((v != exact).sum())
            int32["membrane"] += int((wrap32(exact) != exact).sum())
            a = trunc0_shift(a * (4096 - int(c.da)), 12) + int(c.a_inc) * zp
            A = vth_eff + ((beta * a) >> int(c.beta_shift))
            z = ((v > A) & (r <= 0)).astype(np.int64)
            r = np.clip(r + int(c.n_ref) * z - 1, 0, int(c.n_ref))
            if c.reset == "zero":
                v = np.where(z == 1, 0, v)
            i_out = floor_shift(w_out @ z, int(c.e_out)) << shift
            u_out = wrap_once(wrap32(i_out), cb)
            int32["readout"] += int((wrap32(i_out) != i_out).sum())
            exact = trunc0_shift(y * (4096 - int(c.dk)), 12) + u_out
            y = sat(wrap32(exact), mb)
            ev["readout"] += int((u_out != i_out).sum() + (y != exact).sum())
            out["spikes"][b, t] = z; out["v"][b, t] = v; out["a"][b, t] = a; out["y"][b, t] = y; out["u"][b, t] = u
            zp = z
    out["events"] = ev
    out["int32_wraps"] = int32
    return out
