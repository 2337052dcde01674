"""Layer maps: a stack of recurrent populations in one `Network` (its ``in_mask`` / ``rec_mask`` /
``out_mask``), the architecture of direct random feedback into hidden layers (`eprop_direct`,
docs/rules.md "Direct random feedback into a hidden recurrent layer").

Layer 1 receives the input; layer k + 1 receives layer k's spikes (feed-forward, every pair) and has its
own recurrence; only the last layer drives the readout. There are no backward (layer k + 1 -> k) or
skip synapses. Neurons are numbered layer by layer.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from .errors import InvalidNetworkError
from .network import Network


def layer_of(sizes: Sequence[int]) -> np.ndarray:
    """int [sum(sizes)]: the layer index (0-based) of every neuron."""
    return np.repeat(np.arange(len(sizes)), np.asarray(sizes, np.int64))


def check_sizes(sizes, n_rec: int | None = None) -> list[int]:
    """The layer sizes as ints (at least 2 layers, each >= 1, summing to n_rec if given); one-line error else."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2 or any(
            isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise InvalidNetworkError(f"layers = {sizes!r}: must be a list of at least 2 layer sizes, each an integer >= 1")
    sizes = [int(s) for s in sizes]
    if n_rec is not None and sum(sizes) != n_rec:
        raise InvalidNetworkError(f"layers = {sizes} sum to {sum(sizes)} neurons, but n_rec = {n_rec}")
    return sizes


def stack_layers(net: Network, sizes: Sequence[int], adaptive_fraction: float | None = None) -> Network:
    """``net`` cut to the layer map of ``sizes`` (sum = net.n_rec): its weights where a synapse of the stack
    exists (within-layer recurrence and layer k -> k + 1 feed-forward, where ``net.rec_mask`` has a synapse),
    0 elsewhere. adaptive_fraction (ALIF): the neurons of each layer from index floor(size (1 - fraction)) on
    (the last half for 0.5) get net's adaptation strength (the largest of net.beta), the others 0; None keeps
    net.beta."""
    sizes = check_sizes(sizes, net.n_rec)
    lay = layer_of(sizes)
    within = lay[:, None] == lay[None, :]                 # [post, pre]
    forward = lay[:, None] == lay[None, :] + 1            # post in the layer after pre's
    rec = (within | forward) & net.rec_mask               # net's sparsity (p_rec) applies to both kinds
    in_mask = np.repeat((lay == 0)[:, None], net.n_in, axis=1)
    out_mask = np.repeat((lay == len(sizes) - 1)[None, :], net.n_out, axis=0)
    beta = np.asarray(net.beta, np.float64)
    if adaptive_fraction is not None:
        if not (0.0 <= float(adaptive_fraction) <= 1.0):
            raise InvalidNetworkError(f"adaptive_fraction = {adaptive_fraction!r}: must be in [0, 1]")
        b = float(beta.max(initial=0.0))
        beta = np.zeros(net.n_rec)
        start = 0
        for s in sizes:
            beta[start + int(np.floor(s * (1.0 - float(adaptive_fraction)))):start + s] = b
            start += s
    return replace(net, w_in=net.w_in * in_mask, w_rec=net.w_rec * rec, w_out=net.w_out * out_mask, rec_mask=rec,
                   in_mask=in_mask, out_mask=out_mask, beta=beta)
