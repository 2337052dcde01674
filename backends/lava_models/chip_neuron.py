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


def _trunc0_shift(x: np.ndarray, k: int) -> np.ndarray:
    # sign-magnitude shift: Loihi's decays round toward zero
    return np.sign(x) * (np.abs(x) >> k)


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
        H = 1 << 23                                   # 24-bit u and v registers
        vth_eff = vth << 6                            # threshold MSB-aligned by 6 bits, as lava's LIF
        bias = self.bias_mant << bias_exp if bias_exp >= 0 else self.bias_mant >> (-bias_exp)
        u = _trunc0_shift(self.u * (4096 - (du + 1)), 12) + (a_in << 6)   # ds_offset 1, input << 6
        u = np.where(u > H, u - 2 * H, np.where(u <= -H, u + 2 * H, u))  # lava's single asymmetric wrap
        reset = vth_eff * self.zp if rsub else 0
        v = _trunc0_shift(self.v * (4096 - dv), 12) + u + bias - reset
        v = np.clip(v, -(H - 1), H - 1)               # symmetric saturation of v
        a = _trunc0_shift(self.a * (4096 - da), 12) + a_inc * self.zp
        thr = vth_eff + ((self.beta_mant * a) >> beta_shift)
        z = (v > thr) & (self.r <= 0)                 # strict >, silenced while refractory
        self.r[:] = np.clip(self.r + n_ref * z - 1, 0, n_ref)
        if not rsub:
            v = np.where(z, 0, v)
        self.u[:] = u
        self.v[:] = v
        self.a[:] = a
        self.zp[:] = z
        self.s_out.send(z)
        self.v_out.send(v.astype(np.int32))
