"""Fidelity of a chip run against the float reference (`neurochip validate`)."""
from __future__ import annotations

import numpy as np

from .errors import ArtifactError
from .network import Network, NeuronParams


def float_network(compiled) -> Network:
    """The source float `Network` carried by a `CompiledNetwork` (its ``*_float`` fields)."""
    missing = [n for n in ("w_in_float", "w_rec_float", "w_out_float", "B_float", "beta_float")
               if getattr(compiled, n, None) is None]
    if missing or not compiled.float_params:
        raise ArtifactError(f"compiled network carries no float source network (missing {missing or ['float_params']}); "
                            f"recompile it with this version of the compiler")
    return Network(params=NeuronParams.from_dict(dict(compiled.float_params)), w_in=compiled.w_in_float,
                   w_rec=compiled.w_rec_float, w_out=compiled.w_out_float, b_out=np.asarray(compiled.b_out, float),
                   B=compiled.B_float, beta=compiled.beta_float, rec_mask=np.asarray(compiled.rec_mask, bool))
