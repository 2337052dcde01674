"""`CompiledNetwork`: the compiler's output, a plain-data integer image of the network for one chip.

Fixed-point semantics of every field: ``docs/fixed_point.md`` (single source of truth, implemented in
``neurochip.kernels``). Shapes are [post, pre]. All integer arrays are int32 (mantissas) unless noted.

Network state (inference):
    w_in [n_rec, n_in], w_rec [n_rec, n_rec], w_out [n_out, n_rec]   weight mantissas, in
        [profile.format.w_min, w_max]; rec_mask [n_rec, n_rec] bool (existing synapses)
    e_in, e_rec, e_out            shared weight exponents (int, per projection)
    du, dv, da, dk                12-bit (decay_bits) decays: current, membrane, adaptation, readout
    vth                           threshold mantissa (threshold_bits, unsigned); vth_eff = vth << threshold_shift
    bias_mant [n_rec], bias_exp   bias mantissa (bias_bits signed) and shared exponent
    beta_mant [n_rec], beta_shift adaptive-threshold gain: A = vth_eff + (beta_mant * a) >> beta_shift
    a_inc                         adaptation increment per spike (a units)
    n_ref                         refractory period (steps, counting the spike step)
    reset                         'subtract' | 'zero'
    neuron_kind                   'lif' | 'alif'
    scale_v                       v_int = v_float * scale_v  (membrane units per float unit)
    scale_out                     readout float = y_int / scale_out + b_out
    b_out [n_out] float64         readout bias, added after dequantisation (float, off-chip)
    float_params                  dict: the source NeuronParams (for float mode and validation)

Learning state (on-chip rule, None for inference-only compiles): ``rule`` is a `CompiledRule` holding
the fixed-point learning constants (see ``compiler/lower_rule.py``).

Quantiser decisions (saved so nothing downstream re-derives them): w_lsb [3] float64, the float weight of
one mantissa unit of w_in, w_rec, w_out (w_in/w_rec: 2^(e+S) / (c_in scale_v); w_out: 2^(e_out+S) /
(c_kappa scale_out), c_kappa folded into the readout weights); scale_a, the adaptation scale
(a_int = a * scale_a, a power of two; 1.0 without adaptation). Artifacts saved before these fields existed
get them once on load from their own report (``report['quantize']``, covered by the digest).

Mapping: core_of [n_rec + n_out] int32 (recurrent neurons, then readout neurons) -> core index;
core_xy [n_cores, 2] int32 mesh coordinates (col, row) of each used core; hops [n_cores, n_cores]
int32 XY hop counts; ls_hops [n_cores] int32 hops from the readout's core(s) to each core for the
learning-signal broadcast.

The ``*_float`` fields carry the source float network unchanged (``float_params`` its NeuronParams as a
dict), so a backend's float mode runs the same network unquantised on the same mapping.

``report`` (JSON-able dict) records each pass's decisions; ``provenance`` the network digest, rule,
profile name/path, compiler version and time.

Routing tables (optional, added by the compiler): route_indptr [n_rec + 1] int64 / route_dst [nnz] int32,
the destination cores of each recurrent neuron's spikes (CSR, sorted; its own core included when it has
local targets); xy_next [n_cores, n_cores] int8 first XY port from core a towards core b (0 local, 1 east,
2 west, 3 north, 4 south).

Sparse compiles (`compiler.compile_sparse`, networks too large for dense [n_rec, n_rec] arrays): w_rec is
a scipy.sparse CSR int32 matrix, rec_mask a CSR bool matrix and w_rec_float a CSR float64 matrix, each
with the same structure (an entry is an existing synapse). Dense compiles keep numpy arrays.

Storage: ``save(stem)`` / ``load(stem)`` write / read a neurochip bundle (``<stem>.npz`` without pickle +
``<stem>.json`` manifest with schema version and sha256 per array; see `neurochip.io`). Arrays go to the
npz under their field name (CSR matrices as ``<field>.indptr/.indices/.data``, the rule's arrays as
``rule.<name>``); scalars, strings, dicts and the profile go to the JSON meta; the manifest's digest
covers all of it (`neurochip.io`). ``load`` raises `ArtifactError` on a missing, truncated, altered,
foreign-version or pickle-bearing file, and then `check_artifact` (`compiler.artifact_checks`) range-checks every loaded value against
its format (so a value edited together with a recomputed checksum is refused too).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA = 1
LSB_INDEX = {"w_in": 0, "w_rec": 1, "w_out": 2}   # row of each projection in CompiledNetwork.w_lsb


@dataclass(frozen=True, eq=False)
class CompiledNetwork:
    profile_name: str
    profile: Any                 # neurochip.chips.profile.ChipProfile
    neuron_kind: str
    reset: str
    n_in: int
    n_rec: int
    n_out: int
    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    rec_mask: np.ndarray
    e_in: int
    e_rec: int
    e_out: int
    du: int
    dv: int
    da: int
    dk: int
    vth: int
    bias_mant: np.ndarray
    bias_exp: int
    beta_mant: np.ndarray
    beta_shift: int
    a_inc: int
    n_ref: int
    scale_v: float
    scale_out: float
    b_out: np.ndarray
    float_params: dict
    core_of: np.ndarray
    core_xy: np.ndarray
    hops: np.ndarray
    ls_hops: np.ndarray
    rule: Any = None              # compiler.lower_rule.CompiledRule | None
    # The source float network (for the native backend's float mode and for validation):
    w_in_float: np.ndarray | None = None    # [n_rec, n_in] float64
    w_rec_float: np.ndarray | None = None   # [n_rec, n_rec]
    w_out_float: np.ndarray | None = None   # [n_out, n_rec]
    B_float: np.ndarray | None = None       # feedback matrix of the float network [n_rec, n_out]
    beta_float: np.ndarray | None = None    # [n_rec]
    report: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    # Routing tables (added by the compiler; None in hand-built artifacts):
    route_indptr: np.ndarray | None = None   # [n_rec + 1] int64
    route_dst: np.ndarray | None = None      # [nnz] int32 destination cores per recurrent neuron
    xy_next: np.ndarray | None = None        # [n_cores, n_cores] int8 first XY port
    # The quantiser's decisions that map integers back to float (saved, never recomputed; see `weight_lsb`):
    w_lsb: np.ndarray | None = None          # [3] float64: float weight of one mantissa unit of w_in, w_rec, w_out
    scale_a: float | None = None             # adaptation units per float unit (a_int = a * scale_a; 1.0 for LIF)
    # An STDP-family rule (Loihi's plasticity engine, on W_in): the inputs of its lowering
    # (`compiler.lower_stdp.stdp_settings`, plain JSON) and, under 'lava', the rule strings they lower to.
    # Lowered again from the settings on load and compared (`_plasticity_problems`); None without such a rule.
    plasticity: dict | None = None
    # Which input / readout synapses exist (the network's layer map): bool [n_rec, n_in] / [n_out, n_rec], None
    # when all do. Absent synapses hold mantissa 0, are not on the chip (no CSR entry, no routing, no memory)
    # and are never learned. Not written to the manifest when None (artifacts without them load unchanged).
    in_mask: np.ndarray | None = None
    out_mask: np.ndarray | None = None

    def weight_lsb(self, name: str) -> float:
        """Float weight of one mantissa unit of projection ``name`` ('w_in' | 'w_rec' | 'w_out'), as the
        quantiser decided it (``w_lsb``): float weight = mantissa * weight_lsb(name)."""
        from ..errors import ArtifactError, ConfigError
        if name not in LSB_INDEX:
            raise ConfigError(f"unknown projection {name!r}; known: {', '.join(LSB_INDEX)}")
        if self.w_lsb is None:
            raise ArtifactError("artifact carries no weight LSBs (w_lsb): it was built by hand or by an old "
                                "compiler; recompile it")
        return float(self.w_lsb[LSB_INDEX[name]])

    @property
    def n_cores(self) -> int:
        return int(self.core_xy.shape[0])

    @property
    def is_sparse(self) -> bool:
        """True when w_rec / rec_mask are scipy.sparse CSR matrices (compile_sparse)."""
        import scipy.sparse as sp
        return sp.issparse(self.w_rec)

    def save(self, stem) -> None:
        """Write ``<stem>.npz`` + ``<stem>.json`` atomically (no pickle)."""
        from .serial import save_compiled
        save_compiled(self, stem)

    @classmethod
    def load(cls, stem) -> "CompiledNetwork":
        """Read an artifact written by `save`; raises `ArtifactError` on any corruption or mismatch.

        ``stem`` may be the bundle stem, ``<stem>.npz``, ``<stem>.json`` or a directory holding
        ``compiled.json`` (a ``neurochip compile`` output)."""
        from ..errors import ArtifactError, NeurochipError
        from ..io import resolve_bundle
        from .serial import load_compiled
        stem = resolve_bundle(stem, ("compiled",))
        try:
            cn = load_compiled(stem)
        except NeurochipError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError) as e:
            # a malformed manifest entry the field-by-field reader did not foresee
            raise ArtifactError(f"{stem}: artifact is malformed ({e.__class__.__name__}: {e})") from None
        from .artifact_checks import check_artifact
        check_artifact(cn, where=str(stem))
        return cn
