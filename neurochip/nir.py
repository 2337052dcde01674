"""NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0) export and import of a float `Network`.

Export (`to_nir`): the network as a standard NIR graph that snnTorch, Norse, Rockpool, Lava-DL ... read,

    input -> w_in (Linear) -> rec (LIF) -> w_out (Linear) -> readout (LI) [-> bias (Affine I, b_out)] -> output
                               rec -> w_rec (Linear) -> rec          (the recurrent cycle)

plus everything neurochip needs to read it back *exactly* in metadata (graph key ``neurochip``): the
`NeuronParams` (JSON), beta, the feedback matrix B, the recurrent mask and, optionally, the on-chip
`LearningRule`. Standard readers see a plain LIF network; what they cannot read is listed in the
graph's ``neurochip_not_standard`` string and on the ``rec`` node (docs/nir.md).

Continuous -> discrete (docs/nir.md). NIR's LIF is ``tau dv/dt = (v_leak - v) + r I``; neurochip's
discrete step is ``v^t = alpha v^{t-1} + c_in I^t``. We write NIR's parameters in the *forward-Euler*
convention the common readers use (snnTorch, Norse, Spyx, the Lava importers):
``v <- (1 - dt/tau) v + (dt r / tau) I``. So ``tau = dt / (1 - alpha)`` (seconds) and
``r = c_in tau / dt`` give exactly neurochip's alpha and input gain under Euler with the graph's dt
(``metadata['dt']``, seconds). The readout likewise: LI with ``tau = dt/(1 - kappa)``, ``r = c_kappa tau/dt``.
Threshold: NIR and neurochip both spike on ``v > v_th`` (strict). Reset: neurochip subtracts v_th at the
next step; NIR's LIF can only say ``v_reset`` (hard reset), so the standard node carries ``v_reset = 0``
and the subtraction is an extension. Delays: input spikes x^t act in the same step, recurrent spikes
z^{t-1} one step later (the cycle's natural delay in every discrete-time reader); no NIR Delay node.

Import (`from_nir`): our own graphs (metadata present) come back bit-identical; graphs written by other
tools are mapped as described in docs/nir.md: a chain of Linear/Affine(zero bias) -> LIF (or CubaLIF
with a memoryless synapse) layers, each optionally recurrent, becomes ONE recurrent population whose
W_rec holds the recurrent blocks and the layer-to-layer blocks (each feed-forward layer edge then costs
one step of delay: layer k's spikes at t reach layer k+1 at t+1); a final Linear -> LI becomes the
readout, otherwise the last spiking layer is read out through an identity W_out.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ArtifactError, InvalidNetworkError
from .network import Network, NeuronParams
from .rules import LearningRule

FORMAT = "neurochip-nir"
SCHEMA = 1
MS_PER_S = 1e3
# What a reader that knows only standard NIR cannot represent (kept in the file so other tools can tell users).
NOT_STANDARD_LIF = ("reset by subtraction of v_th at the next step (the LIF node says v_reset = 0, a hard reset)",
                    "refractory period n_ref steps (NIR has no refractory field)",
                    "surrogate-gradient slope gamma_pd (learning only)")
NOT_STANDARD_ALIF = ("adaptive threshold (ALIF): A = v_th + beta a, a <- rho a + c_a z; NIR has no ALIF node, "
                     "the LIF node is the membrane only",)
NOT_STANDARD_RULE = ("on-chip plasticity (neurochip LearningRule and feedback matrix B); NIR has no plasticity node",)
_TOL = 1e-9  # relative tolerance when checking a graph's standard fields against its neurochip metadata


def _nir():
    try:
        import nir  # noqa: WPS433 (optional at import time of neurochip)
    except ImportError:  # pragma: no cover - nir is a dependency; a broken install is the only way here
        raise InvalidNetworkError("NIR support needs the 'nir' package (pip install 'nir==1.0.*')") from None
    return nir


# ---------------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------------
def _euler_tau(decay: float, dt_s: float) -> float:
    """NIR tau (s) whose forward-Euler step with dt_s has decay factor ``decay`` (1 - dt/tau = decay)."""
    return dt_s / (1.0 - decay)


def to_nir(net: Network, rule: LearningRule | None = None):
    """The network (and optionally its on-chip learning rule) as a ``nir.NIRGraph`` (module docstring)."""
    nir = _nir()
    if not isinstance(net, Network):
        raise InvalidNetworkError(f"to_nir needs a neurochip Network, got {type(net).__name__}")
    if rule is not None and not isinstance(rule, LearningRule):
        raise InvalidNetworkError(f"rule must be a LearningRule or None, got {type(rule).__name__}")
    p = net.params
    dt_s = p.dt / MS_PER_S
    n, n_in, n_out = net.n_rec, net.n_in, net.n_out
    tau_m = _euler_tau(p.alpha, dt_s)
    tau_o = _euler_tau(p.kappa, dt_s)
    lossy = list(NOT_STANDARD_LIF)
    if p.kind == "alif":
        lossy += NOT_STANDARD_ALIF
    if rule is not None:
        lossy += NOT_STANDARD_RULE
    warn = ("neurochip extension: a standard NIR reader sees a LIF network with hard reset; it cannot represent: "
            + "; ".join(lossy) + ". Read this file with neurochip.nir.from_nir for the exact network.")
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "w_in": nir.Linear(weight=np.array(net.w_in)),
        "rec": nir.LIF(tau=np.full(n, tau_m), r=np.full(n, p.c_in * tau_m / dt_s), v_leak=np.zeros(n),
                       v_threshold=np.full(n, p.v_th), v_reset=np.zeros(n),
                       metadata={"neurochip_model": p.kind, "neurochip_warning": warn}),
        "w_rec": nir.Linear(weight=np.array(net.w_rec)),
        "w_out": nir.Linear(weight=np.array(net.w_out)),
        "readout": nir.LI(tau=np.full(n_out, tau_o), r=np.full(n_out, p.c_kappa * tau_o / dt_s), v_leak=np.zeros(n_out)),
        "output": nir.Output(output_type={"output": np.array([n_out])}),
    }
    edges = [("input", "w_in"), ("w_in", "rec"), ("rec", "w_rec"), ("w_rec", "rec"), ("rec", "w_out"),
             ("w_out", "readout")]
    if np.any(net.b_out != 0):
        # bias after the readout filter (o = y + b): an identity Affine behind the LI
        nodes["bias"] = nir.Affine(weight=np.eye(n_out), bias=np.array(net.b_out))
        edges += [("readout", "bias"), ("bias", "output")]
    else:
        edges.append(("readout", "output"))
    meta: dict[str, Any] = {
        "dt": dt_s,                      # seconds: NIR has no dt field; readers need it for the Euler mapping
        "discretization": "euler",
        "neurochip": {
            "format": FORMAT, "schema": SCHEMA,
            "params": json.dumps(p.to_dict(), sort_keys=True),
            "beta": np.array(net.beta), "B": np.array(net.B),
            "rec_mask": np.array(net.rec_mask, dtype=np.uint8),
            "b_out": np.array(net.b_out),
            "rule": "" if rule is None else json.dumps(rule.to_dict(), sort_keys=True),
        },
        "neurochip_not_standard": warn,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_nir(path: str | Path, net: Network, rule: LearningRule | None = None) -> Path:
    """Write ``net`` (and ``rule``) to a NIR HDF5 file; atomic (a temporary file renamed at the end)."""
    nir = _nir()
    path = Path(path)
    graph = to_nir(net, rule)
    tmp = path.with_name(path.name + ".partial")
    try:
        nir.write(str(tmp), graph)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ---------------------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NirImport:
    """Result of reading a NIR graph.

    network:  the float `Network`
    rule:     the `LearningRule` stored by neurochip's export, else None
    exact:    True when the graph carried neurochip metadata (bit-identical round trip)
    layers:   for foreign graphs, (name, first neuron, n neurons) of each spiking layer in the population
    notes:    what the mapping did (dt used, gains folded into weights, delays added, ...)
    """

    network: Network
    rule: LearningRule | None
    exact: bool
    layers: tuple[tuple[str, int, int], ...]
    notes: tuple[str, ...]


def read_nir(path: str | Path, *, dt: float | None = None, tau_out_ms: float | None = None) -> NirImport:
    """Read a NIR file (any writer) into a neurochip network; see `from_nir` for ``dt`` and ``tau_out_ms``."""
    nir = _nir()
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such NIR file")
    try:
        graph = nir.read(str(path))
    except Exception as e:  # h5py / nir raise many kinds; one clear line instead
        raise ArtifactError(f"{path}: not a readable NIR file ({type(e).__name__}: {e})") from None
    return from_nir(graph, dt=dt, tau_out_ms=tau_out_ms)


def from_nir(graph, *, dt: float | None = None, tau_out_ms: float | None = None) -> NirImport:
    """A ``nir.NIRGraph`` as a neurochip `Network` (+ rule).

    dt:         the graph's time step in seconds, needed for graphs from other tools that do not store it
                (snnTorch exports with dt = 1e-4 s, Norse with 1e-3 s); default: ``graph.metadata['dt']``.
    tau_out_ms: readout time constant for graphs whose output is spikes (no LI readout); default tau_m.
    """
    nc = _meta(graph).get("neurochip")
    if isinstance(nc, dict) and nc.get("format") == FORMAT:
        return _from_own(graph, nc)
    return _from_foreign(graph, dt, tau_out_ms)


def _meta(obj) -> dict:
    m = getattr(obj, "metadata", None)
    return m if isinstance(m, dict) else {}


def _as_str(v) -> str:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return _as_str(v.item())
    return str(v)


def _close(a, b) -> bool:
    a = np.asarray(a, dtype=np.float64); b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= _TOL * np.maximum(1.0, np.abs(b))))


def _from_own(graph, nc: dict) -> NirImport:
    """A graph neurochip wrote: the metadata gives the exact network; the standard fields are checked
    against it so an edited file is refused rather than silently half-applied."""
    schema = int(nc.get("schema", -1))
    if schema != SCHEMA:
        raise ArtifactError(f"NIR graph has neurochip schema {schema}; this neurochip reads schema {SCHEMA}")
    try:
        params = NeuronParams.from_dict(json.loads(_as_str(nc["params"])))
        nodes = graph.nodes
        w_in, w_rec, w_out = (np.asarray(nodes[k].weight, dtype=np.float64) for k in ("w_in", "w_rec", "w_out"))
        net = Network(params=params, w_in=w_in, w_rec=w_rec, w_out=w_out, b_out=np.asarray(nc["b_out"], np.float64),
                      B=np.asarray(nc["B"], np.float64), beta=np.asarray(nc["beta"], np.float64),
                      rec_mask=np.asarray(nc["rec_mask"]).astype(bool))
        rule_s = _as_str(nc.get("rule", ""))
        rule = LearningRule.from_dict(json.loads(rule_s)) if rule_s else None
    except KeyError as e:
        raise ArtifactError(f"NIR graph with neurochip metadata lacks {e}") from None
    # consistency of the standard fields with the metadata (someone may have edited one of them)
    ref = to_nir(net, rule)
    for name in ("rec", "readout"):
        for fld in ("tau", "r", "v_threshold", "v_leak"):
            if hasattr(ref.nodes[name], fld) and not _close(getattr(nodes[name], fld), getattr(ref.nodes[name], fld)):
                raise ArtifactError(f"NIR node '{name}'.{fld} disagrees with its neurochip metadata "
                                    "(edited file?); refusing an inconsistent graph")
    if "bias" in nodes and not _close(nodes["bias"].bias, net.b_out):
        raise ArtifactError("NIR node 'bias'.bias disagrees with its neurochip metadata (edited file?)")
    return NirImport(network=net, rule=rule, exact=True, layers=(("rec", 0, net.n_rec),),
                     notes=("neurochip metadata: exact round trip",))


# --- foreign graphs --------------------------------------------------------------------------------
_SPIKING = ("LIF", "CubaLIF")
_WEIGHT = ("Linear", "Affine")


def _kind(node) -> str:
    return type(node).__name__


def _flatten(graph, prefix: str = ""):
    """Nodes and edges with sub-graphs inlined (their Input/Output nodes bypassed)."""
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    sub_io: dict[str, tuple[list[str], list[str]]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            n2, e2 = _flatten(node, full + ".")
            ins = [k for k, v in n2.items() if _kind(v) == "Input"]
            outs = [k for k, v in n2.items() if _kind(v) == "Output"]
            into = [d for s, d in e2 if s in ins]
            outof = [s for s, d in e2 if d in outs]
            sub_io[full] = (into, outof)
            nodes.update({k: v for k, v in n2.items() if k not in ins and k not in outs})
            edges += [(s, d) for s, d in e2 if s not in ins and d not in outs]
        else:
            nodes[full] = node
    for s, d in graph.edges:
        s, d = prefix + s, prefix + d
        srcs = sub_io[s][1] if s in sub_io else [s]
        dsts = sub_io[d][0] if d in sub_io else [d]
        edges += [(a, b) for a in srcs for b in dsts]
    return nodes, edges


def _vec(x, n: int, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.size == 1:
        return np.full(n, float(a.reshape(-1)[0]))
    if a.reshape(-1).shape != (n,):
        raise InvalidNetworkError(f"{what} has shape {a.shape}, expected ({n},) or a scalar")
    return a.reshape(-1)


def _weight(node, name: str) -> np.ndarray:
    w = np.asarray(node.weight, dtype=np.float64)
    if w.ndim != 2:
        raise InvalidNetworkError(f"NIR node '{name}' ({_kind(node)}) has a {w.ndim}-D weight; only 2-D [out, in] is supported")
    if _kind(node) == "Affine" and np.any(np.asarray(node.bias) != 0):
        raise InvalidNetworkError(f"NIR node '{name}' is an Affine with a non-zero bias; neurochip's neurons have no "
                                  "bias current (use Linear, or bias = 0)")
    return w


def _from_foreign(graph, dt: float | None, tau_out_ms: float | None) -> NirImport:
    nodes, edges = _flatten(graph)
    meta_dt = _meta(graph).get("dt")
    if dt is None and meta_dt is not None:
        dt = float(meta_dt)
    if dt is None:
        raise InvalidNetworkError("this NIR graph does not store its time step: give dt in seconds "
                                  "(snnTorch exports with dt = 1e-4 s, Norse with 1e-3 s)")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise InvalidNetworkError(f"dt must be a number of seconds > 0, got {dt!r}")
    notes = [f"forward-Euler discretisation with dt = {dt:g} s (decay = 1 - dt/tau, input gain = dt r / tau)"]
    allowed = set(_SPIKING) | set(_WEIGHT) | {"Input", "Output", "LI"}
    for name, node in nodes.items():
        if _kind(node) not in allowed:
            raise InvalidNetworkError(f"NIR node '{name}' is a {_kind(node)}; neurochip imports Input, Linear, Affine "
                                      "(zero bias), LIF, CubaLIF (memoryless synapse), LI and Output")
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    succs: dict[str, list[str]] = {k: [] for k in nodes}
    for s, d in edges:
        succs[s].append(d); preds[d].append(s)
    inputs = [k for k, v in nodes.items() if _kind(v) == "Input"]
    if len(inputs) != 1:
        raise InvalidNetworkError(f"neurochip imports graphs with exactly one Input node, found {len(inputs)}")
    spiking = [k for k, v in nodes.items() if _kind(v) in _SPIKING]
    if not spiking:
        raise InvalidNetworkError("the NIR graph has no LIF/CubaLIF node: nothing to map onto neurochip's neurons")
    # layer sizes and neuron parameters
    sizes, alphas, gains, vths = {}, {}, {}, {}
    for k in spiking:
        nd = nodes[k]
        tau = np.asarray(nd.tau_mem if _kind(nd) == "CubaLIF" else nd.tau, dtype=np.float64).reshape(-1)
        n = int(np.asarray(nd.v_threshold).size) if tau.size == 1 else tau.size
        tau = _vec(tau, n, f"'{k}'.tau")
        r = _vec(nd.r, n, f"'{k}'.r")
        v_leak = _vec(nd.v_leak, n, f"'{k}'.v_leak")
        vth = _vec(nd.v_threshold, n, f"'{k}'.v_threshold")
        v_reset = _vec(nd.v_reset if nd.v_reset is not None else 0.0, n, f"'{k}'.v_reset")
        if np.any(v_leak != 0) or np.any(v_reset != 0):
            raise InvalidNetworkError(f"NIR node '{k}': neurochip's neurons rest and reset at 0; v_leak and v_reset must be 0")
        if np.any(vth <= 0):
            raise InvalidNetworkError(f"NIR node '{k}': v_threshold must be > 0, got min {vth.min()!r}")
        gain = dt * r / tau
        if _kind(nd) == "CubaLIF":
            syn_decay = 1.0 - dt / _vec(nd.tau_syn, n, f"'{k}'.tau_syn")
            if np.any(np.abs(syn_decay) > 1e-12):
                raise InvalidNetworkError(
                    f"NIR node '{k}' is a CubaLIF with synaptic current decay {float(np.max(np.abs(syn_decay))):g} "
                    "(1 - dt/tau_syn): neurochip's float network has no synaptic current state; only tau_syn = dt "
                    "(memoryless synapse) maps exactly")
            gain = gain * dt * _vec(nd.w_in, n, f"'{k}'.w_in") / _vec(nd.tau_syn, n, f"'{k}'.tau_syn")
        alphas[k] = 1.0 - dt / tau
        gains[k] = gain
        vths[k] = vth
        sizes[k] = n
    all_alpha = np.concatenate([alphas[k] for k in spiking])
    if np.ptp(all_alpha) > 1e-6 * max(1e-12, abs(all_alpha[0])):
        raise InvalidNetworkError(f"neurochip has one membrane decay per network; the graph's LIF decays range over "
                                  f"[{all_alpha.min():.9g}, {all_alpha.max():.9g}] (1 - dt/tau)")
    alpha = float(all_alpha.mean())
    if not (0.0 < alpha < 1.0):
        raise InvalidNetworkError(f"membrane decay 1 - dt/tau = {alpha:g} must lie in (0, 1) (dt = {dt:g} s)")
    # order the spiking layers from the input: breadth-first over weight nodes
    order, first = [], {}
    off = 0
    frontier = [inputs[0]]
    seen = set(frontier)
    while frontier:
        nxt = []
        for s in frontier:
            for d in succs[s]:
                if d in seen:
                    continue
                seen.add(d); nxt.append(d)
                if d in sizes:
                    order.append(d); first[d] = off; off += sizes[d]
        frontier = nxt
    missing = set(spiking) - set(order)
    if missing:
        raise InvalidNetworkError(f"spiking node(s) {sorted(missing)} are not reachable from the Input node")
    n_rec = off
    vth_common = float(np.max(np.concatenate([vths[k] for k in order])))
    n_in = None
    w_in = None
    w_rec = np.zeros((n_rec, n_rec))
    delayed = 0
    readout = None
    for w, node in nodes.items():
        if _kind(node) not in _WEIGHT:
            continue
        if len(preds[w]) != 1 or len(succs[w]) != 1:
            raise InvalidNetworkError(f"NIR weight node '{w}' must have one source and one target "
                                      f"(has {len(preds[w])} and {len(succs[w])})")
        src, dst = preds[w][0], succs[w][0]
        W = _weight(node, w)
        if dst in sizes:
            # weights into a spiking layer: fold its input gain and its threshold rescaling in
            if W.shape[0] != sizes[dst]:
                raise InvalidNetworkError(f"'{w}' has {W.shape[0]} outputs but '{dst}' has {sizes[dst]} neurons")
            scale = (gains[dst] * vth_common / vths[dst])[:, None]
            rows = slice(first[dst], first[dst] + sizes[dst])
            if src in inputs:
                if w_in is not None:
                    raise InvalidNetworkError("more than one weight node reads the Input; neurochip has one input projection")
                n_in = W.shape[1]
                w_in = np.zeros((n_rec, n_in)); w_in[rows] = W * scale
            elif src in sizes:
                if W.shape[1] != sizes[src]:
                    raise InvalidNetworkError(f"'{w}' has {W.shape[1]} inputs but '{src}' has {sizes[src]} neurons")
                cols = slice(first[src], first[src] + sizes[src])
                w_rec[rows, cols] += W * scale
                if src != dst:
                    delayed += 1
            else:
                raise InvalidNetworkError(f"'{w}' feeds '{dst}' from a {_kind(nodes[src])} node; only Input or LIF sources are supported")
        elif _kind(nodes[dst]) == "LI":
            if readout is not None:
                raise InvalidNetworkError("more than one LI readout; neurochip has one readout layer")
            if src not in sizes:
                raise InvalidNetworkError(f"the LI readout '{dst}' must be fed from a LIF layer through '{w}'")
            readout = (w, src, dst, W)
        else:
            raise InvalidNetworkError(f"weight node '{w}' feeds a {_kind(nodes[dst])}; not supported")
    if w_in is None:
        raise InvalidNetworkError("no Linear/Affine node reads the Input")
    if np.any(np.diag(w_rec) != 0):
        j = int(np.argmax(np.diag(w_rec) != 0))
        raise InvalidNetworkError(f"recurrent weight {j}->{j} is {np.diag(w_rec)[j]!r}: neurochip forbids self-connections")
    if any(np.any(vths[k] != vth_common) for k in order):
        notes.append(f"per-neuron thresholds rescaled to v_th = {vth_common:g} (v and the weights into each neuron "
                     "multiplied by v_th / v_threshold_j; spikes unchanged)")
    if any(np.any(gains[k] != 1.0) for k in order):
        notes.append("input gains dt r / tau folded into the weights into each layer")
    if delayed:
        notes.append(f"{delayed} layer-to-layer projection(s) mapped into W_rec: each adds one step of delay "
                     "(a spike of layer k at t reaches layer k+1 at t+1)")
    dt_ms = dt * MS_PER_S
    tau_m = -dt_ms / math.log(alpha)
    if readout is not None:
        w, src, li, W = readout
        lin = nodes[li]
        n_out = W.shape[0]
        tau_li = _vec(lin.tau, n_out, f"'{li}'.tau")
        kappa = 1.0 - dt / tau_li
        if np.ptp(kappa) > 1e-9 or not (0.0 < kappa[0] < 1.0):
            raise InvalidNetworkError(f"readout '{li}': one decay 1 - dt/tau in (0, 1) is needed, got {kappa.min():g}..{kappa.max():g}")
        if np.any(_vec(lin.v_leak, n_out, f"'{li}'.v_leak") != 0):
            raise InvalidNetworkError(f"readout '{li}': v_leak must be 0")
        g_out = dt * _vec(lin.r, n_out, f"'{li}'.r") / tau_li
        c_kappa = 1.0 - float(kappa[0])
        w_out = np.zeros((n_out, n_rec))
        w_out[:, first[src]:first[src] + sizes[src]] = W * (g_out / c_kappa)[:, None]
        tau_out = -dt_ms / math.log(float(kappa[0]))
        notes.append(f"readout from LI '{li}' (tau_out = {tau_out:.6g} ms)")
    else:
        last = order[-1]
        n_out = sizes[last]
        w_out = np.zeros((n_out, n_rec))
        w_out[:, first[last]:first[last] + n_out] = np.eye(n_out)
        tau_out = tau_m if tau_out_ms is None else float(tau_out_ms)
        notes.append(f"graph output = spikes of '{last}': read out through an identity W_out with tau_out = {tau_out:.6g} ms")
    params = NeuronParams(kind="lif", dt=dt_ms, tau_m=tau_m, tau_out=tau_out, v_th=vth_common, n_ref=1)
    mask = w_rec != 0
    net = Network(params=params, w_in=w_in, w_rec=w_rec, w_out=w_out, b_out=np.zeros(n_out),
                  B=np.ascontiguousarray(w_out.T), beta=np.zeros(n_rec), rec_mask=mask)
    layers = tuple((k, first[k], sizes[k]) for k in order)
    return NirImport(network=net, rule=None, exact=False, layers=layers, notes=tuple(notes))
