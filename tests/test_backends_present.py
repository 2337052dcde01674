"""Every backend is a real dependency: lava-nc and brian2 import (checked in a child interpreter,
because importing lava changes the multiprocessing start method of the process that imports it).
A missing backend fails here, in CI and everywhere, rather than being skipped."""
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["lava.magma.core.run_configs", "lava.proc.lif.process", "brian2", "numba"])
def test_backend_dependency_imports(module):
    p = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{module} does not import: {p.stderr[-800:]}"


def test_registry_knows_every_backend():
    from neurochip.backends import get_backend
    from neurochip.errors import ConfigError
    for name in ("native", "lava", "brian2"):
        assert callable(get_backend(name).run)
    with pytest.raises(ConfigError, match="native"):
        get_backend("loihi-hardware")
