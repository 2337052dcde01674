"""The registry hook shared by the synthetic-gradient rules (eprop_sg, bptt_sg): see
``neurochip.learning.synthetic``. Imported lazily: the learning package imports the rule registry."""


def float_update(net, rule, batch, trace):
    """The update with an untrained (zero) synthetic-gradient module, i.e. plain truncated e-prop / BPTT:
    the trainer does not carry the module (``neurochip.learning.synthetic.train_sg`` does)."""
    from ..learning.synthetic import zero_module_update
    return zero_module_update(net, rule, batch, trace)
