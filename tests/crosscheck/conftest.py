"""Put this folder on sys.path so tests import xc_helpers, xc_nets, xc_fixed_ref by name."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
