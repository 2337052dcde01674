"""Compile time and peak memory vs synapse count: locally connected sparse networks compiled to loihi2.

Network: n recurrent ALIF neurons, each with k recurrent synapses drawn from a window of +-400 neurons around
itself (local connectivity, so a partition within Loihi's 4096 input axons per core exists), 8 inputs
projecting to every neuron (dense w_in), 2 readout neurons reading from the first 1000 neurons (sparse
w_out). Peak memory = the process's peak resident set size (VmHWM, benchmarks/peak_rss.py; includes the
Python interpreter, numpy and numba) measured in a fresh subprocess per size, plus the compiler's
tracemalloc-free wall time per pass from the compile report.

Run: python benchmarks/bench_compile.py [--quick]
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

SIZES = [(10_000, 100), (30_000, 100), (100_000, 100)]     # (neurons, recurrent synapses per neuron)
QUICK = [(2_000, 50), (5_000, 50), (10_000, 50)]


def make_network(n: int, k: int, *, window: int = 400, n_in: int = 8, n_out: int = 2, seed: int = 0):
    import numpy as np
    import scipy.sparse as sp
    from neurochip.compiler import SparseNetwork
    from neurochip.network import NeuronParams
    rng = np.random.default_rng(seed)
    window = min(window, (n - 1) // 2)
    k = min(k, 2 * window)
    # k distinct offsets in [-window, window] \ {0} per block of 64 neurons (drawn per block to keep the
    # generator cheap at 1e5 neurons), wrapped around the ring.
    offs = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
    n_blocks = -(-n // 64)
    block_offs = np.stack([rng.choice(offs, k, replace=False) for _ in range(n_blocks)])
    pick_offs = np.repeat(block_offs, 64, axis=0)[:n]
    pre = (np.arange(n)[:, None] + pick_offs) % n
    pre.sort(axis=1)
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    w = rng.standard_normal(n * k) / np.sqrt(k)
    w_rec = sp.csr_matrix((w, pre.ravel().astype(np.int32), indptr), shape=(n, n))
    w_in = rng.standard_normal((n, n_in)) / np.sqrt(n_in)
    ro = min(n, 1000)
    w_out = sp.csr_matrix(np.hstack([rng.uniform(-0.1, 0.1, (n_out, ro)), np.zeros((n_out, n - ro))]))
    beta = np.zeros(n)
    beta[n // 2:] = 0.017
    return SparseNetwork(NeuronParams(), w_in, w_rec, w_out, np.zeros(n_out), rng.standard_normal((n, n_out)), beta)


def _one(n: int, k: int) -> dict:
    """Build + compile one size in this process; returns timings and peak RSS."""
    t0 = time.perf_counter()
    net = make_network(n, k)
    t_build = time.perf_counter() - t0
    from neurochip.compiler import compile
    t0 = time.perf_counter()
    cn = compile(net, "loihi2")
    t_compile = time.perf_counter() - t0
    from peak_rss import peak_rss_bytes
    peak = peak_rss_bytes()
    r = cn.report
    return {"neurons": n, "synapses": int(sum(r["network"]["synapses"].values())), "rec_synapses": int(r["network"]["synapses"]["rec"]),
            "build_s": t_build, "compile_s": t_compile, "peak_rss_bytes": int(peak), "n_cores": cn.n_cores,
            "cut_synapses": r["partition"]["cut_synapses"], "inter_core_packets_per_step": r["partition"]["inter_core_packets_per_step"],
            "spike_hops_per_step": r["route"]["spike_hops_per_step"], "timing_s": r["timing_s"]}


def run(quick: bool = False) -> dict:
    sizes = QUICK if quick else SIZES
    # Warm the numba cache once so the first size does not pay JIT compilation.
    subprocess.run([sys.executable, __file__, "--one", "500", "20"], check=True, capture_output=True)
    rows = []
    for n, k in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), str(k)], check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    md = ["| neurons | synapses | cores | compile s | peak RSS MiB | check | quantize | partition | place | route | emit | inter-core packets/step | hops/step |",
          "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        t = r["timing_s"]
        md.append(f"| {r['neurons']:,} | {r['synapses']:,} | {r['n_cores']} | {r['compile_s']:.2f} | {r['peak_rss_bytes'] / 2**20:.0f} | "
                  + " | ".join(f"{t.get(p, 0):.2f}" for p in ("check", "quantize", "partition", "place", "route", "emit"))
                  + f" | {r['inter_core_packets_per_step']:.1f} | {r['spike_hops_per_step']:.1f} |")
    if len(rows) >= 2:
        import math
        a, b = rows[0], rows[-1]
        slope = math.log(b["compile_s"] / a["compile_s"]) / math.log(b["synapses"] / a["synapses"])
        md.append("")
        md.append(f"Compile time grows as synapses^{slope:.2f} between {a['synapses']:,} and {b['synapses']:,} synapses "
                  f"(loihi2, 10 Hz assumed rates, locally connected network, peak RSS of a fresh process).")
    return {"title": "Compiler: time and memory vs synapse count (loihi2)", "markdown": "\n".join(md),
            "data": {"rows": rows, "quick": quick}}


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--one":
        print(json.dumps(_one(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        print(run(quick="--quick" in sys.argv)["markdown"])
