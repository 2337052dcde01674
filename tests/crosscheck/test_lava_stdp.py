"""native STDP engine == lava-nc 0.10's LearningDense, bit for bit (issue 16).

`neurochip.kernels.stdp_fixed` (Numba, written from lava's source) against lava's own
``PyLearningDenseModelBitApproximate`` with the rule strings `compiler.lower_stdp.lava_strings` makes
from the same `Product` list: pair STDP (additive and weight-dependent), reward-modulated STDP
(3-factor, eligibility in tag_1, reward in y2) and random sums of products, with random trace
impulses (fractions included), time constants (0 included), epoch lengths 1..5, rng seeds and sign
modes. Lava's stochastic rounding draws come from numpy default_rng streams seeded by the rule's
rng_seed (traces) and the fixed seed 2 (synaptic variables): the native side replays them exactly.

A lava run costs seconds (one OS process per lava Process), so each hypothesis example packs K
connections - each its own rule, weights and tags - into ONE lava run sharing the spike sources;
every connection is compared (final weights, tag_1, tag_2, x traces). CI: >= 200 connections drawn by
hypothesis (the issue's ">= 200 hypothesis cases"), plus two fixed-form connections per run (an edge case and
the triplet lowering).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from xc_helpers import require

from neurochip.compiler.lower_stdp import (Product, engine_rule, lava_strings, rstdp_products, stdp_products,
                                           triplet_products)
from neurochip.kernels import stdp_fixed as sf

HERE = Path(__file__).resolve().parent
COUNT = {"connections": 0, "drawn": 0, "lava_runs": 0, "changed": 0}
K_PER_RUN = 20


def _amp(draw):
    return (draw(st.integers(1, 7)), draw(st.integers(-7, 2)))


@st.composite
def random_products(draw, three_factor):
    """A random sum of products over the factors lava allows (at most 3 factors per product)."""
    traces = [sf.X1, sf.X2, sf.Y1, sf.Y2, sf.Y3]
    pool = traces + [sf.FW, sf.FT, sf.FD]      # constants merge into the scaling literal in lava (combine_literals)
    prods = []
    for _ in range(draw(st.integers(1, 4))):
        tgt = draw(st.sampled_from([0, 1, 2]))
        dep = draw(st.sampled_from([sf.DEP_X0, sf.DEP_Y0, sf.DEP_U]))
        facs = []
        for _ in range(draw(st.integers(0, 3))):
            code = draw(st.sampled_from(pool))
            if code == sf.FC:
                facs.append((code, draw(st.integers(-100, 100)), False))
            elif code in (sf.FW, sf.FT, sf.FD):
                sgn = draw(st.booleans())
                facs.append((code, draw(st.integers(-30, 30)), sgn))
            else:
                facs.append((code, draw(st.sampled_from([0, 0, -20, 15])), False))
        m, e = draw(st.integers(1, 7)), draw(st.integers(-7, 3))
        prods.append(Product(tgt, dep, m if draw(st.booleans()) else -m, e, tuple(facs)))
    return prods


@st.composite
def connection(draw, n_post, n_pre):
    kind = draw(st.sampled_from(["stdp", "stdp_mult", "rstdp", "triplet", "random2f", "random3f"]))
    three = kind in ("rstdp", "random3f")
    if kind == "stdp":
        prods = stdp_products(_amp(draw), _amp(draw))
    elif kind == "stdp_mult":
        prods = stdp_products(_amp(draw), _amp(draw), multiplicative=True, w_max=draw(st.integers(50, 255)),
                              w_min=draw(st.integers(-256, -10)))
    elif kind == "rstdp":
        prods = rstdp_products(_amp(draw), _amp(draw), draw(st.integers(1, 6)), _amp(draw))
    elif kind == "triplet":         # stdp_triplet's products: slow traces minus the spike's own impulse
        prods = triplet_products(_amp(draw), _amp(draw), _amp(draw), draw(st.one_of(st.none(), st.just((3, -4)))),
                                 draw(st.integers(0, 30)))
    else:
        prods = draw(random_products(three))
    imp = st.one_of(st.integers(0, 60).map(float), st.integers(0, 60 * 256).map(lambda v: v / 256.0),
                    st.floats(0.0, 60.0, allow_nan=False))
    tau = st.one_of(st.just(0), st.integers(1, 60))
    sign_mode = draw(st.sampled_from([sf.SIGN_MIXED, sf.SIGN_MIXED, sf.SIGN_EXC]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    lo = 0 if sign_mode == sf.SIGN_EXC else -256
    c = dict(products=prods, t_epoch=draw(st.integers(1, 5)), x_imp=(draw(imp), draw(imp)), x_tau=(draw(tau), draw(tau)),
             y_imp=(draw(imp), draw(imp), draw(imp)), y_tau=(draw(tau), draw(tau), draw(tau)), three_factor=three,
             sign_mode=sign_mode, rng_seed=draw(st.integers(0, 10 ** 6)),
             w=rng.integers(lo, 256, (n_post, n_pre)), t=rng.integers(-200, 200, (n_post, n_pre)),
             d=rng.integers(0, 200, (n_post, n_pre)))
    return c


@st.composite
def lava_run(draw, k=K_PER_RUN):
    n_post, n_pre = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    S = draw(st.integers(10, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    p_pre, p_post = draw(st.sampled_from([0.1, 0.3, 0.6])), draw(st.sampled_from([0.3, 0.6]))
    pre = (rng.random((S, n_pre)) < p_pre).astype(np.int64)
    bap = (rng.random((S, n_post)) < p_post).astype(np.int64)
    yin = np.stack([rng.integers(0, 128, (S, n_post)), rng.integers(-127, 128, (S, n_post)) *
                    (rng.random((S, n_post)) < 0.3), rng.integers(0, 128, (S, n_post))], axis=1)
    cases = [draw(connection(n_post, n_pre)) for _ in range(k)]
    # one edge connection per run: long epochs with repeated spikes and impulse fractions below 1/2,
    # where the mid-step impulse draws and the epoch replay decide the result
    edge = dict(cases[-1], products=stdp_products((3, -2), (5, -3)), t_epoch=4, x_imp=(20.3, 7.2), x_tau=(10, 3),
                y_imp=(17.3, 9.1, 0.2), y_tau=(6, 0, 4), three_factor=False, sign_mode=sf.SIGN_MIXED)
    # and one stdp_triplet connection per run (its lowering's products, impulse 16 as stdp_settings uses)
    trip = dict(cases[-2], products=triplet_products((3, -3), (5, -4), (2, -3), (3, -4), 16), x_imp=(16.0, 16.0),
                y_imp=(16.0, 16.0, 0.0), three_factor=False)
    return pre, bap, yin, cases[:-2] + [trip, edge]


N_FIXED = 2     # connections per run whose products are fixed (trip, edge), not drawn by hypothesis


def run_lava(pre, bap, yin, cases, timeout=300) -> list[dict]:
    """Run all ``cases`` in one lava child interpreter; returns per case {'w', 't', 'd', 'x'}."""
    with tempfile.TemporaryDirectory() as d:
        arrays = {"pre": pre, "bap": bap, "yin": yin}
        meta = []
        for k, c in enumerate(cases):
            arrays[f"w{k}"], arrays[f"t{k}"], arrays[f"d{k}"] = c["w"], c["t"], c["d"]
            s = lava_strings(c["products"])
            meta.append(dict(dw=s["dw"], dd=s["dd"], dt=s["dt"], x_imp=list(c["x_imp"]), x_tau=list(c["x_tau"]),
                             y_imp=list(c["y_imp"]), y_tau=list(c["y_tau"]), t_epoch=c["t_epoch"],
                             rng_seed=c["rng_seed"], three_factor=c["three_factor"], sign_mode=c["sign_mode"]))
        np.savez(Path(d) / "job.npz", **arrays)
        (Path(d) / "job.json").write_text(json.dumps({"cases": meta}))
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        p = subprocess.run([sys.executable, str(HERE / "xc_lava_stdp.py"), d], capture_output=True, timeout=timeout,
                           env=env, start_new_session=True)
        if p.returncode != 0:
            raise AssertionError("lava run failed: " + p.stderr.decode(errors="replace")[-3000:])
        out = np.load(Path(d) / "out.npz")
        COUNT["lava_runs"] += 1
        return [{n: out[f"{n}{k}"] for n in ("w", "t", "d", "x")} for k in range(len(cases))]


def run_native(pre, bap, yin, c):
    rule = engine_rule(c["products"], t_epoch=c["t_epoch"], x_imp=c["x_imp"], x_tau=c["x_tau"], y_imp=c["y_imp"],
                       y_tau=c["y_tau"], three_factor=c["three_factor"], sign_mode=c["sign_mode"],
                       rng_seed=c["rng_seed"])
    st0 = sf.init_state(c["w"], D=c["d"], T=c["t"])
    st1, _ = sf.run_engine(rule, st0, pre, bap, yin)
    return st1


def _compare(run):
    require("lava.magma.core.learning.learning_rule", "lava-nc is a required dependency")
    pre, bap, yin, cases = run
    got = run_lava(pre, bap, yin, cases)
    for k, (c, g) in enumerate(zip(cases, got)):
        n = run_native(pre, bap, yin, c)
        what = f"case {k}: {lava_strings(c['products'])} t_epoch={c['t_epoch']} 3F={c['three_factor']}"
        for name, mine, theirs in (("weights", n.W, g["w"]), ("tag_1", n.T, g["t"]), ("tag_2", n.D, g["d"]),
                                   ("x traces", n.x, g["x"])):
            bad = np.argwhere(mine != theirs)
            assert bad.size == 0, f"native {name} differ from lava at {bad[:3].tolist()} ({what})"
        COUNT["connections"] += 1
        COUNT["drawn"] += int(k < len(cases) - N_FIXED)
        COUNT["changed"] += int((n.W != (np.asarray(c["w"]) >> 1 << 1)).any() or (n.T != c["t"]).any())


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lava_run())
def test_native_stdp_engine_equals_lava_learning_dense(run):
    _compare(run)


def test_lava_stdp_count():
    """Runs after the property test (file order): >= 200 hypothesis-drawn connections compared (12 runs x 18),
    most of them learnt."""
    if COUNT["lava_runs"] == 0:
        pytest.skip("the property test did not run (selected alone)")
    assert COUNT["drawn"] >= 200, COUNT
    assert COUNT["changed"] >= 0.5 * COUNT["connections"], COUNT


def test_engine_draw_sensitivity():
    """The comparison can fail: another rng seed or a product shift of one bit changes the weights."""
    rng = np.random.default_rng(1)
    pre = (rng.random((60, 6)) < 0.3).astype(np.int64)
    bap = (rng.random((60, 5)) < 0.3).astype(np.int64)
    w = rng.integers(-256, 256, (5, 6))
    base = dict(products=stdp_products((3, -3), (5, -4)), t_epoch=2, x_imp=(20.3, 0.0), x_tau=(8, 0),
                y_imp=(17.6, 0.0, 0.0), y_tau=(5, 0, 0), three_factor=False, sign_mode=sf.SIGN_MIXED, rng_seed=7,
                w=w, t=np.zeros_like(w), d=np.zeros_like(w))
    a = run_native(pre, bap, None, base).W
    b = run_native(pre, bap, None, dict(base, rng_seed=8)).W
    rule = engine_rule(base["products"], t_epoch=2, x_imp=(20.3, 0.0), x_tau=(8, 0), y_imp=(17.6, 0.0, 0.0),
                       y_tau=(5, 0, 0), rng_seed=7)
    shifted = rule._replace(p_rshift=rule.p_rshift + 1)          # one bit less of product precision
    c = sf.run_engine(shifted, sf.init_state(w), pre, bap)[0].W
    assert (sf.run_engine(rule, sf.init_state(w), pre, bap)[0].W == a).all()
    assert (a != b).any() and (a != c).any()
