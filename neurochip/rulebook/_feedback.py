"""Feedback matrices F [n_rec, n_out] shared by several rule modules (pure functions of the network)."""
import numpy as np


def w_out_transpose(net):
    """W_out^T: the exact gradient's feedback (and symmetric e-prop's)."""
    return np.ascontiguousarray(np.asarray(net.w_out).T)


def fixed_random(net):
    """The network's fixed random feedback B (random e-prop, RFLO; Lillicrap 2016 feedback alignment)."""
    return np.ascontiguousarray(net.B)
