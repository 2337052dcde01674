"""Slow pure-Python integer model of docs/fixed_point.md "Learning (on-chip e-prop)", nearest or
stochastic rounding (the counter-based generator as the document specifies it), written from the
document: one trial at a time, Python ints, dense loops over existing synapses."""
from __future__ import annotations

import math


def rshift(x: int, k: int) -> int:
    """Round half away from zero of x / 2^k (k <= 0: x << -k)."""
    if k <= 0:
        return x << (-k)
    h = 1 << (k - 1)
    return (x + h) >> k if x >= 0 else -((-x + h) >> k)


def trunc0(x: int, k: int) -> int:
    return x >> k if x >= 0 else -((-x) >> k)


def clip(x: int, m: int) -> int:
    return max(-m, min(m, x))


def fshift(x: int, e: int) -> int:
    return x << e if e >= 0 else x >> (-e)


M64 = (1 << 64) - 1


def splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def key(seed: int, stream: int, a: int, b: int) -> int:
    """The generator's counter for (seed, stream, a = step or epoch, b = index), docs/fixed_point.md."""
    k = splitmix64((seed * 0x100000 + stream) & M64)
    return (splitmix64((k + a * 0x9E3779B97F4A7C15) & M64) + b) & M64


def srshift(x: int, k: int, kk: int) -> int:
    """floor((x + u) / 2^k), u = the top k bits of splitmix64(kk)."""
    if k <= 0:
        return x << (-k)
    return (x + (splitmix64(kk) >> (64 - k))) >> k


def rdiv(a: int, n: int) -> int:
    return (a + n // 2) // n


def decay_table(dec: int, D: int, n: int) -> list[int]:
    """f_k ~ (dec / 2^D)^k in Q0.31, k = 0..n: f_0 = 2^31, f_k = floor((f_{k-1} dec + 2^(D-1)) / 2^D)."""
    f = [1 << 31]
    for _ in range(n):
        f.append((f[-1] * dec + (1 << (D - 1))) >> D)
    return f


def learn(c, x, tgt, *, S: int, D: int, mb: int, cb: int, trials_per_apply: int = 1, seed: int = 0, mask=None,
          out: dict | None = None, lazy: bool = True):
    """On-chip e-prop of CompiledNetwork ``c`` (rule ``c.rule``, its rounding modes) on trials ``x``
    [B][T][n_in] with MSE targets ``tgt`` [B][T][n_out] and optional mask [B][T] (default: every step).
    Returns (w_in, w_rec, w_out) as nested lists after the run; ``out`` (a dict) receives the residual
    accumulators 'A_in', 'A_rec', 'A_out' ([post][pre]), the sum of every product 'P_*' (the conservation
    check), the applied changes 'dW_*' (before clipping) and 'b_out'. lazy (per-synapse eligibility): a post
    with psi_j = q_j = L_j = 0 is not visited; its synapses' ebar and h take the decays of the skipped steps
    with the next visit's, in one rounding by the Q0.32 decay table (False: every post every step)."""
    R = c.rule
    one = 1 << D
    n_in, n_rec, n_out = c.n_in, c.n_rec, c.n_out
    W_in = [[int(c.w_in[j][i]) for i in range(n_in)] for j in range(n_rec)]
    W_rec = [[int(c.w_rec[j][i]) for i in range(n_rec)] for j in range(n_rec)]
    M = [[bool(c.rec_mask[j][i]) for i in range(n_rec)] for j in range(n_rec)]
    W_out = [[int(c.w_out[k][j]) for j in range(n_rec)] for k in range(n_out)]
    # layer map: which input / readout synapses exist (None: all)
    MI = [[True] * n_in for _ in range(n_rec)] if getattr(c, "in_mask", None) is None else \
        [[bool(c.in_mask[j][i]) for i in range(n_in)] for j in range(n_rec)]
    MO = [[True] * n_rec for _ in range(n_out)] if getattr(c, "out_mask", None) is None else \
        [[bool(c.out_mask[k][j]) for j in range(n_rec)] for k in range(n_out)]
    beta = [int(b) for b in c.beta_mant]
    bias = [fshift(int(b), int(c.bias_exp)) for b in c.bias_mant]
    Bm = [[int(R.B_mant[j][k]) for k in range(n_out)] for j in range(n_rec)]
    qa = [int(q) for q in R.qa_mant]
    vth_eff = int(c.vth) << S
    vmax = (1 << (mb - 1)) - 1
    half = 1 << (cb - 1)
    emax = (1 << (R.elig_bits - 1)) - 1
    lmax = (1 << (R.ls_bits - 1)) - 1
    errmax = (1 << (R.err_bits - 1)) - 1
    amax = (1 << (R.acc_bits - 1)) - 1
    per_syn = R.eligibility == "per_synapse"
    tstoch, wstoch = R.trace_round == "stochastic", R.rounding == "stochastic"
    sd = (int(R.seed) * 1_000_003 + seed) & 0x7FFFFFFF
    # synapse numbers q: CSR by presynaptic neuron, targets ascending (existing synapses only)
    q_in = {(j, i): q for q, (i, j) in enumerate((i, j) for i in range(n_in) for j in range(n_rec) if MI[j][i])}
    q_rec = {(j, i): q for q, (i, j) in enumerate((i, j) for i in range(n_rec) for j in range(n_rec) if M[j][i])}
    # per-synapse eligibility counters: the synapse's position c in the by-post (column) order, pres ascending
    c_in = {(j, i): c for c, (j, i) in enumerate((j, i) for j in range(n_rec) for i in range(n_in) if MI[j][i])}
    c_rec = {(j, i): c for c, (j, i) in enumerate((j, i) for j in range(n_rec) for i in range(n_rec) if M[j][i])}
    n_apply = [0]
    ct, cr, sh = [int(v) for v in R.ct], [int(v) for v in R.cr], [int(v) for v in R.prod_shift]
    pt, pr_, po = [int(v) for v in R.pre_shift]
    b_out = [float(v) for v in c.b_out]
    T = len(x[0])
    if mask is None:
        mask = [[1] * T for _ in x]

    def wround(acc, stream, q):
        return srshift(acc, R.frac_bits, key(sd, stream, n_apply[0], q)) if wstoch else rshift(acc, R.frac_bits)

    def tdecay(v, d, kk):
        return srshift(v * (one - d), D, kk) if tstoch else (v * (one - d)) >> D
    A_in = [[0] * n_in for _ in range(n_rec)]
    A_rec = [[0] * n_rec for _ in range(n_rec)]
    A_out = [[0] * n_rec for _ in range(n_out)]
    P_in = [[0] * n_in for _ in range(n_rec)]          # this batch's products (exact sums)
    P_rec = [[0] * n_rec for _ in range(n_rec)]
    P_out = [[0] * n_rec for _ in range(n_out)]
    tot = {"P_in": [[0] * n_in for _ in range(n_rec)], "P_rec": [[0] * n_rec for _ in range(n_rec)],
           "P_out": [[0] * n_rec for _ in range(n_out)], "dW_in": [[0] * n_in for _ in range(n_rec)],
           "dW_rec": [[0] * n_rec for _ in range(n_rec)], "dW_out": [[0] * n_rec for _ in range(n_out)]}
    perr = [0] * n_out
    gains = {"gt": [0, 0, 0], "gr": [0, 0, 0], "n_task": 1}

    gain = [0, 0, 0]
    calibrated = [False, False, False]
    target = [float(v) for v in R.calib_target]

    def calibrate(p, entries):
        """Power-of-two gain making rms(2^e P) = target (float sum of squares in synapse-number order)."""
        if target[p] <= 0 or calibrated[p]:
            return
        ss = 0.0
        for _, val in sorted(entries):
            ss += float(val) * float(val)
        if ss == 0.0 or not entries:
            return
        e = int(math.floor(0.5 * math.log2(target[p] * target[p] * len(entries) / ss) + 0.5))
        gain[p] = min(max(e, -62), 30)
        calibrated[p] = True

    def apply_one(W, A, P, name, post, pre, stream, q, train):
        if not train:
            P[post][pre] = 0
            return
        g = gain[{"in": 0, "rec": 1, "out": 2}[name]]
        tot["P_" + name][post][pre] += P[post][pre]
        a = clip(A[post][pre] + (rshift(P[post][pre], -g) if g < 0 else P[post][pre] << g), amax)
        P[post][pre] = 0
        d = wround(a, stream, q) if a else 0
        A[post][pre] = a - (d << R.frac_bits)
        tot["dW_" + name][post][pre] += d
        W[post][pre] = max(R.w_min, min(R.w_max, W[post][pre] - d))

    def apply():
        calibrate(0, [(q_in[(j, i)], P_in[j][i]) for j in range(n_rec) for i in range(n_in) if MI[j][i]])
        calibrate(1, [(q_rec[(j, i)], P_rec[j][i]) for j in range(n_rec) for i in range(n_rec) if M[j][i]])
        calibrate(2, [(j * n_out + k, P_out[k][j]) for k in range(n_out) for j in range(n_rec) if MO[k][j]])
        for j in range(n_rec):
            for i in range(n_in):
                if MI[j][i]:
                    apply_one(W_in, A_in, P_in, "in", j, i, 2, q_in[(j, i)], R.train_in)
            for i in range(n_rec):
                if M[j][i]:
                    apply_one(W_rec, A_rec, P_rec, "rec", j, i, 3, q_rec[(j, i)], R.train_rec)
        for k in range(n_out):
            for j in range(n_rec):
                if MO[k][j]:
                    apply_one(W_out, A_out, P_out, "out", k, j, 4, j * n_out + k, R.train_out)
        if R.train_bias:
            for k in range(n_out):
                b_out[k] -= R.bias_gain * perr[k] * 2.0 ** gain[2] / gains["n_task"]
        for k in range(n_out):
            perr[k] = 0
        n_apply[0] += 1

    def start_batch(b0):
        nb = min(trials_per_apply, len(x) - b0)
        gains["n_task"] = nb                       # 'mse': mean over the batch's trials
        gains["gt"] = [rdiv(v, nb) for v in ct]
        gains["gr"] = [rdiv(v, nb * T) for v in cr]

    for b, xb in enumerate(x):
        if b % trials_per_apply == 0:
            start_batch(b)
        gt, gr = gains["gt"], gains["gr"]
        fr = [R.f0_code] * n_rec
        u = [0] * n_rec; v = [0] * n_rec; a = [0] * n_rec; r = [0] * n_rec; zp = [0] * n_rec; y = [0] * n_out
        xbar = [0] * n_in; zbar = [0] * n_rec; zkap = [0] * n_rec; q = [0] * n_rec
        xk = [0] * n_in; zk = [0] * n_rec
        eb_in = [[0] * n_in for _ in range(n_rec)]; eb_rec = [[0] * n_rec for _ in range(n_rec)]
        h_in = [[0] * n_in for _ in range(n_rec)]; h_rec = [[0] * n_rec for _ in range(n_rec)]
        last = [-1] * n_rec                            # the last step each post's synapses were visited
        fk_t = decay_table(one - int(c.dk), D, T)
        fa_t = decay_table(one - int(c.da), D, T)
        for t, xt in enumerate(xb):
            z = [0] * n_rec; psi = [0] * n_rec
            for j in range(n_rec):
                a_in = fshift(sum(W_in[j][i] for i in range(n_in) if xt[i]), int(c.e_in)) + \
                    fshift(sum(W_rec[j][i] for i in range(n_rec) if zp[i] and M[j][i]), int(c.e_rec))
                uj = trunc0(u[j] * (one - int(c.du) - 1), D) + (a_in << S)
                uj = uj - 2 * half if uj > half else (uj + 2 * half if uj <= -half else uj)
                vj = trunc0(v[j] * (one - int(c.dv)), D) + uj + bias[j] - (vth_eff * zp[j] if c.reset == "subtract" else 0)
                vj = clip(vj, vmax)
                aj = trunc0(a[j] * (one - int(c.da)), D) + int(c.a_inc) * zp[j]
                A = vth_eff + ((beta[j] * aj) >> int(c.beta_shift))
                refr = r[j] > 0
                z[j] = 1 if (vj > A and not refr) else 0
                psi[j] = 0 if refr else max(0, vth_eff - abs(vj - A)) >> R.psi_shift
                r[j] = min(max(r[j] + int(c.n_ref) * z[j] - 1, 0), int(c.n_ref))
                if c.reset == "zero" and z[j]:
                    vj = 0
                u[j], v[j], a[j] = uj, vj, aj
            for k in range(n_out):
                s = fshift(sum(W_out[k][j] for j in range(n_rec) if z[j]), int(c.e_out))
                y[k] = clip(trunc0(y[k] * (one - int(c.dk)), D) + (s << S), vmax)
            if R.reg:                                  # rate trace and regulariser signal
                fr = [fr[j] + rshift((z[j] << R.rate_bits) - fr[j], R.rate_shift) for j in range(n_rec)]
            rr = [fr[j] - R.f0_code if R.reg else 0 for j in range(n_rec)]
            # traces
            xbar_p, zbar_p = list(xbar), list(zbar)
            step = b * len(xb) + t
            kt = key(sd, 1, step, 0)
            xbar = [tdecay(xbar[i], int(c.dv), kt + i) + R.pre_inc_in * xt[i] for i in range(n_in)]
            zbar = [tdecay(zbar[i], int(c.dv), kt + n_in + i) + R.pre_inc_rec * zp[i] for i in range(n_rec)]
            zkap = [tdecay(zkap[j], int(c.dk), kt + n_in + n_rec + j) + R.kap_inc * z[j] for j in range(n_rec)]
            if not per_syn:                            # kappa-filtered pre traces (factorised eligibility)
                xk = [tdecay(xk[i], int(c.dk), kt + n_in + 2 * n_rec + i) + xbar[i] for i in range(n_in)]
                zk = [tdecay(zk[i], int(c.dk), kt + 2 * n_in + 2 * n_rec + i) + zbar[i] for i in range(n_rec)]
            # error and learning signal
            err = [clip(int(math.floor((y[k] / c.scale_out + b_out[k] - tgt[b][t][k]) * R.err_scale + 0.5)), errmax)
                   if mask[b][t] else 0 for k in range(n_out)]
            for k in range(n_out):
                perr[k] += err[k]
            any_err = any(err)
            do_acc = any_err or R.reg
            L = [clip(rshift(sum(Bm[j][k] * err[k] for k in range(n_out)), R.l_shift), lmax) if any_err else 0
                 for j in range(n_rec)]
            for j in range(n_rec):
                pres = [(i, xbar[i], xbar_p[i], eb_in, h_in, P_in, 0, key(sd, 5, step, c_in[(j, i)]), len(c_in))
                        for i in range(n_in) if MI[j][i]] + \
                       [(i, zbar[i], zbar_p[i], eb_rec, h_rec, P_rec, 1, key(sd, 6, step, c_rec[(j, i)]), len(c_rec))
                        for i in range(n_rec) if M[j][i]]
                if per_syn:
                    if lazy and psi[j] == 0 and q[j] == 0 and L[j] == 0:
                        continue                       # e = 0, no product: the decays wait for the next visit
                    kg = t - last[j] if last[j] >= 0 else 1
                    last[j] = t
                    fk, fa = fk_t[kg], fa_t[kg]
                    for i, pre, prep, EB, H, ACC, p, kq, nnz in pres:
                        if (p == 0 and not R.train_in) or (p == 1 and not R.train_rec):
                            continue
                        hq = 0
                        if R.adapt:
                            if tstoch:          # one stochastic rounding at 2^-31, bits 31..1 of kq's hash
                                rh = (splitmix64(kq) & 0xFFFFFFFF) >> 1
                                hq = (H[j][i] * fa + (q[j] * (prep - H[j][i]) << (31 - R.q_frac)) + rh) >> 31
                            else:
                                hq = trunc0(H[j][i] * fa, 31) + rshift(q[j] * (prep - H[j][i]), R.q_frac)
                            H[j][i] = hq
                        if tstoch:
                            e = srshift(psi[j] * (pre - hq), R.e_shift, kq)
                            # a post with adaptation: ebar's rounding from the hash of counter c + nnz (its own
                            # hash feeds e and h); without: from the low 31 bits of its own hash
                            ub = splitmix64((kq + nnz) & M64) >> 33 if qa[j] else splitmix64(kq) & 0x7FFFFFFF
                            EB[j][i] = clip(((EB[j][i] * fk + ub) >> 31) + e, emax)
                        else:
                            e = rshift(psi[j] * (pre - hq), R.e_shift)
                            EB[j][i] = clip(trunc0(EB[j][i] * fk, 31) + e, emax)
                        if do_acc:
                            ACC[j][i] += rshift(rshift(L[j] * EB[j][i], pt) * gt[p] + rshift(rr[j] * e, pr_) * gr[p], sh[p])
                elif do_acc:
                    for i, pre, prep, EB, H, ACC, p, _, _ in pres:
                        if (p == 0 and not R.train_in) or (p == 1 and not R.train_rec):
                            continue
                        mt = rshift(rshift(L[j] * psi[j], pt) * gt[p], R.m_shift)
                        mr = rshift(rshift(rr[j] * psi[j], pr_) * gr[p], R.m_shift)
                        pk = xk[i] if p == 0 else zk[i]
                        ACC[j][i] += rshift(mt * pk + mr * pre, sh[p])
            if R.train_out and any_err:
                for k in range(n_out):
                    for j in range(n_rec):
                        if MO[k][j]:
                            P_out[k][j] += rshift(rshift(err[k] * zkap[j], po) * gt[2], sh[2])
            if R.adapt:
                q = [(qa[j] * psi[j]) >> R.qa_shift for j in range(n_rec)]
            zp = z
        if (b + 1) % trials_per_apply == 0 or b + 1 == len(x):
            apply()
    if out is not None:
        out.update(A_in=A_in, A_rec=A_rec, A_out=A_out, b_out=b_out, gain=gain, **tot)
    return W_in, W_rec, W_out
