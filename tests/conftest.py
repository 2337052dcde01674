"""Hypothesis settings profiles for the whole suite.

- ``ci``  (loaded when CI=true, as `.ci/run` sets it): no deadline (2 shared cores; the first call of a
  Numba function compiles it, so wall-clock per example says nothing about correctness), derandomized
  (the examples are a fixed function of each test, so a CI run is reproducible and a failure can be re-run
  exactly), no example database (nothing carried between runs), failing examples printed in full.
- ``dev`` (the default elsewhere): no deadline either (the machine is shared), random examples so that local
  runs keep exploring; a failure is stored in the local example database and replayed first next time.
  Built on Hypothesis' own "default" profile, not on whatever is loaded (Hypothesis loads its built-in "ci"
  profile by itself whenever a CI variable exists, even an empty one).

``HYPOTHESIS_PROFILE=ci|dev`` overrides the choice. ``max_examples`` stays per test (each test sizes it to
its cost); the profiles only set how examples are drawn and timed.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", parent=settings.get_profile("default"), deadline=None)

_ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _ci else "dev"))
