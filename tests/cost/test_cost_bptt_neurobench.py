"""BPTT vs e-prop counts and NeuroBench metrics, each against an independent brute-force count."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neurochip.backend_contract import EventCounts
from neurochip.cost import bptt, neurobench
from neurochip.cost.energy import energy


def test_bptt_memory_grows_with_T_eprop_does_not(toy):
    fmt = toy.make_profile({}).format
    rows = bptt.scaling_table(fmt, Ts=(100, 1000, 10000), Ns=(64,))
    mem = [r["bptt_memory_bits"] for r in rows]
    hist = [r["bptt_history_bits"] for r in rows]
    assert hist[1] == 10 * hist[0] and hist[2] == 100 * hist[0]
    assert mem[0] < mem[1] < mem[2]
    assert len({r["eprop_factorised_memory_bits"] for r in rows}) == 1
    # history per step, ALIF: N (24 + 24 + 24) + N spikes + n_in inputs
    assert bptt.history_bits_per_step(40, 64, fmt, "alif") == 64 * 72 + 64 + 40
    assert all(r["bptt_messages"] > r["eprop_messages"] for r in rows)


def test_expected_pre_cores_limits():
    assert bptt.expected_pre_cores(256, 1, 0.1) == pytest.approx(1.0)
    assert bptt.expected_pre_cores(1024, 4, 1.0) == pytest.approx(4.0)
    assert bptt.expected_pre_cores(1024, 4, 0.0) == 0.0


def test_pre_core_matrix_brute_force(toy):
    prof = toy.make_profile({})
    rng = np.random.default_rng(1)
    mask = rng.random((4, 4)) < 0.5
    np.fill_diagonal(mask, False)
    comp = toy.make_compiled(prof, rec_mask=mask)
    m = bptt._pre_core_matrix(comp)
    want = np.zeros((2, 2), int)
    for j in range(4):
        for b in {int(comp.core_of[i]) for i in range(4) if mask[j, i]}:
            want[comp.core_of[j], b] += 1
    assert (m == want).all()


def test_bptt_counts_on_placement(toy):
    prof = toy.make_profile({"sop": 1.0, "neuron_update": 1.0, "hop": 1.0, "intra_tile": 1.0,
                             "weight_update": 1.0, "trace_update": 1.0, "learning_signal": 1.0,
                             "mem_read_bit": 0.1, "mem_write_bit": 0.2}, static_mw=0.0)
    comp = toy.make_compiled(prof)
    fwd = EventCounts(steps=20, trials=2, syn_ops=100, spikes=10, neuron_updates=120)
    tot, info = bptt.bptt_counts(comp, fwd)
    hist = bptt.history_bits_per_step(3, 4, prof.format, "lif")
    assert info["history_bits_written"] == hist * 20 and info["history_bits_read"] == hist * 20
    assert tot.bits_written == 0                              # history is priced separately, never as SOP reads
    assert tot.weight_updates == (12 + 12 + 8) * 2
    assert tot.trace_updates == 100 - 10 * 2                 # forward in+rec ops (readout ops removed)
    assert tot.syn_ops == 100 + 12 * 20                       # + delta through W_rec^T each step
    ep = bptt.eprop_counts(comp, fwd)
    assert ep.weight_updates == tot.weight_updates and ep.bits_written == 0
    hb = (info["history_bits_read"], info["history_bits_written"])
    e_b = energy(tot, prof, core_xy=comp.core_xy, history_bits=hb)
    e_e = energy(ep, prof, core_xy=comp.core_xy)
    assert e_b.complete and e_e.complete and e_b.total_pj > e_e.total_pj
    assert e_b.by_category()["history_write"] == pytest.approx(hist * 20 * 0.2)
    # Without per-bit memory costs the BPTT history is unpriced: the BPTT total is a lower bound.
    prof2 = toy.make_profile({k: v.value for k, v in prof.costs.items() if not k.startswith("mem_")}, static_mw=0.0)
    e_b2 = energy(tot, prof2, core_xy=comp.core_xy, history_bits=hb)
    assert not e_b2.complete and "mem_write_bit" in e_b2.unpriced


def _brute_ops(x, z, w_in, w_rec, w_out):
    b, t, _ = x.shape
    eff = 0
    for s in range(b):
        for k in range(t):
            zp = z[s, k - 1] if k else np.zeros(z.shape[2])
            for act, w in ((x[s, k], w_in), (zp, w_rec), (z[s, k], w_out)):
                eff += int(((np.abs(w) > 0) * (act != 0)[None, :]).sum())
    return eff / b


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_synaptic_operations_match_brute_force(b, t, seed):
    rng = np.random.default_rng(seed)
    x = (rng.random((b, t, 3)) < 0.3).astype(np.uint8)
    z = (rng.random((b, t, 5)) < 0.3).astype(np.uint8)
    w_in = rng.normal(size=(5, 3)) * (rng.random((5, 3)) < 0.7)
    w_rec = rng.normal(size=(5, 5)) * (rng.random((5, 5)) < 0.5)
    w_out = rng.normal(size=(2, 5))
    ops = neurobench.synaptic_operations(x, z, w_in, w_rec, w_out)
    assert ops["Effective_ACs"] == pytest.approx(_brute_ops(x, z, w_in, w_rec, w_out))
    assert ops["Effective_MACs"] == 0
    assert ops["Dense"] == t * (15 + 25 + 10)


def test_graded_inputs_count_as_macs():
    x = np.full((1, 2, 2), 0.5)
    z = np.zeros((1, 2, 3))
    ops = neurobench.synaptic_operations(x, z, np.ones((3, 2)), np.ones((3, 3)), np.ones((1, 3)))
    assert ops["Effective_MACs"] == 2 * 2 * 3 and ops["Effective_ACs"] == 0


def test_sparsity_and_footprint(toy):
    z = np.zeros((2, 5, 4)); z[0, 1, 2] = 1; z[1, 3, 0] = 1
    assert neurobench.activation_sparsity(z) == pytest.approx(1 - 2 / 40)
    w_rec = np.ones((4, 4)); np.fill_diagonal(w_rec, 0)
    assert neurobench.connection_sparsity(np.ones((4, 3)), w_rec, np.ones((2, 4))) == pytest.approx(round(4 / 36, 4))
    assert neurobench.footprint_float32(3, 4, 2) == 4 * ((12 + 16 + 8 + 2 + 8 + 4) + 4 + 2)
    fmt = toy.make_profile({}).format  # 8-bit weights -> 1 byte, 24-bit state -> 4 bytes
    assert neurobench.footprint_chip(3, 4, 2, fmt) == (12 + 16 + 8 + 8) + 4 * 8 + 2 * 4


def test_sparse_matrices_give_the_dense_answers(toy):
    """memory, BPTT pre-core counts and NeuroBench metrics accept scipy CSR (compile_sparse artifacts)."""
    import scipy.sparse as sp
    from neurochip.cost.memory import memory
    prof = toy.make_profile({})
    rng = np.random.default_rng(2)
    mask = rng.random((4, 4)) < 0.6
    np.fill_diagonal(mask, False)
    dense = toy.make_compiled(prof, rec_mask=mask)
    sparse = toy.make_compiled(prof, rec_mask=sp.csr_matrix(mask))
    assert memory(dense, learn=True)["total_bits"] == memory(sparse, learn=True)["total_bits"]
    assert (bptt._pre_core_matrix(dense) == bptt._pre_core_matrix(sparse)).all()
    x = (rng.random((2, 5, 3)) < 0.4).astype(np.uint8)
    z = (rng.random((2, 5, 4)) < 0.4).astype(np.uint8)
    w_in, w_out = rng.normal(size=(4, 3)), rng.normal(size=(2, 4))
    w_rec = rng.normal(size=(4, 4)) * mask
    a = neurobench.neurobench_metrics(x, z, w_in, w_rec, w_out)
    b = neurobench.neurobench_metrics(x, z, sp.csr_matrix(w_in), sp.csr_matrix(w_rec), sp.csr_matrix(w_out))
    assert a == b
