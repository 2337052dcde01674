"""Shared helpers for the compiler tests (imported by module name; tests/compiler has no __init__)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.sparse as sp
import tomli

from neurochip.chips.profile import BUILTIN_DIR, builtin_profiles, load_profile, profile_from_dict
from neurochip.compiler import SparseNetwork
from neurochip.network import NeuronParams, init_network

PROFILES = builtin_profiles()


def profile_dict(name: str) -> dict:
    return tomli.loads((BUILTIN_DIR / f"{name}.toml").read_text())


def variant(name: str, **sections) -> object:
    """A shipped profile with some [section] keys replaced: variant('loihi2', learning={'supported': False})."""
    d = copy.deepcopy(profile_dict(name))
    for sec, kv in sections.items():
        d.setdefault(sec, {}).update(kv)
    return profile_from_dict(d, f"<variant of {name}>")


def sparse_net(n_rec: int, n_in: int = 1, n_out: int = 1, *, w_rec=None, w_in=None, w_out=None, kind: str = "lif",
               n_ref: int = 1, beta=None, seed: int = 0) -> SparseNetwork:
    """A SparseNetwork with given (or empty/small random) projections; cheap at any size."""
    rng = np.random.default_rng(seed)
    w_rec = sp.csr_matrix((n_rec, n_rec)) if w_rec is None else w_rec
    w_in = (rng.standard_normal((n_rec, n_in)) * 0.1) if w_in is None else w_in
    w_out = (rng.standard_normal((n_out, n_rec)) * 0.1) if w_out is None else w_out
    b = np.zeros(n_rec) if beta is None else beta
    return SparseNetwork(NeuronParams(kind=kind, n_ref=n_ref), w_in, w_rec, w_out, np.zeros(n_out),
                         np.zeros((n_rec, n_out)), b)


