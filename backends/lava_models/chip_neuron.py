"""`ChipNeuron`: our fixed-point LIF/ALIF for lava, for what lava-nc 0.10's own LIF lacks.

lava's `PyLifModelBitAcc` has no reset by subtraction, no refractory period and no adaptive threshold
(docs/backends.md). This process implements docs/fixed_point.md "Recurrent neuron j" literally, so the
lava backend can run every compiled network. A check of the native kernels against this model is OUR
model against OUR model: it proves the graph wiring, the Dense arithmetic (lava's own) and the time
alignment, not the neuron equations. The bit-exact claim against lava's own models covers LIF with
reset = 'zero', n_ref = 1, no adaptation.

Ports: a_in (int32 Dense activations, summed over projections by lava), s_out (bool spikes),
v_out (int32 membrane after reset, for read-out through an Extractor).

Module rule: lava exec's every .py file in this directory during model discovery; keep them to
imports and class definitions.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurochip.kernels.lava_engine import neuron_step


class ChipNeuron(AbstractProcess):
    """Fixed-point LIF/ALIF population (docs/fixed_point.md), parameters as in `CompiledNetwork`.

    du, dv, da: 12-bit decays; vth: threshold mantissa (vth_eff = vth << 6); bias_mant [n] with shared
    bias_exp; beta_mant [n] and beta_shift (A = vth_eff + (beta_mant * a) >> beta_shift); a_inc per
    spike; n_ref steps (counting the spike step); reset_subtract 1 = subtract vth_eff z^{t-1}, 0 = zero.
    """

    def __init__(self, *, shape, du, dv, da, vth, bias_mant, bias_exp, beta_mant, beta_shift, a_inc, n_ref,
                 reset_subtract, **kw):
        super().__init__(shape=shape, **kw)
        n = shape[0]
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=0)
        self.v = Var(shape=shape, init=0)
        self.a = Var(shape=shape, init=0)
        self.r = Var(shape=shape, init=0)
        self.zp = Var(shape=shape, init=0)
        # bias starts at 0: the backend sets it after chip step 1 (see backends/lava.py)
        self.bias_mant = Var(shape=shape, init=np.zeros(n, np.int32))
        self.beta_mant = Var(shape=shape, init=np.asarray(beta_mant, np.int32))
        self.params = Var(shape=(9,), init=np.array(
            [du, dv, da, vth, bias_exp, beta_shift, a_inc, n_ref, reset_subtract], np.int64))


@implements(proc=ChipNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyChipNeuronModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=32)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    a: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    r: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    zp: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=13)
    beta_mant: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=16)
    params: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)

    def run_spk(self) -> None:
        a_in = self.a_in.recv().astype(np.int64)
        du, dv, da, vth, bias_exp, beta_shift, a_inc, n_ref, rsub = (int(p) for p in self.params)
        p = dict(du=du, dv=dv, da=da, vth=vth, beta_shift=beta_shift, a_inc=a_inc, n_ref=n_ref, reset_subtract=rsub)
        bias = self.bias_mant << bias_exp if bias_exp >= 0 else self.bias_mant >> (-bias_exp)
        # the step of docs/fixed_point.md, shared with the e-prop neuron and the engine emulator
        u, v, a, r, z, _, _, _ = neuron_step(self.u, self.v, self.a, self.r, self.zp, a_in, bias, self.beta_mant, p)
        self.u[:] = u
        self.v[:] = v
        self.a[:] = a
        self.r[:] = r
        self.zp[:] = z
        z = z.astype(bool)
        self.s_out.send(z)
        self.v_out.send(v.astype(np.int32))
