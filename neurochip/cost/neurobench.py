"""NeuroBench-compatible metrics, with the harness's exact counting rules (NeuroBench/neurobench,
``neurobench/metrics/workload/synaptic_operations.py``, ``utils/layers/macs.py``,
``workload/activation_sparsity.py``, ``static/connection_sparsity.py``, ``static/footprint.py``).

Our network seen as NeuroBench would see an snnTorch model: three connection layers (Linear
``W_in`` [n_rec, n_in] on the input spikes x^t, Linear ``W_rec`` [n_rec, n_rec] on the previous
step's spikes z^{t-1}, Linear ``W_out`` [n_out, n_rec] on z^t) and one spiking activation module (the
recurrent layer). The leaky readout integrator is not a spiking activation module and is not counted.

* Synaptic operations per layer call (one call per step): binarise input and weights (non-zero -> 1),
  zero the bias, run the layer, sum: ``eff = sum_i [x_i != 0] nnz(W[:, i])``. ``Dense`` = the same with
  all-ones inputs and weights = fan_in x fan_out (zeros and the recurrent diagonal included). Ops are
  ACs when every input element is in {-1, 0, 1} (spikes), MACs otherwise. Each is averaged per sample
  (batch entry), summed over steps and layers.
* Activation sparsity: 1 - nnz(spikes) / numel(spikes) over all samples and steps.
* Connection sparsity: zeros / total over the three weight matrices (full shapes, diagonal included).
* Footprint: sum of numel x element size (bytes) of parameters and buffers. We report it twice: the
  float network as a float32 torch model would hold it, and the compiled network in the smallest
  standard integer type holding each chip format (weights in ceil(weight_bits/8) bytes, state in
  ceil(width/8) bytes; NeuroBench counts real dtypes, so a 24-bit state costs 4 bytes in int32).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _dtype_bytes(bits: int) -> int:
    """Bytes of the smallest standard signed integer dtype holding ``bits`` (int8/16/32/64)."""
    for b in (8, 16, 32, 64):
        if bits <= b:
            return b // 8
    raise ValueError(f"{bits} bits exceed 64")


def _nnz_per_column(w) -> np.ndarray:
    """Non-zero weights per presynaptic column, for dense arrays or scipy.sparse matrices."""
    import scipy.sparse as sp
    if sp.issparse(w):
        return np.asarray((w != 0).sum(axis=0)).ravel().astype(np.int64)
    return (np.asarray(w) != 0).sum(axis=0).astype(np.int64)


def _zeros_total(w) -> tuple[int, int]:
    import scipy.sparse as sp
    n = int(w.shape[0]) * int(w.shape[1])
    nz = int(w.count_nonzero()) if sp.issparse(w) else int(np.count_nonzero(w))
    return n - nz, n


def synaptic_operations(inputs: np.ndarray, spikes: np.ndarray, w_in: np.ndarray, w_rec: np.ndarray,
                        w_out: np.ndarray) -> dict[str, float]:
    """{"Effective_MACs", "Effective_ACs", "Dense"} per sample, NeuroBench's rules.

    inputs [B, T, n_in], spikes [B, T, n_rec] (z^t); weights [post, pre]. The recurrent layer at step t
    sees z^{t-1} (zeros at t = 0, as the float model's initial state).
    """
    x = np.asarray(inputs)
    z = np.asarray(spikes)
    b, t = x.shape[0], x.shape[1]
    nnz_in, nnz_rec, nnz_out = (_nnz_per_column(w) for w in (w_in, w_rec, w_out))  # per presynaptic column
    z_prev = np.concatenate([np.zeros_like(z[:, :1]), z[:, :-1]], axis=1)
    ops = {}
    for name, act, nnz in (("in", x, nnz_in), ("rec", z_prev, nnz_rec), ("out", z, nnz_out)):
        a = act != 0
        ops[name] = (float((a.reshape(-1, a.shape[-1]).astype(np.int64) @ nnz.astype(np.int64)).sum()),
                     bool(np.isin(act, (-1, 0, 1)).all()))
    ac = sum(v for v, spk in ops.values() if spk) / b
    mac = sum(v for v, spk in ops.values() if not spk) / b
    n_rec, n_in = w_in.shape
    n_out = w_out.shape[0]
    dense = t * (n_in * n_rec + n_rec * n_rec + n_rec * n_out)
    return {"Effective_MACs": mac, "Effective_ACs": ac, "Dense": float(dense)}


def activation_sparsity(spikes: np.ndarray) -> float:
    z = np.asarray(spikes)
    return float(1.0 - np.count_nonzero(z) / z.size) if z.size else 0.0


def connection_sparsity(w_in: np.ndarray, w_rec: np.ndarray, w_out: np.ndarray) -> float:
    zt = [_zeros_total(w) for w in (w_in, w_rec, w_out)]
    return round(sum(z for z, _ in zt) / sum(n for _, n in zt), 4)


def footprint_float32(n_in: int, n_rec: int, n_out: int, *, kind: str = "lif") -> int:
    """Bytes of the float network as float32 parameters (W_in, W_rec, W_out, b_out, B, beta) and
    buffers (v, u... here v and, for ALIF, a per neuron; readout y)."""
    params = n_rec * n_in + n_rec * n_rec + n_out * n_rec + n_out + n_rec * n_out + n_rec
    buffers = n_rec * (2 if kind == "alif" else 1) + n_out
    return 4 * (params + buffers)


def footprint_chip(n_in: int, n_rec: int, n_out: int, fmt, *, kind: str = "lif", feedback: bool = True) -> int:
    """Bytes of the compiled network in integer dtypes: weights at weight_bits, v/u (and a) per neuron,
    readout y, B if kept on chip."""
    wb = _dtype_bytes(fmt.weight_bits)
    weights = (n_rec * n_in + n_rec * n_rec + n_out * n_rec + (n_rec * n_out if feedback else 0)) * wb
    state = n_rec * (_dtype_bytes(fmt.membrane_bits) + _dtype_bytes(fmt.current_bits)
                     + (_dtype_bytes(fmt.membrane_bits) if kind == "alif" else 0))
    return weights + state + n_out * _dtype_bytes(fmt.membrane_bits)


def neurobench_metrics(inputs, spikes, w_in, w_rec, w_out, *, fmt=None, kind: str = "lif",
                       dt_ms: float = 1.0) -> dict[str, Any]:
    """All NeuroBench keys (unchanged names) for one evaluation set."""
    x = np.asarray(inputs)
    n_rec, n_in = w_in.shape
    n_out = w_out.shape[0]
    out: dict[str, Any] = {
        "SynapticOperations": synaptic_operations(inputs, spikes, w_in, w_rec, w_out),
        "ActivationSparsity": activation_sparsity(spikes),
        "ConnectionSparsity": connection_sparsity(w_in, w_rec, w_out),
        "ParameterCount": int(n_rec * n_in + n_rec * n_rec + n_out * n_rec + n_out),
        "Footprint": footprint_float32(n_in, n_rec, n_out, kind=kind),
        "samples": int(x.shape[0]), "steps_per_sample": int(x.shape[1]),
        "ModelExecutionRate_Hz": 1000.0 / dt_ms,
    }
    if fmt is not None:
        out["Footprint_chip"] = footprint_chip(n_in, n_rec, n_out, fmt, kind=kind)
    return out
