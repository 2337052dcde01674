"""What the learning rules converge to (Liu et al., NeurIPS 2022): loss-landscape curvature (dominant
eigenvalue of the surrogate Hessian) and generalization gap, for float networks and compiled ones.

- `curvature`: Hessian-vector products by central differences of the exact surrogate BPTT gradient,
  power iteration with the Rayleigh quotient (largest |lambda|, signed).
- `generalization`: held-out minus training loss / error on seeded task draws, float or on the chip.
- `compare`: the same two measurements on a float network and on a `CompiledNetwork` (dequantised
  weights, optionally learned on chip).
"""
from .compare import analyse_network, chip_network, chip_weights, chip_with_weights, compare_float_chip
from .curvature import (HVP, WEIGHTS, Eigen, arnoldi, dominant_eigenvalue, exact_gradient, fd_hessian, flatten,
                        grad_flat, hvp, power_iteration, unflatten)
from .generalization import chip_outputs, float_outputs, gap, per_trial, task_batches, task_gap

__all__ = ["HVP", "WEIGHTS", "Eigen", "arnoldi", "dominant_eigenvalue", "exact_gradient", "fd_hessian", "flatten", "grad_flat",
           "hvp", "power_iteration", "unflatten", "chip_outputs", "float_outputs", "gap", "per_trial", "task_batches",
           "task_gap", "analyse_network", "chip_network", "chip_weights", "chip_with_weights", "compare_float_chip"]
