"""Write the NIR files in this folder with snnTorch itself (run once, by hand; not a test).

snnTorch is never a neurochip dependency: this script runs in a throwaway environment
(python 3.11, torch 2.x CPU, snntorch 1.0.0, nirtorch, nir 1.0.8, h5py), e.g.

    python -m venv /tmp/snn && /tmp/snn/bin/pip install torch snntorch nirtorch nir h5py
    /tmp/snn/bin/python tests/data/nir/make_snntorch_graphs.py

It writes, next to itself:
  snntorch_ff.nir    Linear(6->10) -> Leaky -> Linear(10->3) -> Leaky        (feed-forward)
  snntorch_rec.nir   Linear(6->10) -> RLeaky(10, all-to-all) -> Linear(10->3) -> Leaky  (recurrent)
  snntorch_runs.npz  for each graph: the input spikes [T, 6] and the spikes of every layer that snnTorch
                     itself produced when running the same torch module (so neurochip's test can check
                     spike agreement without torch).
Weights are seeded; biases are off (neurochip's recurrent neurons have no bias current); the
recurrent matrix has a zero diagonal (neurochip forbids self-connections) and a zero bias.
All layers share beta = 0.9 and threshold 1 (neurochip has one membrane time constant per network).
"""
import os

import numpy as np
import torch
import nir
import snntorch as snn
from snntorch.export_nir import export_to_nir

HERE = os.path.dirname(os.path.abspath(__file__))
T, N_IN, N_H, N_OUT = 60, 6, 10, 3
BETA = 0.9


def build(recurrent: bool) -> torch.nn.Module:
    torch.manual_seed(1 if recurrent else 0)
    lin1 = torch.nn.Linear(N_IN, N_H, bias=False)
    lin2 = torch.nn.Linear(N_H, N_OUT, bias=False)
    with torch.no_grad():
        lin1.weight.mul_(2.5)
        lin2.weight.mul_(2.5)
    if recurrent:
        lif1 = snn.RLeaky(beta=BETA, linear_features=N_H, init_hidden=True)
        with torch.no_grad():
            lif1.recurrent.weight.fill_diagonal_(0.0)
            lif1.recurrent.bias.zero_()
    else:
        # per-neuron beta/threshold vectors: snnTorch exports a scalar as a 0-d LIF, which NIR's type check refuses
        lif1 = snn.Leaky(beta=torch.full((N_H,), BETA), threshold=torch.ones(N_H), init_hidden=True)
    lif2 = snn.Leaky(beta=torch.full((N_OUT,), BETA), threshold=torch.ones(N_OUT), init_hidden=True, output=True)
    return torch.nn.Sequential(lin1, lif1, lin2, lif2)


def run(net: torch.nn.Module, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """snnTorch's own forward pass, one step at a time; returns spikes of layer 1 and layer 2 [T, n]."""
    for m in net:
        if isinstance(m, snn.SpikingNeuron):
            m.reset_hidden()
    s1, s2 = [], []
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = net[0](torch.tensor(x[t:t + 1], dtype=torch.float32))
            z1 = net[1](h)
            z2, _ = net[3](net[2](z1))
            s1.append(z1.numpy()[0]); s2.append(z2.numpy()[0])
    return np.array(s1, np.uint8), np.array(s2, np.uint8)


def main() -> None:
    rng = np.random.default_rng(7)
    out = {}
    for name, rec in (("ff", False), ("rec", True)):
        net = build(rec)
        x = (rng.random((T, N_IN)) < 0.3).astype(np.float32)
        graph = export_to_nir(net, torch.zeros(1, N_IN), ignore_dims=[0])  # drop the batch dim
        nir.write(os.path.join(HERE, f"snntorch_{name}.nir"), graph)
        s1, s2 = run(net, x)
        out[f"{name}_x"] = x.astype(np.uint8)
        out[f"{name}_s1"] = s1
        out[f"{name}_s2"] = s2
        print(name, "nodes", sorted(graph.nodes), "edges", graph.edges, "spikes", int(s1.sum()), int(s2.sum()))
    np.savez(os.path.join(HERE, "snntorch_runs.npz"), **out)


if __name__ == "__main__":
    main()
