"""NIR import of graphs other tools wrote (no neurochip metadata; docs/nir.md): a chain of Linear/Affine
(zero bias) -> LIF (or CubaLIF with a memoryless synapse) layers, each optionally recurrent, becomes ONE
recurrent population whose W_rec holds the recurrent blocks and the layer-to-layer blocks (each
feed-forward layer edge then costs one step of delay); a final Linear -> LI becomes the readout, otherwise
the last spiking layer is read out through an identity W_out. Entry point `from_foreign`, called by
`neurochip.nir.from_nir`; neurochip's own graphs are read exactly in `neurochip.nir`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InvalidNetworkError
from .network import Network, NeuronParams
from .nir import MS_PER_S, NirImport, _meta, _nir


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


def from_foreign(graph, dt: float | None, tau_out_ms: float | None) -> NirImport:
    """A NIR graph another tool wrote (no neurochip metadata) as one recurrent population (see module doc)."""
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
