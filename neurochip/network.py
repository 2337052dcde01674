"""The float spiking RNN: neuron parameters and the `Network` contract.

Discrete time with step ``dt`` (ms), the e-prop paper's model (Bellec et al. 2020, Methods), index
convention of the reference code's ``EligALIF`` (state at step t is computed from z^{t-1} and x^t):

    a^t = rho a^{t-1} + c_a z^{t-1}                                     (ALIF adaptation)
    A^t = v_th + beta a^t                                                (adaptive threshold)
    v^t = alpha v^{t-1} + c_in (W_in x^t + W_rec z^{t-1}) - v_th z^{t-1}  (reset by subtraction)
    z^t = H(v^t - A^t)  unless refractory (a spike at t silences t+1 .. t+n_ref-1)
    y^t = kappa y^{t-1} + c_kappa W_out z^t ;  output o^t = y^t + b_out  (bias after the filter)
    psi^t = (gamma / v_th) max(0, 1 - |v^t - A^t| / v_th)  (0 while refractory)

alpha = exp(-dt/tau_m), rho = exp(-dt/tau_a), kappa = exp(-dt/tau_out). Default convention
("unscaled", Nat. Commun. evidence accumulation): c_in = c_a = 1, c_kappa = 1 - kappa.
Weights are [post, pre]; v and thresholds are dimensionless; spikes are 0/1 per step.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from .errors import InvalidNetworkError

NeuronKind = Literal["lif", "alif"]
SCHEMA = 1


@dataclass(frozen=True)
class NeuronParams:
    """Neuron and readout constants in physical units.

    kind:      'lif' or 'alif' (an LSNN mix is 'alif' with beta = 0 for its LIF neurons)
    dt:        simulation step, ms (default 1 ms as in every reference code)
    tau_m:     membrane time constant, ms (default 20)
    tau_a:     adaptation time constant, ms (default 2000, evidence accumulation); unused for LIF
    tau_out:   readout time constant, ms (default 20)
    v_th:      baseline threshold, dimensionless (default 0.6)
    n_ref:     refractory period in steps, counting the spike step (default 5 = 5 ms; 1 = none)
    gamma_pd:  pseudo-derivative dampening factor (default 0.3)
    scaled_input:  if True c_in = 1 - alpha and c_a = 1 - rho (LSNN "scaled" convention), else 1
    scaled_readout: if True c_kappa = 1 - kappa (default, S1 tutorials), else 1
    """

    kind: NeuronKind = "alif"
    dt: float = 1.0
    tau_m: float = 20.0
    tau_a: float = 2000.0
    tau_out: float = 20.0
    v_th: float = 0.6
    n_ref: int = 5
    gamma_pd: float = 0.3
    scaled_input: bool = False
    scaled_readout: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("lif", "alif"):
            raise InvalidNetworkError(f"neuron kind must be 'lif' or 'alif', got {self.kind!r}")
        for name in ("dt", "tau_m", "tau_a", "tau_out", "v_th"):
            val = getattr(self, name)
            if not isinstance(val, (int, float, np.floating, np.integer)) or not math.isfinite(val) or val <= 0:
                unit = "" if name == "v_th" else " ms"
                raise InvalidNetworkError(f"{name} must be a finite number > 0, got {val!r}{unit}")
        if not isinstance(self.n_ref, (int, np.integer)) or isinstance(self.n_ref, bool) or self.n_ref < 1:
            raise InvalidNetworkError(f"n_ref must be an integer >= 1 (steps, counting the spike step), got {self.n_ref!r}")
        g = self.gamma_pd
        if isinstance(g, bool) or not isinstance(g, (int, float, np.floating, np.integer)) or not math.isfinite(g) or g < 0:
            raise InvalidNetworkError(f"gamma_pd must be a finite number >= 0, got {g!r}")
        for name in ("scaled_input", "scaled_readout"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidNetworkError(f"{name} must be true or false, got {getattr(self, name)!r}")

    @property
    def alpha(self) -> float:
        return math.exp(-self.dt / self.tau_m)

    @property
    def rho(self) -> float:
        return math.exp(-self.dt / self.tau_a)

    @property
    def kappa(self) -> float:
        return math.exp(-self.dt / self.tau_out)

    @property
    def c_in(self) -> float:
        return 1.0 - self.alpha if self.scaled_input else 1.0

    @property
    def c_a(self) -> float:
        return 1.0 - self.rho if self.scaled_input else 1.0

    @property
    def c_kappa(self) -> float:
        return 1.0 - self.kappa if self.scaled_readout else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NeuronParams":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InvalidNetworkError(f"unknown neuron parameter(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


@dataclass(frozen=True, eq=False)
class Network:
    """A float spiking RNN (LIF/ALIF recurrent layer + leaky linear readout). Plain data.

    Shapes ([post, pre]): w_in [n_rec, n_in], w_rec [n_rec, n_rec] (zero diagonal), w_out [n_out, n_rec],
    b_out [n_out], B (feedback) [n_rec, n_out], beta [n_rec] (adaptation strength, 0 = LIF neuron),
    rec_mask [n_rec, n_rec] bool (which recurrent synapses exist; zero diagonal). float64 throughout.

    Layer map (optional; None = every input / readout synapse exists): in_mask [n_rec, n_in] and out_mask
    [n_out, n_rec] bool, which input and readout synapses exist. With them one `Network` holds a stack of
    recurrent populations (e.g. layer 1 gets the input, layer 2 alone drives the readout, rec_mask keeps
    the block structure): absent synapses hold exactly 0, get no gradient and are not on the chip. A
    neuron with no readout synapse gets no learning signal from W_out^T; `eprop_direct` sends it the
    error through B instead (direct random feedback).
    """

    params: NeuronParams
    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    B: np.ndarray
    beta: np.ndarray
    rec_mask: np.ndarray = field(default=None)  # type: ignore[assignment]
    in_mask: np.ndarray = field(default=None)   # type: ignore[assignment]
    out_mask: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        p = self.params
        if not isinstance(p, NeuronParams):
            raise InvalidNetworkError(f"params must be NeuronParams, got {type(p).__name__}")
        conv = {}
        for name in ("w_in", "w_rec", "w_out", "b_out", "B", "beta"):
            a = getattr(self, name)
            try:
                a = np.array(a, dtype=np.float64)
            except (TypeError, ValueError):
                raise InvalidNetworkError(f"{name} must be a numeric array, got {type(a).__name__}") from None
            conv[name] = a
        if conv["w_in"].ndim != 2 or conv["w_rec"].ndim != 2 or conv["w_out"].ndim != 2:
            raise InvalidNetworkError(
                f"w_in, w_rec, w_out must be 2-D [post, pre]; got ndim {conv['w_in'].ndim}, {conv['w_rec'].ndim}, {conv['w_out'].ndim}")
        n_rec, n_in = conv["w_in"].shape
        n_out = conv["w_out"].shape[0]
        if n_rec < 1 or n_in < 1 or n_out < 1:
            raise InvalidNetworkError(f"sizes must be >= 1, got n_in={n_in}, n_rec={n_rec}, n_out={n_out}")
        want = {"w_rec": (n_rec, n_rec), "w_out": (n_out, n_rec), "b_out": (n_out,), "B": (n_rec, n_out), "beta": (n_rec,)}
        for name, shape in want.items():
            if conv[name].shape != shape:
                raise InvalidNetworkError(f"{name} has shape {conv[name].shape}, expected {shape} (n_in={n_in}, n_rec={n_rec}, n_out={n_out})")
        for name, a in conv.items():
            bad = ~np.isfinite(a)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                raise InvalidNetworkError(f"{name}{list(idx)} = {a[idx]!r}: weights and parameters must be finite")
        if (conv["beta"] < 0).any():
            j = int(np.argmax(conv["beta"] < 0))
            raise InvalidNetworkError(f"beta[{j}] = {conv['beta'][j]!r}: adaptation strength must be >= 0")
        if p.kind == "lif" and (conv["beta"] != 0).any():
            raise InvalidNetworkError(f"kind 'lif' needs beta = 0 everywhere; {int((conv['beta'] != 0).sum())} neurons have beta != 0 (use kind 'alif')")
        diag = np.diag(conv["w_rec"])
        if (diag != 0).any():
            j = int(np.argmax(diag != 0))
            raise InvalidNetworkError(f"w_rec[{j}, {j}] = {diag[j]!r}: self-connections are forbidden (zero diagonal)")
        if self.rec_mask is None:
            mask = np.ones((n_rec, n_rec), dtype=bool)
            np.fill_diagonal(mask, False)
        else:
            mask = _mask(self.rec_mask, "rec_mask", conv["w_rec"], "w_rec")
            if np.diag(mask).any():
                raise InvalidNetworkError("rec_mask has self-connections on its diagonal; they are forbidden")
        conv["rec_mask"] = mask
        for name, wname in (("in_mask", "w_in"), ("out_mask", "w_out")):
            m = getattr(self, name)
            conv[name] = np.ones(conv[wname].shape, dtype=bool) if m is None else _mask(m, name, conv[wname], wname)
        for name, a in conv.items():
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    # --- sizes -------------------------------------------------------------------------------
    @property
    def n_in(self) -> int:
        return self.w_in.shape[1]

    @property
    def n_rec(self) -> int:
        return self.w_rec.shape[0]

    @property
    def n_out(self) -> int:
        return self.w_out.shape[0]

    @property
    def n_synapses(self) -> int:
        """Number of existing synapses (input, recurrent and readout masks)."""
        return int(self.in_mask.sum() + self.rec_mask.sum() + self.out_mask.sum())

    @property
    def layered(self) -> bool:
        """True when some input or readout synapse is absent (a layer map is set)."""
        return not (self.in_mask.all() and self.out_mask.all())

    @property
    def has_readout(self) -> np.ndarray:
        """bool [n_rec]: the neuron has at least one readout synapse."""
        return self.out_mask.any(axis=0)

    def zero_absent(self, **arrays: np.ndarray) -> None:
        """Set to 0, in place, the entries of [post, pre] arrays named w_in / w_rec / w_out (gradients, updated
        weights) where no synapse exists: outside rec_mask (the diagonal included) and outside the layer map."""
        masks = {"w_rec": self.rec_mask}
        if self.layered:                  # without a layer map every input / readout synapse exists
            masks.update(w_in=self.in_mask, w_out=self.out_mask)
        for k, a in arrays.items():
            if k not in ("w_in", "w_rec", "w_out"):
                raise InvalidNetworkError(f"zero_absent: {k!r} is not a weight array (w_in, w_rec, w_out)")
            if k in masks:
                a *= masks[k]

    def with_weights(self, **kw: np.ndarray) -> "Network":
        """Return a copy with some arrays replaced (validated again)."""
        return replace(self, **kw)

    def digest(self) -> str:
        """sha256 over parameters and arrays: the provenance hash recorded by the compiler."""
        h = hashlib.sha256(repr(sorted(self.params.to_dict().items())).encode())
        for name in ("w_in", "w_rec", "w_out", "b_out", "B", "beta", "rec_mask") + self._mask_names():
            a = np.ascontiguousarray(getattr(self, name))
            h.update(name.encode()); h.update(a.dtype.str.encode()); h.update(str(a.shape).encode()); h.update(a.tobytes())
        return h.hexdigest()

    def _mask_names(self) -> tuple[str, ...]:
        """The layer-map masks that are not all True: only they enter the digest and the saved bundle, so
        a network without a layer map keeps the digest and files it had before masks existed."""
        return tuple(n for n in ("in_mask", "out_mask") if not getattr(self, n).all())

    # --- storage -----------------------------------------------------------------------------
    def save(self, stem) -> None:
        """Save as ``<stem>.npz`` + ``<stem>.json`` (no pickle, atomic)."""
        from .io import save_bundle
        arrays = {n: getattr(self, n) for n in ("w_in", "w_rec", "w_out", "b_out", "B", "beta", "rec_mask") + self._mask_names()}
        save_bundle(stem, "network", SCHEMA, arrays, {"params": self.params.to_dict(), "digest": self.digest()})

    @classmethod
    def load(cls, stem) -> "Network":
        """Load a network saved by `save`; raises `ArtifactError` naming the file on anything wrong.

        ``stem``: the bundle stem, ``<stem>.npz``, ``<stem>.json`` or a directory holding
        ``network.json`` (a ``neurochip train`` output). Beyond the bundle's checksums and digest, the
        parameters and arrays are validated as on construction (types, finite values, shapes agreeing
        with each other) and must reproduce the network digest recorded at saving."""
        from .io import load_bundle, resolve_bundle
        from .errors import ArtifactError
        stem = resolve_bundle(stem, ("network",))
        arrays, meta = load_bundle(stem, "network", SCHEMA)
        names = {"w_in", "w_rec", "w_out", "b_out", "B", "beta", "rec_mask"}
        if not names <= set(arrays) <= names | {"in_mask", "out_mask"}:
            raise ArtifactError(f"{stem}: network bundle holds arrays {sorted(arrays)}, expected {sorted(names)} "
                                f"(and optionally in_mask, out_mask)")
        try:
            params = NeuronParams.from_dict(meta["params"])
            net = cls(params=params, **arrays)
        except InvalidNetworkError as e:
            raise ArtifactError(f"{stem}: network bundle does not validate: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ArtifactError(f"{stem}: network bundle is incomplete or malformed ({e.__class__.__name__}: {e})") from None
        if meta.get("digest") != net.digest():
            raise ArtifactError(f"{stem}: network does not reproduce the digest recorded when it was saved (edited file)")
        return net


def _mask(mask, name: str, w: np.ndarray, wname: str) -> np.ndarray:
    """``mask`` as a validated bool array of w's shape (which synapses of w exist); w must be 0 where it is
    False."""
    mask = np.array(mask)
    if mask.shape != w.shape:
        raise InvalidNetworkError(f"{name} has shape {mask.shape}, expected {w.shape}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise InvalidNetworkError(f"{name} must be boolean (0/1)")
        mask = mask.astype(bool)
    off = (w != 0) & ~mask
    if off.any():
        j, i = (int(v) for v in np.argwhere(off)[0])
        raise InvalidNetworkError(f"{wname}[{j}, {i}] = {w[j, i]!r} but {name}[{j}, {i}] is False")
    return mask


# Bytes per [n_rec, n_rec] element at the peak of `init_network`: the uniform draw for the mask (8), the
# normal draw (8), its masked/scaled temporary (8), w_rec (8), the Network's own float64 copy (8) and two
# boolean masks (2). The training loop needs more (states over time); this bound only refuses what cannot
# even be built.
_BYTES_PER_REC_PAIR = 42


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else physical memory, else None (unknown)."""
    import os
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(b: float) -> str:
    return f"{b / 2**30:.3g} GiB"


def check_network_memory(n_in: int, n_rec: int, n_out: int) -> None:
    """Refuse (InvalidNetworkError) a dense network whose arrays cannot fit in the memory available now,
    before anything is allocated (estimate: `_BYTES_PER_REC_PAIR` per recurrent pair + 24 bytes per
    input/readout weight)."""
    need = _BYTES_PER_REC_PAIR * float(n_rec) ** 2 + 24.0 * float(n_rec) * (n_in + 2 * n_out)
    have = available_memory_bytes()
    if have is not None and need > have:
        raise InvalidNetworkError(
            f"n_rec={n_rec} needs ~{_gib(need)} for the dense network arrays ([n_rec, n_rec] weights and mask), "
            f"more than the {_gib(have)} of memory available; choose a smaller n_rec")


def init_network(n_in: int, n_rec: int, n_out: int, params: NeuronParams | None = None, *,
                 n_adaptive: int | None = None, beta: float | None = None, p_rec: float = 1.0,
                 feedback_scale: str = "unit", w_out_init: str = "glorot", seed: int = 0) -> Network:
    """Random network with the reference code's initialisation (eprop_spec 1.5).

    W_in ~ N(0,1)/sqrt(n_in); W_rec ~ N(0,1)/sqrt(n_rec * p_rec) on a random mask of density p_rec (zero
    diagonal); W_out Glorot-uniform ('glorot') or N(0,1)/sqrt(n_rec) ('normal'); B ~ N(0,1) ('unit') or
    N(0,1)/sqrt(n_rec) ('sqrt_n'). For ALIF, the last ``n_adaptive`` neurons (default: half) get ``beta``
    (default 1.7 (1-rho)/(1-alpha), the unscaled conversion of the LSNN value 1.7).
    """
    p = params or NeuronParams()
    for name, v in (("n_in", n_in), ("n_rec", n_rec), ("n_out", n_out)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InvalidNetworkError(f"{name} must be an integer >= 1, got {v!r}")
    if isinstance(p_rec, bool) or not isinstance(p_rec, (int, float, np.floating, np.integer)) or not (0.0 < p_rec <= 1.0):
        raise InvalidNetworkError(f"p_rec (recurrent connection probability) must be a number in (0, 1], got {p_rec!r}")
    if beta is not None and (isinstance(beta, bool) or not isinstance(beta, (int, float, np.floating, np.integer))
                             or not math.isfinite(beta) or beta < 0):
        raise InvalidNetworkError(f"beta (adaptation strength) must be a finite number >= 0, got {beta!r}")
    if n_adaptive is not None and (isinstance(n_adaptive, bool) or not isinstance(n_adaptive, (int, np.integer))):
        raise InvalidNetworkError(f"n_adaptive must be an integer in [0, n_rec={n_rec}], got {n_adaptive!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidNetworkError(f"seed must be an integer >= 0, got {seed!r}")
    check_network_memory(int(n_in), int(n_rec), int(n_out))
    rng = np.random.default_rng(seed)
    w_in = rng.standard_normal((n_rec, n_in)) / math.sqrt(n_in)
    mask = rng.random((n_rec, n_rec)) < p_rec if p_rec < 1.0 else np.ones((n_rec, n_rec), bool)
    np.fill_diagonal(mask, False)
    w_rec = rng.standard_normal((n_rec, n_rec)) / math.sqrt(max(1.0, n_rec * p_rec)) * mask
    if w_out_init == "glorot":
        lim = math.sqrt(6.0 / (n_rec + n_out))
        w_out = rng.uniform(-lim, lim, (n_out, n_rec))
    elif w_out_init == "normal":
        w_out = rng.standard_normal((n_out, n_rec)) / math.sqrt(n_rec)
    else:
        raise InvalidNetworkError(f"w_out_init must be 'glorot' or 'normal', got {w_out_init!r}")
    if feedback_scale == "unit":
        B = rng.standard_normal((n_rec, n_out))
    elif feedback_scale == "sqrt_n":
        B = rng.standard_normal((n_rec, n_out)) / math.sqrt(n_rec)
    else:
        raise InvalidNetworkError(f"feedback_scale must be 'unit' or 'sqrt_n', got {feedback_scale!r}")
    betas = np.zeros(n_rec)
    if p.kind == "alif":
        n_a = n_rec // 2 if n_adaptive is None else n_adaptive
        if not (0 <= n_a <= n_rec):
            raise InvalidNetworkError(f"n_adaptive must be in [0, n_rec={n_rec}], got {n_a}")
        b = 1.7 * (1 - p.rho) / (1 - p.alpha) if beta is None else beta
        betas[n_rec - n_a:] = b
    return Network(params=p, w_in=w_in, w_rec=w_rec, w_out=w_out, b_out=np.zeros(n_out), B=B, beta=betas, rec_mask=mask)
