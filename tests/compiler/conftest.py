"""Fixtures for the compiler tests."""
import pytest

from neurochip.network import NeuronParams, init_network


@pytest.fixture(scope="session")
def small_net():
    return init_network(20, 60, 2, seed=3, p_rec=0.4)


@pytest.fixture(scope="session")
def lif_net():
    return init_network(20, 60, 2, NeuronParams(kind="lif", n_ref=1), seed=4, p_rec=0.4)
