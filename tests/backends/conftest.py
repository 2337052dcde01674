"""Fixtures of the native-backend tests; plain helpers live in nb_helpers.py (unique module name, so
test folders never shadow each other's helpers through a shared 'conftest' module name)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nb_helpers import wide  # noqa: E402,F401  (fixture)
