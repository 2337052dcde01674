"""Bit-identity check for refactors (issue 12): hash compiled artifacts (every array, the rule, report,
provenance, the manifest digest with the profile path blanked), native runs (fixed, float, learning, a
relowered rule) and validate reports over 7 configurations, with wall-clock time and the UTC stamp frozen.

    python tools/refactor_hashes.py before.json          # at the old commit (see below)
    python tools/refactor_hashes.py after.json
    python tools/refactor_hashes.py --compare before.json after.json

An old commit without installing it: ``git worktree add --detach /tmp/old REV``, then in /tmp/old link
``neurochip/compiler -> ../compiler``, ``neurochip/backends -> ../backends``, ``neurochip/kernels -> ../kernels``
and run with ``PYTHONPATH=/tmp/old`` from outside the repository.
"""
import hashlib, json, sys, tempfile, os, time, datetime
time.perf_counter = lambda: 0.0
import neurochip.compiler.emit as _emit
class _FixedDT:
    timezone = datetime.timezone
    class datetime:
        @staticmethod
        def now(tz=None):
            return datetime.datetime(2026, 1, 1, tzinfo=tz)
_emit._dt = _FixedDT
import numpy as np
import scipy.sparse as sp
from dataclasses import fields

from neurochip.network import NeuronParams, init_network
from neurochip.rules import LearningRule
from neurochip.compiler import compile, CompileOptions, SparseNetwork
from neurochip.compiler.artifact import CompiledNetwork
from neurochip.backends import get_backend

def h_arr(a):
    if sp.issparse(a):
        a = sp.csr_matrix(a)
        return hashlib.sha256(a.indptr.tobytes() + a.indices.tobytes() + a.data.tobytes()).hexdigest()[:16]
    a = np.ascontiguousarray(a)
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()[:16]

def h_obj(o):
    return hashlib.sha256(json.dumps(o, sort_keys=True, default=lambda x: h_arr(x) if isinstance(x, np.ndarray) else str(x)).encode()).hexdigest()[:16]

SKIP = {"report", "provenance"}
def h_compiled(cn):
    out = {}
    for f in fields(cn):
        v = getattr(cn, f.name)
        if f.name == "rule" and v is not None:
            for rf in fields(v):
                rv = getattr(v, rf.name)
                out["rule." + rf.name] = h_arr(rv) if isinstance(rv, np.ndarray) else repr(rv)
        elif isinstance(v, np.ndarray) or sp.issparse(v):
            out[f.name] = h_arr(v)
        elif f.name in SKIP:
            rep = dict(v); 
            if f.name == "report":
                rep = {k: x for k, x in rep.items() if k != "timing_s"}
            if f.name == "provenance":
                rep = {k: x for k, x in rep.items() if k not in ("profile_path",)}
            out[f.name] = h_obj(rep)
        elif f.name == "profile":
            out[f.name] = h_obj({k: x for k, x in __import__("dataclasses").asdict(v).items() if k != "path"})
        else:
            out[f.name] = repr(v)
    return out

def h_result(r):
    d = {}
    for k in ("spikes", "outputs"):
        v = getattr(r, k, None)
        if v is not None: d[k] = h_arr(v)
    lw = getattr(r, "weights", None) or getattr(r, "learned", None)
    if isinstance(lw, dict):
        for k, v in lw.items():
            if isinstance(v, np.ndarray): d["w." + k] = h_arr(v)
    d["counts"] = h_obj(r.counts.scalars())
    return d

def configs():
    alif = init_network(20, 60, 2, seed=3, p_rec=0.4)
    lif = init_network(20, 60, 2, NeuronParams(kind="lif", n_ref=1), seed=4, p_rec=0.4)
    yield "alif_loihi2_eprop_sym", alif, "loihi2", LearningRule(name="eprop_symmetric", lr=1e-3), CompileOptions()
    yield "lif_loihi2_eprop_rand_stoch", lif, "loihi2", LearningRule(name="eprop_random", lr=3e-3), CompileOptions.make(rounding="stochastic", seed=5)
    yield "alif_generic_adaptive", alif, "generic", LearningRule(name="eprop_adaptive"), CompileOptions()
    yield "lif_loihi1_norule", lif, "loihi1", None, CompileOptions.make(approximate=("reset",))
    yield "alif_reckon_sym", alif, "reckon", LearningRule(name="eprop_symmetric", eligibility="factorised"), CompileOptions.make(approximate=("adaptation", "refractory"))
    pat = init_network(100, 40, 3, NeuronParams(kind="lif", n_ref=1), seed=7, p_rec=0.3)
    yield "pattern_loihi2_random_learnval", pat, "loihi2", LearningRule(name="eprop_random", lr=2e-3), CompileOptions()
    s = SparseNetwork(lif.params, lif.w_in, sp.csr_matrix(lif.w_rec), lif.w_out, lif.b_out, lif.B, lif.beta)
    yield "lif_sparse_loihi2_norule", s, "loihi2", None, CompileOptions()

def compare(a_path, b_path):
    a, b = json.load(open(a_path)), json.load(open(b_path))
    n = 0

    def walk(x, y, path):
        nonlocal n
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x or k not in y:
                    print(("NEW  " if k not in x else "GONE ") + path + "/" + k); n += 1
                else:
                    walk(x[k], y[k], path + "/" + k)
        elif x != y:
            print("DIFF", path, str(x)[:80], "->", str(y)[:80]); n += 1
    walk(a, b, "")
    print(f"{n} differences")


if sys.argv[1] == "--compare":
    compare(sys.argv[2], sys.argv[3])
    sys.exit(0)
res = {}
native = get_backend("native")
tmp = tempfile.mkdtemp()
for name, net, prof, rule, opt in configs():
    try:
        cn = compile(net, prof, rule, options=opt)
    except Exception as e:
        res[name] = {"error": f"{type(e).__name__}: {e}"}; continue
    r = {"compiled": h_compiled(cn)}
    stem = os.path.join(tmp, name)
    import dataclasses as _dc
    cn_np = _dc.replace(cn, profile=_dc.replace(cn.profile, path="X"), provenance={**cn.provenance, "profile_path": "X"})
    cn_np.save(stem + "_np")
    r["saved_manifest_digest_nopath"] = json.load(open(stem + "_np.json")).get("digest")
    cn.save(stem)
    # (the digest of the file as saved names the profile path, which differs between checkouts: not kept)
    cn2 = CompiledNetwork.load(stem)
    r["reloaded_equal"] = h_compiled(cn2) == r["compiled"]
    rng = np.random.default_rng(0)
    x = (rng.random((4, 120, cn.n_in)) < 0.05).astype(np.uint8)
    r["run_fixed"] = h_result(native.run(cn, x))
    if not cn.is_sparse:
        r["run_float"] = h_result(native.run(cn, x, mode="float"))
    if cn.rule is not None:
        tgt = rng.standard_normal((4, 120, cn.n_out)) * 0.1
        lr_ = native.run(cn, x, learn=True, targets=tgt)
        r["run_learn"] = h_result(lr_)
        r["learn_meta_keys"] = sorted(lr_.meta)
        r["learn_w"] = {k: h_arr(v) for k, v in (lr_.meta.get("learn_state") or {}).items() if isinstance(v, np.ndarray)} if isinstance(lr_.meta.get("learn_state"), dict) else None
    if cn.rule is not None and getattr(cn.rule, "w_lsb", None) is not None:
        from neurochip.onchip import prepare_rule
        c3 = prepare_rule(cn, lr=7e-4)
        r["relowered"] = h_compiled(c3)
        r["relowered_learn"] = h_result(native.run(c3, x, learn=True, targets=tgt))
    if not cn.is_sparse:
        from neurochip.validate import validate
        rep, plot = validate(cn, backend="native")
        r["validate"] = h_obj({k: v for k, v in rep.items() if k != "chip_meta"})
        r["validate_chip_meta"] = {k: v for k, v in rep["chip_meta"].items() if "time" not in k and not k.endswith("_s")}
        r["validate_metrics"] = rep["metrics"].get("weight_drift_per_projection")
        r["validate_plot"] = {k: h_arr(v) for k, v in plot.items() if isinstance(v, np.ndarray)}
    if name.endswith("learnval"):
        from neurochip.validate import validate, make_inputs
        inp = make_inputs(cn, task="pattern", trials=4, seed=1)
        rep, plot = validate(cn, backend="native", learn=True, inputs=inp)
        r["validate_learn"] = h_obj({k: v for k, v in rep.items() if k != "chip_meta"})
        r["validate_learn_metrics"] = rep["metrics"]
        r["validate_learn_plot"] = {k: h_arr(v) for k, v in plot.items() if isinstance(v, np.ndarray)}
    res[name] = r
json.dump(res, open(sys.argv[1], "w"), indent=1, sort_keys=True, default=str)
print("written", sys.argv[1])
