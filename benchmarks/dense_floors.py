"""What the on-chip rules' arithmetic costs per synapse-step on this CPU, 1 thread: the floors under the dense
worst case of `bench_onchip.py` (docs/native.md, "On-chip learning speed, session 21").

* **clock**: a dependent multiply-xor chain (imul 3 cycles + xor 1 per iteration), so GHz ~ 4 x iterations / s.
* **factorised products**: pa_q += rnd((Mt_j pt_i + Mr_j pp_i) >> 34) over 1,124 rows x 1,024 posts and
  ``T`` steps at the dense trial's widths (|Mt| < 2^35, |Mr| < 2^34, pt < 2^9, pp < 2^6), in four forms
  that give the same sums (checked): int64 step by step (the kernel's `outer_rows` dense pass), int64 in
  16-step row blocks, float64 with FMA contraction and a round-half-away conversion (exact: every value
  < 2^53), int64 products with int32 accumulators.
* **per-synapse visits by column length**: `kernels.learn_cols.elig_cols` on full columns, every post
  active with a task signal (the dense trial's mode), stochastic rounding, with the state unpadded (cpad =
  cptr) and padded up to a multiple of 8 (`kernels.csr.pad_columns` with any padding; the kernel's layout pads
  a column when that adds at most 4 synapses, from this table).

    python benchmarks/dense_floors.py [--out docs/dense_floors]      # writes OUT.md and OUT.json

CPU time (process_time), best of 5. Run it on an idle machine: another process on the core moves these.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, uint64

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neurochip.kernels.csr import csc_of, pad_columns  # noqa: E402
from neurochip.kernels.learn_cols import decay_table, elig_cols  # noqa: E402
from neurochip.kernels.learn_rows import rnd  # noqa: E402

SH = 34                    # the dense trial's product shift (prod_shift of its compiled rule)


@njit(cache=True)
def _chain(n, a):
    x = a
    for i in range(n):
        x = (x * np.int64(-7046029254386353131)) ^ (x >> 7)     # imul (3 cycles) then xor (1): a 4-cycle chain
    return x


def clock_ghz() -> float:
    _chain(10, 1)
    n = 200_000_000
    best = 1e9
    for _ in range(3):
        t = time.process_time()
        _chain(n, 1)
        best = min(best, time.process_time() - t)
    return 4 * n / best / 1e9


@njit(cache=True)
def _per_step(pa, Mt, Mr, pt, pp, sh):
    T, R = pt.shape
    N = Mt.shape[1]
    for t in range(T):
        for i in range(R):
            a = i * N
            p1 = pt[t, i]
            p2 = pp[t, i]
            for k in range(N):
                pa[uint64(a + k)] += rnd(Mt[t, uint64(k)] * p1 + Mr[t, uint64(k)] * p2, sh)


@njit(cache=True)
def _blocked(pa, Mt, Mr, pt, pp, sh):
    T, R = pt.shape
    N = Mt.shape[1]
    for t0 in range(0, T, 16):
        for i in range(R):
            a = i * N
            for t in range(t0, min(T, t0 + 16)):
                p1 = pt[t, i]
                p2 = pp[t, i]
                for k in range(N):
                    pa[uint64(a + k)] += rnd(Mt[t, uint64(k)] * p1 + Mr[t, uint64(k)] * p2, sh)


@njit(cache=True, fastmath={"contract"})
def _float_fma(pa, Mtf, Mrf, pt, pp):
    T, R = pt.shape
    N = Mtf.shape[1]
    for t in range(T):
        for i in range(R):
            a = i * N
            p1 = np.float64(pt[t, i])
            p2 = np.float64(pp[t, i])
            for k in range(N):
                y = Mtf[t, uint64(k)] * p1 + Mrf[t, uint64(k)] * p2      # exact: x 2^-sh, |x| < 2^53
                pa[uint64(a + k)] += np.int64(y + np.copysign(0.5, y))   # round half away from zero


def factorised_forms(T: int = 60) -> list[dict]:
    R, N = 1124, 1024
    rng = np.random.default_rng(0)
    Mt = rng.integers(-2**35, 2**35, (T, N))
    Mr = rng.integers(-2**34, 2**34, (T, N))
    pt = rng.integers(0, 511, (T, R))
    pp = rng.integers(0, 42, (T, R))
    Mtf, Mrf = Mt * 2.0 ** -SH, Mr * 2.0 ** -SH
    forms = [("int64, one step at a time (the kernel's dense pass)", np.int64, lambda pa: _per_step(pa, Mt, Mr, pt, pp, SH)),
             ("int64, 16 steps per row block", np.int64, lambda pa: _blocked(pa, Mt, Mr, pt, pp, SH)),
             ("float64, FMA contraction, round half away by conversion", np.int64,
              lambda pa: _float_fma(pa, Mtf, Mrf, pt, pp)),
             # the same loop on an int32 accumulator array: Numba compiles it for that type (a store narrows)
             ("int64 products, int32 accumulators", np.int32, lambda pa: _per_step(pa, Mt, Mr, pt, pp, SH))]
    rows, ref = [], None
    for name, dt, f in forms:
        pa = np.zeros(R * N, dt)
        f(pa)                                                            # compile / load
        best = 1e9
        for _ in range(5):
            pa[:] = 0
            t = time.process_time()
            f(pa)
            best = min(best, time.process_time() - t)
        got = pa.astype(np.int64)
        ref = got if ref is None else ref
        rows.append({"form": name, "ns_per_product": best / (T * R * N) * 1e9, "same_sums": bool(np.array_equal(got, ref))})
    return rows


@njit(cache=True)
def _cols(R, eb, hh, pac, cptr, cpad, cpre, cgap, pre, prep, act, n_act, kgap, psi, Lg, Rg, qj, qa, fk, fa, pb, ppb, ev):
    s = 0
    for r in range(R):
        v = elig_cols(eb, hh, pac, cptr, cpad, cpre, cgap, pre, prep, act, n_act, kgap, psi, Lg, Rg, qj, qa, True,
                      uint64(r * 1000003), 9, 16, 255, SH, True, True, Lg, Rg, 1, 1, 0, 0, fk, fa, pb, ppb, ev)[1]
        s += v
    return s


def column_lengths(lengths=(40, 60, 61, 62, 63, 96, 97, 98, 99, 100, 101, 102, 103, 104, 1023, 1024),
                   n_post: int = 100) -> list[dict]:
    rows = []
    for n_pre in lengths:
        mask = np.ones((n_pre, n_post), bool)
        ptr = np.concatenate([[0], np.cumsum(mask.sum(1))]).astype(np.int64)
        idx = np.concatenate([np.flatnonzero(r) for r in mask]).astype(np.int32)
        cptr, cpre, _, cgap = csc_of(ptr, idx, n_post)
        rng = np.random.default_rng(0)
        pre = rng.integers(0, 300, n_pre).astype(np.int64)
        psi = rng.integers(1, 30, n_post).astype(np.int64)
        Lg = rng.integers(-2**40, 2**40, n_post).astype(np.int64)
        Rg = rng.integers(-2**30, 2**30, n_post).astype(np.int64)
        row = {"synapses_per_column": n_pre}
        setups = {}
        for label, cpad in (("unpadded", cptr.copy()), ("padded_to_8", pad_columns(cptr, 8, 7))):
            m = int(cpad[-1])
            eb = rng.integers(-100, 100, m).astype(np.int32)
            setups[label] = (eb, np.zeros(m, np.int32), np.zeros(m, np.int64), cptr, cpad, cpre, cgap, pre, pre.copy(),
                             np.arange(n_post, dtype=np.int64), n_post, np.ones(n_post, np.int64), psi, Lg, Rg,
                             np.zeros(n_post, np.int64), np.zeros(n_post, np.int64), decay_table(4096 - 200, 12, 4),
                             decay_table(4096 - 2, 12, 4), *[np.zeros(n_pre + 8, np.int64) for _ in range(3)])
            _cols(2, *setups[label])
        reps = max(200, 50_000_000 // (n_pre * n_post))                 # ~50 ms per timing
        best = {k: 1e9 for k in setups}
        for _ in range(5):                                              # the two layouts alternate (no order bias)
            for label, args in setups.items():
                t = time.process_time()
                visits = _cols(reps, *args)
                best[label] = min(best[label], (time.process_time() - t) / visits)
        for label in setups:
            row[f"ns_per_visit_{label}"] = best[label] * 1e9
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "dense_floors"), help="writes OUT.md and OUT.json")
    a = ap.parse_args(argv)
    import subprocess
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    data = {"commit": commit, "utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "clock_ghz": clock_ghz(),
            "factorised": factorised_forms(), "columns": (column_lengths((40,)), column_lengths())[1]}   # warm-up first
    md = [f"Run of {data['utc']}, commit {commit}, 1 thread, CPU time, best of 5 "
          f"(`python benchmarks/dense_floors.py`). Clock ~{data['clock_ghz']:.2f} GHz (dependent multiply-xor chain).",
          "", "| factorised product form | ns per product | same sums |", "|---|---|---|"]
    md += [f"| {r['form']} | {r['ns_per_product']:.3f} | {'yes' if r['same_sums'] else '**no**'} |"
           for r in data["factorised"]]
    md += ["", "| synapses per column | " + " | ".join(str(r["synapses_per_column"]) for r in data["columns"]) + " |",
           "|---|" + "---|" * len(data["columns"])]
    for label in ("unpadded", "padded_to_8"):
        md.append(f"| ns per visit, {label.replace('_', ' ')} | " +
                  " | ".join(f"{r['ns_per_visit_' + label]:.2f}" for r in data["columns"]) + " |")
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if all(r["same_sums"] for r in data["factorised"]) else 1


if __name__ == "__main__":
    sys.exit(main())
