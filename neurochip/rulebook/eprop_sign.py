"""e-prop with sign-symmetric feedback (Liao, Leibo & Poggio 2016): F = sign(W_out^T) * |B|, the signs of
the readout weights with the fixed random magnitudes of B. On chip F is quantised once at compile time,
like symmetric e-prop's W_out^T."""
import numpy as np

from . import RuleSpec, register


def sign_symmetric(net):
    return np.ascontiguousarray(np.sign(np.asarray(net.w_out).T) * np.abs(np.asarray(net.B)))


SPEC = register(RuleSpec(name="eprop_sign", summary="e-prop, sign-symmetric feedback sign(W_out^T)|B|",
                         feedback=sign_symmetric))
