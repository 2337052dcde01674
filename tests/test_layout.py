"""The package installs under one import root, and pyproject lists every sub-package on disk."""
import importlib
from pathlib import Path

import tomli

ROOT = Path(__file__).resolve().parents[1]


def test_single_import_root():
    for name, folder in (("neurochip.compiler", "compiler"), ("neurochip.backends", "backends"),
                         ("neurochip.kernels", "kernels")):
        mod = importlib.import_module(name)
        assert Path(mod.__file__).resolve().parent == ROOT / folder


def test_pyproject_lists_every_subpackage():
    cfg = tomli.loads((ROOT / "pyproject.toml").read_text())
    listed = set(cfg["tool"]["setuptools"]["packages"])
    mapping = {"neurochip": "neurochip", "compiler": "neurochip.compiler", "backends": "neurochip.backends",
               "kernels": "neurochip.kernels"}
    on_disk = set()
    for top, pkg in mapping.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            on_disk.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert on_disk == listed, f"missing from pyproject: {sorted(on_disk - listed)}; stale: {sorted(listed - on_disk)}"
