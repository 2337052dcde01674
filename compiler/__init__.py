"""The compiler: lower a float `Network` (+ on-chip `LearningRule`) to a `ChipProfile`.

Passes, one module each (pure functions; options as small dataclasses): check -> quantize -> partition ->
place -> route -> emit, chained by `compile` (see docs/compiler.md).
"""
from .artifact import CompiledNetwork
from .graph import SparseNetwork, SynGraph, as_graph
from .pipeline import CompileOptions, compile, compile_sparse
from .check import CheckOptions
from .quantize import QuantizeOptions
from .partition import PartitionOptions
from .place import PlaceOptions

__all__ = ["CompiledNetwork", "SparseNetwork", "SynGraph", "as_graph", "CompileOptions", "compile", "compile_sparse",
           "CheckOptions", "QuantizeOptions", "PartitionOptions", "PlaceOptions"]
