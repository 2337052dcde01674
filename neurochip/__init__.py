"""neurochip: neuromorphic on-chip learning simulator and compiler.

Float side (this package): `Network`, `NeuronParams`, `LearningRule`, tasks, training, cost model,
validation. ``neurochip.compiler`` lowers a network onto a `ChipProfile`; ``neurochip.backends`` run
the result; ``neurochip.kernels`` hold the Numba kernels.
"""
__version__ = "0.1.0"

from .errors import (ArtifactError, BackendError, ChipConstraintError, ConfigError,  # noqa: F401
                     FixedPointOverflowError, InvalidNetworkError, NeurochipError, Violation)
from .network import Network, NeuronParams, init_network  # noqa: F401
from .rules import LearningRule  # noqa: F401
