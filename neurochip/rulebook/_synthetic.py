"""The registry hooks shared by the synthetic-gradient rules (eprop_sg, bptt_sg): see
``neurochip.learning.synthetic``. Imported lazily: the learning package imports the rule registry."""


def float_update(net, rule, batch, trace):
    """The update with an untrained (zero) synthetic-gradient module, i.e. plain truncated e-prop / BPTT:
    what ``grads`` alone returns (no carried module: validate, on-chip comparisons). The trainer carries
    the module through `CARRIED` instead."""
    from ..learning.synthetic import zero_module_update
    return zero_module_update(net, rule, batch, trace)


class _Carried:
    """``RuleSpec.carried`` of the synthetic-gradient rules: the linear module `SynthGrad`, learnt online."""

    artifact = "synthetic_gradient"   # <outdir>/synthetic_gradient.npz + .json written by `neurochip train`

    @staticmethod
    def init(net, rule):
        """Jaderberg et al. start from a zero module (no predicted credit: plain truncated training)."""
        from ..learning.synthetic import zero_module
        return zero_module(net.n_rec)

    @staticmethod
    def step(net, rule, batch, state):
        from ..learning.synthetic import sg_step
        return sg_step(net, rule, batch, state)

    @staticmethod
    def save(state, stem):
        from ..learning.synthetic import save_module
        save_module(state, stem)

    @staticmethod
    def load(stem, n_rec=None):
        from ..learning.synthetic import load_module
        return load_module(stem, n_rec)


CARRIED = _Carried()
