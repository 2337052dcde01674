"""brian2 backend: the float network in brian2 2.9 with our exact discrete-time semantics.

``run(compiled_or_network, inputs, ...) -> RunResult`` runs the float network (a `Network`, or the
``*_float`` fields of a `CompiledNetwork`) and is an independent implementation of the equations in
`neurochip.network` (the e-prop paper's discrete-time LIF/ALIF), not an ODE integration:

- state is plain variables updated in ``run_regularly`` before the threshold, in the order of
  ``kernels/float_forward.py``: ``a = rho a + c_a zp``, ``v = alpha v + c_in (I_in + I_syn) - v_th zp``
  (reset by subtraction one step later, through ``zp = z^{t-1}``);
- threshold ``v > v_th + beta a and r <= 0``; reset code ``zp = 1; r += n_ref``; ``r = clip(r - 1, 0,
  n_ref)`` at the end of the step (a spike at t silences t+1 .. t+n_ref-1);
- recurrent spikes reach ``I_syn`` through ``Synapses(on_pre='I_syn_post += w')`` in the synapses slot
  after the threshold, so they are consumed next step (z^{t-1}); synapses are created sorted by
  (pre, post), so each I_syn is summed in ascending presynaptic order, as in the float kernel;
- ``W_in x^t`` is precomputed (inputs in ascending order, the float kernel's order) into a TimedArray;
- the readout ``y = kappa y + c_kappa sum_j w_out[k, j] z_j^t`` runs at the end of the same step.

A batch runs as one brian2 network of B disconnected copies (block-diagonal synapses), so one build
and one run serve every trial.

Targets: 'cython' (default: runtime code generation compiled once per network structure and then
cached; for one-off runs of 1000-step trials it is the fastest target end to end - cpp_standalone runs
the loop ~2x faster but pays a 12-16 s g++ build per network, which only pays off for many re-runs),
'numpy' (no compiler; fastest for tiny networks and short runs, used by the tests), and
'cpp_standalone' (benchmarks; built in a temporary directory). Strict floating point everywhere
(``-fno-fast-math -ffp-contract=off``, no ``-march=native``) so C++ targets are bit-identical to the
numpy target and to ``neurochip.simulate``; the Cython cache does not notice flag changes, so it lives in
its own directory ``$XDG_CACHE_HOME/neurochip/brian2-cython-strict`` (default ~/.cache/...).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from ..backend_contract import FLOAT_WEIGHT_BITS, Capabilities, EventCounts, RunResult, check_record, float_network, reject_unknown_options
from ..errors import BackendError

NAME = "brian2"
TARGETS = ("cython", "numpy", "cpp_standalone")
CAPABILITIES = Capabilities(
    arithmetic="float", accepts_network=True, learning="none", records=("spikes", "outputs", "v"),
    options=("target",), counts="spikes", startup_s=2.0)
STRICT_FLAGS = ["-w", "-O3", "-fno-fast-math", "-ffp-contract=off", "-std=c++11"]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "neurochip" / "brian2-cython-strict"


def _as_network(obj):
    """A `Network` as is; a CompiledNetwork's source float network (its ``*_float`` fields)."""
    return float_network(obj)


def _setup_prefs(b2, target: str) -> None:
    b2.prefs.codegen.cpp.extra_compile_args_gcc = list(STRICT_FLAGS)
    b2.prefs.codegen.cpp.extra_compile_args_msvc = ["/Od"]
    if target == "cpp_standalone":
        return
    b2.prefs.codegen.target = target
    if target == "cython":
        d = cache_dir()
        d.mkdir(parents=True, exist_ok=True)
        b2.prefs.codegen.runtime.cython.cache_dir = str(d)


def input_current(net, x: np.ndarray) -> np.ndarray:
    """W_in x^t for every trial and step: [T, B * n_rec], summed over inputs in ascending order."""
    B, T, n_in = x.shape
    w_in_t = np.ascontiguousarray(net.w_in.T)
    cur = np.zeros((T, B, net.n_rec))
    xt = np.transpose(x, (1, 0, 2))                  # [T, B, n_in]
    for i in range(n_in):
        cur += xt[:, :, i, None] * w_in_t[i][None, None, :]   # same sequence of adds as float_forward
    return cur.reshape(T, B * net.n_rec)


def build(net, x: np.ndarray, *, record_v: bool = False):
    """Create the brian2 objects for the batch ``x [B, T, n_in]``; returns (b2.Network, handles dict)."""
    import brian2 as b2

    p = net.params
    B, T, _ = x.shape
    n_rec, n_out = net.n_rec, net.n_out
    N = B * n_rec
    clock = b2.Clock(dt=p.dt * b2.ms)
    I_in = b2.TimedArray(input_current(net, x), dt=p.dt * b2.ms)
    # constants are shared group variables, not namespace values: brian2 inlines namespace scalars into
    # the generated code, so every new tau / v_th would recompile (~30 s with cython); as variables the
    # generated code is the same for every network and the cython cache hits
    ns = dict(I_in=I_in)
    G = b2.NeuronGroup(N, "v : 1\na : 1\nzp : 1\nr : 1\nI_syn : 1\nbeta : 1 (constant)\n"
                          "alpha : 1 (shared, constant)\nrho : 1 (shared, constant)\nc_in : 1 (shared, constant)\n"
                          "c_a : 1 (shared, constant)\nv_th : 1 (shared, constant)\nn_ref : 1 (shared, constant)",
                       threshold="v > v_th + beta*a and r <= 0", reset="zp = 1\nr += n_ref",
                       namespace=ns, clock=clock, name="rec")
    G.beta = np.tile(net.beta, B)
    G.alpha, G.rho, G.c_in, G.c_a, G.v_th, G.n_ref = p.alpha, p.rho, p.c_in, p.c_a, p.v_th, float(p.n_ref)
    G.run_regularly("a = rho*a + c_a*zp\nv = alpha*v + c_in*(I_in(t, i) + I_syn) - v_th*zp\nzp = 0\nI_syn = 0",
                    when="before_thresholds", name="rec_update")
    G.run_regularly("r = clip(r - 1, 0, n_ref)", when="end", name="rec_refractory")
    R = b2.NeuronGroup(B * n_out, "y : 1\nI_out : 1\nkappa : 1 (shared, constant)\nc_kappa : 1 (shared, constant)",
                       namespace=ns, clock=clock, name="readout")
    R.kappa, R.c_kappa = p.kappa, p.c_kappa
    R.run_regularly("y = kappa*y + c_kappa*I_out\nI_out = 0", when="end", order=0, name="readout_update")
    objs = [G, R]
    # recurrent synapses, block-diagonal over the batch, sorted by (pre, post)
    post, pre = np.nonzero(net.rec_mask)               # existing synapses, rec_mask is [post, pre]
    order = np.lexsort((post, pre))
    pre, post = pre[order], post[order]
    if pre.size:
        S = b2.Synapses(G, G, "w : 1", on_pre="I_syn_post += w", clock=clock, name="rec_syn")
        offs = (np.arange(B) * n_rec)[:, None]
        S.connect(i=(pre[None] + offs).ravel(), j=(post[None] + offs).ravel())
        S.w = np.tile(net.w_rec[post, pre], B)
        objs.append(S)
    jj, kk = np.meshgrid(np.arange(n_rec), np.arange(n_out), indexing="ij")   # sorted by (pre j, post k)
    So = b2.Synapses(G, R, "w : 1", on_pre="I_out_post += w", clock=clock, name="out_syn")
    bo = np.arange(B)[:, None]
    So.connect(i=(jj.ravel()[None] + bo * n_rec).ravel(), j=(kk.ravel()[None] + bo * n_out).ravel())
    So.w = np.tile(net.w_out[kk.ravel(), jj.ravel()], B)
    objs.append(So)
    sm = b2.SpikeMonitor(G, name="spikes")
    ym = b2.StateMonitor(R, "y", record=True, when="end", order=10, name="ymon")
    objs += [sm, ym]
    vm = None
    if record_v:
        vm = b2.StateMonitor(G, "v", record=True, when="end", order=10, name="vmon")
        objs.append(vm)
    return b2.Network(*objs), dict(sm=sm, ym=ym, vm=vm, clock=clock, T=T, B=B)


def _collect(net, h) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    B, T = h["B"], h["T"]
    n_rec, n_out = net.n_rec, net.n_out
    dt = float(h["clock"].dt_)
    idx = np.asarray(h["sm"].i[:], dtype=np.int64)
    step = np.rint(np.asarray(h["sm"].t_[:]) / dt).astype(np.int64)
    z = np.zeros((B, T, n_rec), np.uint8)
    z[idx // n_rec, step, idx % n_rec] = 1
    y = np.asarray(h["ym"].y[:])                      # [B*n_out, T]
    y = y.reshape(B, n_out, T).transpose(0, 2, 1)
    v = None
    if h["vm"] is not None:
        v = np.asarray(h["vm"].v[:]).reshape(B, n_rec, T).transpose(0, 2, 1).copy()
    return z, np.ascontiguousarray(y), v


def run(compiled_or_network, inputs, *, learn: bool = False, targets=None, record=("spikes", "outputs"),
        target: str = "cython", seed: int = 0, **unknown) -> RunResult:
    """Run the float network on ``inputs [B, T, n_in]`` in brian2 (see module docstring).

    record: 'v' adds the membrane [B, T, n_rec] float64. target: 'cython' | 'numpy' | 'cpp_standalone'.
    Returns `RunResult` (backend 'brian2'): spikes uint8, outputs = y + b_out float64, counts from the
    spikes when a CompiledNetwork was given (placement needed), else only spikes/steps/updates.
    meta: build_s (code generation / compilation), run_s (simulation), target.
    Unknown keyword arguments are an error (`BackendError` naming them). ``targets`` and ``seed`` are
    part of the common contract and unused here (no learning, no randomness).
    """
    reject_unknown_options(NAME, CAPABILITIES, unknown)
    if learn:
        raise BackendError("the brian2 backend is an inference reference; learning runs on 'native' "
                           "(float rules: neurochip.learning)")
    if target not in TARGETS:
        raise BackendError(f"unknown brian2 target {target!r}; known: {', '.join(TARGETS)}")
    from neurochip.simulate import check_inputs

    net = _as_network(compiled_or_network)
    x = check_inputs(net, inputs)
    want_v = "v" in check_record(NAME, CAPABILITIES, record)
    try:
        import brian2 as b2
    except ImportError as e:
        raise BackendError(f"brian2 is not importable ({e}); it is a required dependency") from None
    _setup_prefs(b2, target)
    t0 = time.perf_counter()
    B, T, _ = x.shape
    if target == "cpp_standalone":
        z, y, v, build_s, run_s = _run_standalone(b2, net, x, want_v)
    else:
        bnet, h = build(net, x, record_v=want_v)
        bnet.run(0 * b2.ms, namespace={})     # code generation + (cython) compilation or cache load only
        t1 = time.perf_counter()
        bnet.run(T * net.params.dt * b2.ms, namespace={})
        run_s = time.perf_counter() - t1
        build_s = t1 - t0
        z, y, v = _collect(net, h)
    counts = _counts(compiled_or_network, x, z, net)
    return RunResult(spikes=z, outputs=y + net.b_out[None, None, :], counts=counts, backend=NAME, v=v,
                     meta={"target": target, "build_s": build_s, "run_s": run_s,
                           "wall_s": time.perf_counter() - t0, "flags": STRICT_FLAGS})


def _run_standalone(b2, net, x, want_v):
    """cpp_standalone in a temporary directory (device reset afterwards so later runs are unaffected)."""
    T = x.shape[1]
    with tempfile.TemporaryDirectory(prefix="neurochip-brian2-") as d:
        b2.set_device("cpp_standalone", directory=d, build_on_run=False)
        try:
            b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]
            bnet, h = build(net, x, record_v=want_v)
            bnet.run(T * net.params.dt * b2.ms, namespace={})
            t0 = time.perf_counter()
            b2.device.build(directory=d, compile=True, run=False, with_output=False)
            t1 = time.perf_counter()
            b2.device.run(directory=d, with_output=False)
            t2 = time.perf_counter()
            z, y, v = _collect(net, h)
        finally:
            b2.device.reinit()
            b2.device.activate()
            b2.set_device("runtime")
    return z, y, v, t1 - t0, t2 - t1


def _counts(obj, x, z, net):
    if hasattr(obj, "core_of"):
        from .counts import counts_from_spikes
        return counts_from_spikes(obj, (x != 0).astype(np.uint8), z, weight_bits=FLOAT_WEIGHT_BITS)
    B, T, _ = x.shape
    return EventCounts(steps=B * T, trials=B, neuron_updates=(net.n_rec + net.n_out) * B * T,
                       spikes=int(z.sum()), input_spikes=int((x != 0).sum()))
