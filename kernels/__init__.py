"""Numba kernels (``@njit(cache=True)``, arrays and scalars only): neuron updates, event-driven
propagation, traces and weight updates, in float (reference) and fixed point (chip)."""
