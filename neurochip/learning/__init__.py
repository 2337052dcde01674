"""Float learning rules: exact BPTT (and truncated), the e-prop family, RFLO; losses; optimisers.

Entry point: ``grads(net, rule, batch, trace=None) -> (Grads, loss, metrics)``.
For on-chip comparisons: ``weight_change`` (float e-prop / any rule weight change of one SGD step),
``bptt_gradient`` (exact gradient), ``cosine`` (alignment), ``eprop_online_grads`` (per-step,
per-synapse online e-prop, the reference the fixed-point kernels follow).
"""
from .gradients import (GRAD_FIELDS, Grads, ScanConfig, adjoint_grads, bptt_gradient, cosine,  # noqa: F401
                        feedback_matrix, grads, loss_terms, scan_config, weight_change)
from .losses import accuracy, nmse, rate_regulariser, task_loss, task_metrics  # noqa: F401
from .online import eprop_online_grads  # noqa: F401
from .optim import OptState, apply_update  # noqa: F401

__all__ = ["Grads", "GRAD_FIELDS", "ScanConfig", "grads", "adjoint_grads", "bptt_gradient", "weight_change",
           "cosine", "feedback_matrix", "scan_config", "loss_terms", "eprop_online_grads", "OptState",
           "apply_update", "task_loss", "rate_regulariser", "task_metrics", "accuracy", "nmse"]
