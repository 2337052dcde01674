"""Slow, obviously-correct pure-Python integer model of docs/fixed_point.md (inference), written from
the document alone: Python ints (unbounded), one statement per equation, no numpy in the loop.

Registers at their limits (docs/fixed_point.md "Registers"), per ``mode`` (the profile's format.overflow):
- 'lava': every neuron-side sum is an int32 (wrap to 32 bits); then u takes lava's single asymmetric
  wrap at cb bits, v and the readout y clip to +-(2^(mb-1) - 1); the readout's own u register holds
  this step's input (wrapped like u);
- 'saturate': u clips to +-(2^(cb-1) - 1), v and y to +-(2^(mb-1) - 1);
- 'wrap': u, v, y wrap in two's complement at their widths.
An event is counted when the stored value differs from the exact (unbounded) result of its update."""
from __future__ import annotations


def trunc0(x: int, k: int) -> int:
    """sign(x) * (|x| >> k)."""
    return x >> k if x >= 0 else -((-x) >> k)


def floor_shift(x: int, e: int) -> int:
    return x << e if e >= 0 else x >> (-e)


def twos(x: int, bits: int) -> int:
    """x modulo 2^bits, as a signed two's-complement value."""
    m = 1 << bits
    x %= m
    return x - m if x >= m // 2 else x


def store_u(x: int, bits: int, mode: str) -> int:
    h = 1 << (bits - 1)
    if mode == "lava":
        x = twos(x, 32)
        if x > h:
            return x - 2 * h
        if x <= -h:
            return x + 2 * h
        return x
    if mode == "saturate":
        return max(-(h - 1), min(h - 1, x))
    return twos(x, bits)


def store_v(x: int, bits: int, mode: str) -> int:
    m = (1 << (bits - 1)) - 1
    if mode == "lava":
        x = twos(x, 32)
    if mode in ("lava", "saturate"):
        return max(-m, min(m, x))
    return twos(x, bits)


def simulate(c, x, *, S: int, D: int, mb: int, cb: int, mode: str = "lava") -> dict:
    """c: CompiledNetwork-like; x: nested lists/array [B][T][n_in] of 0/1. Returns per-trial lists of
    spikes, v, y (ints), the event counts per register kind ('current', 'membrane', 'readout') and
    their total ('saturations')."""
    one = 1 << D
    n_rec, n_out, n_in = c.n_rec, c.n_out, c.n_in
    W_in = [[int(c.w_in[j][i]) for i in range(n_in)] for j in range(n_rec)]
    W_rec = [[int(c.w_rec[j][i]) if c.rec_mask[j][i] else 0 for i in range(n_rec)] for j in range(n_rec)]
    W_out = [[int(c.w_out[k][j]) for j in range(n_rec)] for k in range(n_out)]
    bias = [floor_shift(int(b), int(c.bias_exp)) for b in c.bias_mant]
    beta = [int(b) for b in c.beta_mant]
    vth_eff = int(c.vth) << S
    ev = {"current": 0, "membrane": 0, "readout": 0}
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
                exact = trunc0(u[j] * (one - (int(c.du) + 1)), D) + (a_in << S)
                uj = store_u(exact, cb, mode)
                ev["current"] += uj != exact
                R = vth_eff * zp[j] if c.reset == "subtract" else 0
                exact = trunc0(v[j] * (one - int(c.dv)), D) + uj + bias[j] - R
                vj = store_v(exact, mb, mode)
                ev["membrane"] += vj != exact
                aj = trunc0(a[j] * (one - int(c.da)), D) + int(c.a_inc) * zp[j]
                A = vth_eff + ((beta[j] * aj) >> int(c.beta_shift))
                z[j] = 1 if (vj > A and r[j] <= 0) else 0
                r[j] = min(max(r[j] + int(c.n_ref) * z[j] - 1, 0), int(c.n_ref))
                if c.reset == "zero" and z[j]:
                    vj = 0
                u[j], v[j], a[j] = uj, vj, aj
            for k in range(n_out):
                s = floor_shift(sum(W_out[k][j] for j in range(n_rec) if z[j]), int(c.e_out)) << S
                if mode == "lava":                 # the readout is lava's LIF with du = 4095: u = this input
                    uk = store_u(s, cb, mode)
                    ev["readout"] += uk != s
                    s = uk
                exact = trunc0(y[k] * (one - int(c.dk)), D) + s
                yk = store_v(exact, mb, mode)
                ev["readout"] += yk != exact
                y[k] = yk
            zp = z
            Z.append(list(z)); V.append(list(v)); Y.append(list(y))
        out["spikes"].append(Z); out["v"].append(V); out["y"].append(Y)
    out["events"] = ev
    out["saturations"] = sum(ev.values())
    return out
