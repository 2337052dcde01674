"""Bit-identity guard for work on the fixed-point inference kernel (issue 11: speed must not change results).

Hashes (sha256) the spikes, readout register, membrane v and every event count of `native.run` (fixed
mode) over a fixed set of networks: the evidence task networks of the register report (ALIF / LIF
zero-reset / generic profile), hand-built integer networks of the kernel tests (every kernel path: LIF
merged accumulator with and without bias, subtract / zero reset, ALIF, current memory, negative
exponents, int64 accumulators, small register widths that overflow) in all three overflow semantics
(lava, saturate, wrap), the register-limit edge networks of tests/crosscheck/xc_edge.py, the benchmark
networks (N = 1024, p = 0.1, LIF and ALIF), and short on-chip learning runs (the learning kernel inlines
`neuron_step` / `readout_step`). Run before and after a kernel change and compare:

    python benchmarks/inference_identity.py --out before.json
    python benchmarks/inference_identity.py --out after.json --compare before.json

Not a timing script; exits 1 when --compare finds a difference.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "kernels"))
sys.path.insert(0, str(ROOT / "tests" / "crosscheck"))

SEMANTICS = ("lava", "saturate", "wrap")


def _digest(r) -> str:
    h = hashlib.sha256()
    for a in (r.spikes, r.out_int, r.v):
        if a is not None:
            h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps(r.counts.to_dict(), sort_keys=True).encode())
    w = getattr(r, "weights", None)
    if w:
        for k in sorted(w):
            h.update(np.ascontiguousarray(w[k]).tobytes())
    return h.hexdigest()[:20]


def _with_semantics(c, overflow: str, S=6, D=12, mb=24, cb=24, wb=9):
    f = SimpleNamespace(threshold_shift=S, decay_bits=D, membrane_bits=mb, current_bits=cb, weight_bits=wb,
                        w_min=-(1 << (wb - 1)), w_max=(1 << (wb - 1)) - 1, overflow=overflow)
    return replace(c, profile=SimpleNamespace(format=f, name=f"id-{overflow}"))


def _knets():
    """(name, compiled, x) hand-built networks over every kernel path and width."""
    from knets import random_compiled
    out = []
    grid = [dict(kind="lif", reset="subtract", du=4095, bias_max=0),              # LIF merged, no bias
            dict(kind="lif", reset="subtract", du=4095, bias_max=300),            # LIF merged, bias
            dict(kind="lif", reset="zero", du=4095, bias_max=0),
            dict(kind="lif", reset="zero", du=4095, bias_max=300),
            dict(kind="lif", reset="subtract", du=1000),                          # current memory
            dict(kind="lif", reset="zero", du=4095, e_in=-2, e_rec=1),            # separate exponents
            dict(kind="alif", reset="subtract"), dict(kind="alif", reset="zero", bias_max=500, bias_exp=2),
            dict(kind="alif", reset="subtract", e_in=3, e_rec=-1, du=200),
            dict(kind="lif", reset="subtract", e_in=4, e_rec=6, du=4095, n_ref=1),
            dict(kind="lif", reset="zero", e_in=7, e_rec=7, du=4095, vth=5, dv=0),  # big input: int64 acc, limits
            dict(kind="alif", reset="zero", e_in=7, e_rec=5, du=0, dv=0, vth=3)]
    widths = [dict(), dict(mb=12, cb=10), dict(mb=16, cb=16, S=3)]
    for gi, g in enumerate(grid):
        for wi, wd in enumerate(widths):
            rng = np.random.default_rng(100 * gi + wi)
            n_rec = int(rng.integers(20, 90))
            c = random_compiled(rng, n_in=int(rng.integers(3, 30)), n_rec=n_rec, n_out=3, p_rec=0.3, **g)
            x = (rng.random((3, 60, c.n_in)) < 0.3).astype(np.uint8)
            for sem in SEMANTICS:
                out.append((f"knet{gi}-w{wi}-{sem}", _with_semantics(c, sem, **wd), x))
    return out


def _edges(n: int = 40):
    """Register-limit networks built like the hypothesis cases of tests/crosscheck/test_limits_mirror.py
    (drawn with a seeded numpy generator from the same option lists), in all three semantics."""
    from xc_edge import EXAMPLE_SHARED, EXAMPLE_SUBS, build_sub, compiled_from
    rng = np.random.default_rng(7)
    pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
    cases = [(EXAMPLE_SHARED, EXAMPLE_SUBS, 12)]
    for _ in range(n):
        lava_lif = bool(rng.integers(2))
        sh = dict(e_in=pick([-8, 0, 5, 6, 7, int(rng.integers(-8, 8))]), e_rec=pick([-8, 0, 6, 7, int(rng.integers(-8, 8))]),
                  e_out=pick([-8, 0, 6, 7, int(rng.integers(-8, 8))]), du=pick([0, 1, 2048, 4094, 4095]),
                  dv=pick([0, 1, 37, 4095]), dk=pick([0, 1, 300, 4095]), vth=pick([0, 1, 100, 5000, (1 << 17) - 1]),
                  bias_exp=int(rng.integers(-2, 8)))
        if lava_lif:
            sh.update(reset="zero", n_ref=1, kind="lif")
        else:
            kind = pick(["lif", "alif"])
            sh.update(reset=pick(["zero", "subtract"]), n_ref=int(rng.integers(1, 5)), kind=kind)
            if kind == "alif":
                sh.update(da=pick([0, 1, 200]), a_inc=pick([1, 300]), beta_shift=int(rng.integers(0, 7)))
        subs = []
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(10))
            shape = "wide_in" if k < 2 else ("wide_out" if k == 2 else "small")
            subs.append(dict(n_in=pick([1100, 2500, 4096]) if shape == "wide_in" else int(rng.integers(1, 9)),
                             n_rec=pick([1100, 2100]) if shape == "wide_out" else int(rng.integers(1, 9)),
                             n_out=int(rng.integers(1, 4)),
                             style=pick(["max_pos", "max_neg", "max_mixed", "uniform", "small"]),
                             p_rec=0.0 if shape == "wide_out" else pick([0.0, 0.5, 1.0]), bias=pick([0, 100, 4095]),
                             beta=pick([0, 50, 4000]), pattern=pick(["burst", "all", "random", "sparse"]),
                             seed=int(rng.integers(2**31 - 1))))
        cases.append((sh, subs, int(rng.integers(3, 31))))
    out = []
    for i, (sh, subs, T) in enumerate(cases):
        built = [build_sub(sh, s, T) for s in subs]
        c = compiled_from(sh, [p for p, _ in built])
        x = np.concatenate([xb for _, xb in built], axis=1)[None]
        for sem in SEMANTICS:
            out.append((f"edge{i}-{sem}", _with_semantics(c, sem), x))
    return out


def _task_nets():
    from neurochip.compiler import CompileOptions, compile
    from neurochip.network import NeuronParams, init_network
    from neurochip.tasks import get_task
    task = get_task("evidence")
    x = task.batch(8, split="test").x
    out = []
    for name, kind, prof, reset in (("evidence-alif-loihi2", "alif", "loihi2", "auto"),
                                    ("evidence-lif-loihi2-zero", "lif", "loihi2", "zero"),
                                    ("evidence-lif-loihi2-subtract", "lif", "loihi2", "subtract"),
                                    ("evidence-alif-generic", "alif", "generic", "auto")):
        net = init_network(task.n_in, 100, task.n_out, NeuronParams(kind=kind), seed=1)
        c = compile(net, prof, options=CompileOptions.make(reset=reset, approximate=("reset",), overflow="allow"))
        out.append((name, c, x))
    return out


def bench_net(n: int, kind: str, p: float = 0.1, reset: str = "auto", seed: int = 0):
    """The inference benchmark's network shape (bench_native): 100 inputs, recurrent p, 10 outputs, input
    scale fixed (rate ~20-25 Hz at N = 1024, T = 300), compiled for loihi2."""
    from neurochip.compiler.pipeline import CompileOptions, compile
    from neurochip.network import NeuronParams, init_network
    net = init_network(100, n, 10, NeuronParams(kind=kind, n_ref=2), p_rec=p, seed=seed)
    rng = np.random.default_rng(seed + 1)
    net = net.with_weights(w_in=np.abs(rng.standard_normal((n, 100))) * 0.02, w_rec=net.w_rec * 0.3)
    opts = dict(v_headroom=8)
    if reset != "auto":
        opts.update(reset=reset, approximate=("reset",))
    return compile(net, "loihi2", options=CompileOptions.make(**opts))


def bench_inputs(B: int, T: int, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((B, T, 100)) < 0.02).astype(np.uint8)


def _bench_nets():
    x = bench_inputs(2, 300)
    return [(f"bench1024-{k}-{r}", bench_net(1024, k, reset=r), x)
            for k, r in (("lif", "auto"), ("lif", "zero"), ("alif", "auto"))]


def _learning():
    """Short on-chip learning runs on the evidence task (learned weights hashed too)."""
    from neurochip.compiler import compile
    from neurochip.network import NeuronParams, init_network
    from neurochip.rules import LearningRule
    from neurochip.tasks import get_task
    task = get_task("evidence")
    b = task.batch(4, split="train")
    out = []
    for kind, elig in (("alif", "factorised"), ("lif", "per_synapse")):
        net = init_network(task.n_in, 60, task.n_out, NeuronParams(kind=kind), seed=2)
        c = compile(net, "loihi2", LearningRule("eprop_random", lr=1e-3, eligibility=elig))
        out.append((f"learn-{kind}-{elig}", c, b))
    return out


def run_all(quick: bool = False) -> dict:
    from neurochip.backends import native
    warnings.simplefilter("ignore")
    res = {}
    nets = _task_nets() + _knets() + _edges(10 if quick else 40) + ([] if quick else _bench_nets())
    for name, c, x in nets:
        res[name] = _digest(native.run(c, x, record=("spikes", "outputs", "v")))
    for name, c, b in _learning():
        r = native.run(c, b.x, learn=True, targets=b, record=("spikes", "outputs"))
        res[name] = _digest(r)
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--compare", default=None)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    res = run_all(a.quick)
    total = hashlib.sha256(json.dumps(res, sort_keys=True).encode()).hexdigest()[:20]
    print(f"{len(res)} configurations, combined {total}")
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=0, sort_keys=True))
    if a.compare:
        old = json.loads(Path(a.compare).read_text())
        diff = sorted(k for k in old if res.get(k) != old[k])
        missing = sorted(set(old) ^ set(res))
        print(f"compared with {a.compare}: {len(diff)} differ{': ' + ', '.join(diff[:20]) if diff else ''}; "
              f"{len(missing)} only in one")
        sys.exit(1 if diff else 0)
