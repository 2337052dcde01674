"""The side-by-side table is well-formed markdown whatever each chip report holds."""
from __future__ import annotations

import numpy as np

from neurochip.backend_contract import EventCounts
from neurochip.cost.report import chip_report, markdown_table


def _counts():
    c2c = np.array([[5, 2], [1, 3]])
    return EventCounts(steps=50, trials=2, neuron_updates=300, neuron_updates_active=100, spikes=20, syn_ops=400,
                       spike_packets=int(c2c.sum()), mesh_hops=3, core_to_core_packets=c2c,
                       per_core_syn_ops=np.array([150, 250]), per_core_neuron_updates=np.array([150, 150]),
                       per_core_packets_out=c2c.sum(1))


def test_table_rows_have_one_cell_per_chip(toy):
    p1 = toy.make_profile({"sop": 1.0, "neuron_update": 2.0, "hop": 3.0, "intra_tile": 1.0}, static_mw=0.1)
    p2 = toy.make_profile({"all_in_sop": {"value": 26.0, "grade": "M", "source": "t", "scope": "all_in"}}, name="allin")
    reports = []
    for p, kw in ((p1, {}), (p2, {"learn": True, "compare_bptt": True})):
        comp = toy.make_compiled(p, core_xy=np.array([[0, 0], [1, 0]]))
        comp.w_in, comp.w_rec, comp.w_out = np.ones((4, 3)), np.ones((4, 4)) - np.eye(4), np.ones((2, 4))
        x = np.zeros((2, 25, 3), np.uint8)
        z = np.zeros((2, 25, 4), np.uint8)
        z[:, ::5, 1] = 1
        reports.append(chip_report(comp, _counts(), inputs=x, spikes=z, **kw))
    md = markdown_table(reports)
    lines = md.strip().splitlines()
    assert lines[0] == "| | toy | allin |"
    assert all(ln.count("|") == 4 for ln in lines), [ln for ln in lines if ln.count("|") != 4]
    text = dict((ln.split("|")[1].strip(), ln.split("|")[2:4]) for ln in lines[2:])
    assert text["learning run / sample: own forward + learning (uJ)"][0].strip() == "-"          # no learning run for the first chip
    assert text["energy / inference (uJ)"][1].strip() == f"{400 * 26.0 / 2 * 1e-6:.4g}"
    # router (0,0): 5 own + 2 injected + 1 delivered; router (1,0): 3 own + 2 delivered + 1 injected (4 x 4 mesh)
    assert reports[0]["router_grid"] == [[8, 6, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
