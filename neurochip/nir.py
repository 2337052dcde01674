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
            # the layer map, only when some input / readout synapse is absent (files of other networks unchanged)
            **{k: np.array(getattr(net, k), dtype=np.uint8) for k in ("in_mask", "out_mask")
               if not getattr(net, k).all()},
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
    from .nir_foreign import from_foreign      # graphs other tools wrote (imports this module's types)
    return from_foreign(graph, dt, tau_out_ms)


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
                      rec_mask=np.asarray(nc["rec_mask"]).astype(bool),
                      **{k: np.asarray(nc[k]).astype(bool) for k in ("in_mask", "out_mask") if k in nc})
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
