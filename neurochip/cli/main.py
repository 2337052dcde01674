"""``neurochip`` console command: one subcommand per pipeline step.

Each subcommand lives in ``neurochip/cli/<name>.py`` and exposes ``add_parser(subparsers)`` (which
registers its arguments and sets ``func``) . Errors from the `neurochip.errors` hierarchy are printed
as one line (``neurochip: error: ...``) with the error's exit code; Ctrl-C exits 130 without a
traceback. ``NEUROCHIP_DEBUG=1`` re-raises for a full traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

SUBCOMMANDS = ("demo", "train", "compile", "run", "validate", "bench", "analyse", "sweep", "chips",
               "nir")  # nir: export-nir + import-nir


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = argparse.ArgumentParser(
        prog="neurochip",
        description="Neuromorphic on-chip learning simulator and compiler: train spiking RNNs with e-prop "
                    "(float), compile them to a chip profile (fixed point, cores, routes), run and learn "
                    "on-chip (native / lava / brian2 backends), validate against the float reference and "
                    "cost energy, communication and memory.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'neurochip <command> --help' for the options of each step. Units: time in ms, "
               "rates in Hz, energy in pJ/uJ, memory in bits/KiB.")
    p.add_argument("--version", action="version", version=f"neurochip {__version__}")
    sub = p.add_subparsers(dest="command", metavar="command")
    for name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(f"neurochip.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"neurochip.cli.{name}":
                continue  # subcommand not built yet
            raise
        mod.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from ..errors import NeurochipError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
        return int(rc or 0)
    except NeurochipError as e:
        if os.environ.get("NEUROCHIP_DEBUG"):
            raise
        msg = " ".join(str(e).split())
        print(f"neurochip: error: {msg}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("neurochip: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        if os.environ.get("NEUROCHIP_DEBUG"):
            raise
        print(f"neurochip: error: {e.strerror}: {e.filename}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
