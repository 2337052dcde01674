"""`EpropNeuron`: our fixed-point neuron for lava's 3-factor learning engine (e-prop's post-synaptic side).

lava-nc 0.10's `LearningLIF` models never send y1..y3, so a 3-factor rule needs a neuron of our own.
Dynamics: docs/fixed_point.md (``kernels.lava_engine.neuron_step``, shared with the emulator). Each
step it sends, besides spikes: a zero back-propagated spike (a BAP would clip y to [0, 127] and zero
negative learning signals), y1 = 0, y2 = the learning-signal code received on ``a_third_factor_in``
(graded int32, same step, clipped to [-127, 127]) and y3 = the pseudo-derivative code
(``kernels.lava_engine.psi_code``, 0..127).

A check of this model is our model against our model for the neuron; the learning engine
(LearningDense, traces, product, rounding) is lava's own.

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

from neurochip.kernels.lava_engine import W_TRACE_MAX, neuron_step, psi_code


class EpropNeuron(AbstractProcess):
    """Fixed-point LIF/ALIF population with e-prop learning outputs (parameters as `ChipNeuron`)."""

    def __init__(self, *, shape, du, dv, da, vth, bias_exp, beta_mant, beta_shift, a_inc, n_ref,
                 reset_subtract, **kw):
        super().__init__(shape=shape, **kw)
        n = shape[0]
        self.a_in = InPort(shape=shape)
        self.a_third_factor_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.s_out_bap = OutPort(shape=shape)
        self.s_out_y1 = OutPort(shape=shape)
        self.s_out_y2 = OutPort(shape=shape)
        self.s_out_y3 = OutPort(shape=shape)
        for name in ("u", "v", "a", "r", "zp"):
            setattr(self, name, Var(shape=shape, init=0))
        self.bias_mant = Var(shape=shape, init=np.zeros(n, np.int32))   # set after chip step 1
        self.beta_mant = Var(shape=shape, init=np.asarray(beta_mant, np.int32))
        self.params = Var(shape=(9,), init=np.array(
            [du, dv, da, vth, bias_exp, beta_shift, a_inc, n_ref, reset_subtract], np.int64))


@implements(proc=EpropNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyEpropNeuronModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=32)
    a_third_factor_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=32)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    s_out_bap: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
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
        l_code = self.a_third_factor_in.recv().astype(np.int64)
        du, dv, da, vth, bias_exp, beta_shift, a_inc, n_ref, rsub = (int(q) for q in self.params)
        p = dict(du=du, dv=dv, da=da, vth=vth, beta_shift=beta_shift, a_inc=a_inc, n_ref=n_ref, reset_subtract=rsub)
        bias = self.bias_mant << bias_exp if bias_exp >= 0 else self.bias_mant >> (-bias_exp)
        u, v, a, r, z, v_pre, A, refr = neuron_step(self.u, self.v, self.a, self.r, self.zp, a_in, bias,
                                                    self.beta_mant, p)
        self.u[:] = u; self.v[:] = v; self.a[:] = a; self.r[:] = r; self.zp[:] = z
        n = z.shape[0]
        self.s_out.send(z.astype(bool))
        self.s_out_bap.send(np.zeros(n, bool))
        self.s_out_y1.send(np.zeros(n, np.int32))
        self.s_out_y2.send(np.clip(l_code, -W_TRACE_MAX, W_TRACE_MAX).astype(np.int32))
        self.s_out_y3.send(psi_code(v_pre, A, refr, vth).astype(np.int32))
