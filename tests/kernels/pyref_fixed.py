"""Slow, obviously-correct pure-Python integer model of docs/fixed_point.md (inference), written from
the document alone: Python ints (unbounded), one statement per equation, no numpy in the loop."""
from __future__ import annotations


def trunc0(x: int, k: int) -> int:
    """sign(x) * (|x| >> k)."""
    return x >> k if x >= 0 else -((-x) >> k)


def floor_shift(x: int, e: int) -> int:
    return x << e if e >= 0 else x >> (-e)


def simulate(c, x, *, S: int, D: int, mb: int, cb: int) -> dict:
    """c: CompiledNetwork-like; x: nested lists/array [B][T][n_in] of 0/1. Returns per-trial lists of
    spikes, v, y (ints) and the saturation/wrap count."""
    one = 1 << D
    n_rec, n_out, n_in = c.n_rec, c.n_out, c.n_in
    W_in = [[int(c.w_in[j][i]) for i in range(n_in)] for j in range(n_rec)]
    W_rec = [[int(c.w_rec[j][i]) if c.rec_mask[j][i] else 0 for i in range(n_rec)] for j in range(n_rec)]
    W_out = [[int(c.w_out[k][j]) for j in range(n_rec)] for k in range(n_out)]
    bias = [floor_shift(int(b), int(c.bias_exp)) for b in c.bias_mant]
    beta = [int(b) for b in c.beta_mant]
    vth_eff = int(c.vth) << S
    vmax = (1 << (mb - 1)) - 1
    half = 1 << (cb - 1)
    sats = 0
    out = {"spikes": [], "v": [], "y": []}
    for xb in x:
        u = [0] * n_rec; v = [0] * n_rec; a = [0] * n_rec; r = [0] * n_rec; zp = [0] * n_rec; y = [0] * n_out
        Z, V, Y = [], [], []
        for xt in xb:
            z = [0] * n_rec
            for j in range(n_rec):
                s_in = sum(W_in[j][i] for i in range(n_in) if xt[i])
                s_rec = sum(W_rec[j][i] for i in range(n_rec) if zp[i])
                a_in = floor_shift(s_in, int(c.e_in)) + floor_shift(s_rec, int(c.e_rec))
                uj = trunc0(u[j] * (one - (int(c.du) + 1)), D) + (a_in << S)
                if uj > half:
                    uj -= 2 * half; sats += 1
                elif uj <= -half:
                    uj += 2 * half; sats += 1
                R = vth_eff * zp[j] if c.reset == "subtract" else 0
                vj = trunc0(v[j] * (one - int(c.dv)), D) + uj + bias[j] - R
                if vj > vmax:
                    vj = vmax; sats += 1
                elif vj < -vmax:
                    vj = -vmax; sats += 1
                aj = trunc0(a[j] * (one - int(c.da)), D) + int(c.a_inc) * zp[j]
                A = vth_eff + ((beta[j] * aj) >> int(c.beta_shift))
                z[j] = 1 if (vj > A and r[j] <= 0) else 0
                r[j] = min(max(r[j] + int(c.n_ref) * z[j] - 1, 0), int(c.n_ref))
                if c.reset == "zero" and z[j]:
                    vj = 0
                u[j], v[j], a[j] = uj, vj, aj
            for k in range(n_out):
                s = floor_shift(sum(W_out[k][j] for j in range(n_rec) if z[j]), int(c.e_out))
                yk = trunc0(y[k] * (one - int(c.dk)), D) + (s << S)
                if yk > vmax:
                    yk = vmax; sats += 1
                elif yk < -vmax:
                    yk = -vmax; sats += 1
                y[k] = yk
            zp = z
            Z.append(list(z)); V.append(list(v)); Y.append(list(y))
        out["spikes"].append(Z); out["v"].append(V); out["y"].append(Y)
    out["saturations"] = sats
    return out
