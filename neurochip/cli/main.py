"""``neurochip`` console command: one subcommand per pipeline step.

Each subcommand lives in ``neurochip/cli/<name>.py`` and exposes ``add_parser(subparsers)`` (which
registers its arguments and sets ``func``).

One convention for every step, applied here so no step can drift from it:

* **Errors are one line.** Errors from the `neurochip.errors` hierarchy and bad arguments are printed as one
  line (``neurochip: error: ...``) with the error's exit code; Ctrl-C exits 130; anything unexpected is
  still one line (exit 70, "internal error": a bug to report). ``NEUROCHIP_DEBUG=1`` re-raises for a full
  traceback.
* **--config FILE** is accepted by every step (train, compile, run, validate, bench, demo, analyse): the
  embedded pipeline config overridden by FILE, validated whole before any work starts; it sets the options
  listed in `neurochip.config.CLI_KEYS` that were not given on the command line.
* **Path forms**: a network or artifact is named by its stem, ``<stem>.npz``, ``<stem>.json`` or the
  directory a ``train`` / ``compile`` step wrote (`neurochip.io.resolve_bundle`).
* **-o OUTDIR and --force**: an existing non-empty OUTDIR is refused before any work starts; with --force
  it is replaced whole (never written into), atomically at the end (`neurochip.io.staged_output_dir`).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

SUBCOMMANDS = ("demo", "train", "compile", "run", "validate", "bench", "analyse", "sweep", "chips",
               "nir")  # nir: export-nir + import-nir
# the steps that take a pipeline config; demo and train register --config themselves
CONFIG_STEPS = ("demo", "train", "compile", "run", "validate", "bench", "analyse")
INTERNAL_ERROR = 70
_UNSET = object()


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (usage is one '--help' away)."""

    def error(self, message: str):  # type: ignore[override]
        msg = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {msg} (see '{self.prog} --help')\n")


def build_parser() -> Parser:
    from .. import __version__
    from ..config import config_help

    p = Parser(
        prog="neurochip",
        description="Neuromorphic on-chip learning simulator and compiler: train spiking RNNs with e-prop "
                    "(float), compile them to a chip profile (fixed point, cores, routes), run and learn "
                    "on-chip (native / lava / brian2 backends), validate against the float reference and "
                    "cost energy, communication and memory.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'neurochip <command> --help' for the options of each step. Units: time in ms, "
               "rates in Hz, energy in pJ/uJ, memory in bits/KiB. Every step accepts --config FILE.toml; "
               "networks and artifacts are named by stem, .npz, .json or their output directory; -o OUTDIR is "
               "refused when non-empty unless --force, which replaces it whole.")
    p.add_argument("--version", action="version", version=f"neurochip {__version__}")
    sub = p.add_subparsers(dest="command", metavar="command")
    for name in SUBCOMMANDS:
        importlib.import_module(f"neurochip.cli.{name}").add_parser(sub)
        sp = sub.choices.get(name)
        if sp is not None and name in CONFIG_STEPS and not any(a.dest == "config" for a in sp._actions):
            sp.add_argument("--config", default=None, help=config_help(name))
    return p


def _given(parser: Parser, command: str, argv: list[str]) -> set[str]:
    """Dests of ``command``'s options that were given on the command line (not defaults)."""
    sp = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    ns = argparse.Namespace(**{a.dest: _UNSET for a in sp._actions if a.dest != "help"})
    sp.parse_args(argv[argv.index(command) + 1:], ns)
    return {k for k, v in vars(ns).items() if v is not _UNSET}


def _check_outdir(args) -> None:
    """Refuse an existing non-empty output directory before any work (unless --force: replaced whole)."""
    from pathlib import Path
    from ..errors import ConfigError
    out = getattr(args, "out", None) or getattr(args, "outdir", None)
    if out is None or getattr(args, "resumes_outdir", False):
        return  # a command that resumes its own folder checks it itself (sweep: prepare_outdir)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output path {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not getattr(args, "force", False):
        raise ConfigError(f"output directory {out} exists and is not empty; choose another -o or pass --force "
                          f"to replace it whole")


def _prepare(parser: Parser, args, argv: list[str]) -> None:
    """Apply the step-independent conventions: --config (validated whole, then mapped onto the options not
    given) and the output-directory check."""
    if getattr(args, "config", None) is not None and args.command not in ("demo", "train"):
        from ..config import apply_to_args, load_config, validate_config
        cfg = load_config(args.config)
        validate_config(cfg, where=f"{args.config}: ")
        apply_to_args(args.command, cfg, args, _given(parser, args.command, argv))
    _check_outdir(args)


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


_interrupted = False


def _on_sigint(signum, frame):
    """Ctrl-C: remember it, then interrupt as Python would.

    Remembered because a KeyboardInterrupt can land inside a C callback (Numba's LLVM object-cache hook
    during a compile): Python then swallows it as "Exception ignored ..." and the library fails later
    with an unrelated-looking error. The user still pressed Ctrl-C, so that failure is an interruption
    (exit 130), not an internal error."""
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def _quiet_unraisable(u) -> None:
    """An interrupt swallowed in a callback is delivered again, once, to the main thread (a library that then
    carries on would otherwise ignore the Ctrl-C: seen as a demo that kept training); its "Exception
    ignored" report is dropped. Anything else is reported as Python would."""
    if u.exc_type is not None and issubclass(u.exc_type, KeyboardInterrupt):
        import _thread
        import threading
        # one re-delivery per swallowed interrupt, from another thread so that it lands after the callback
        # has returned; a re-delivery swallowed again comes back here
        threading.Timer(0.05, _thread.interrupt_main).start()
        return
    if _interrupted:
        return
    sys.__unraisablehook__(u)


def _install_interrupt_handling():
    """Install the handlers; returns a function restoring the previous ones (main() may run in-process)."""
    import signal
    import threading
    global _interrupted
    _interrupted = False
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old_sigint, old_hook = signal.signal(signal.SIGINT, _on_sigint), sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable

    def restore() -> None:
        signal.signal(signal.SIGINT, old_sigint)
        sys.unraisablehook = old_hook
    return restore


def main(argv: list[str] | None = None) -> int:
    """The CLI. ``argv`` None: run as the program (the ``neurochip`` script, ``python -m``), which after a
    Ctrl-C ends the process at once (exit 130); with an explicit ``argv`` (a library call, the tests) it
    returns the exit code instead."""
    as_program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help / --version (0) or a one-line usage error (2)
        return int(e.code or 0) if isinstance(e.code, int) or e.code is None else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    debug = bool(os.environ.get("NEUROCHIP_DEBUG"))
    restore = _install_interrupt_handling()
    try:
        rc = _run(parser, args, argv, debug)
    finally:
        restore()
    if rc == 130 and _interrupted and as_program:
        # Everything is cleaned up by now (staged outputs removed, children stopped). A Ctrl-C that landed in
        # the middle of a Numba/LLVM compile can leave LLVM in a state whose finalisers crash the interpreter
        # at exit (seen in CI: SIGSEGV after the "interrupted" line), so the program ends here, without them.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    return rc


def _run(parser, args, argv, debug: bool) -> int:
    from ..errors import NeurochipError
    try:
        _prepare(parser, args, argv)
        rc = args.func(args)
        return int(rc or 0)
    except NeurochipError as e:
        if debug:
            raise
        print(f"neurochip: error: {_one_line(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("neurochip: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        if debug:
            raise
        print(f"neurochip: error: {e.strerror}: {e.filename}", file=sys.stderr)
        return 2
    except MemoryError:
        if debug:
            raise
        print("neurochip: error: out of memory; choose a smaller network, batch or trial count", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: still one line for the user, the traceback one variable away
        if _interrupted:  # the consequence of a Ctrl-C swallowed by a library callback (see _on_sigint)
            print("neurochip: interrupted; no partial output was kept", file=sys.stderr)
            return 130
        if debug:
            raise
        print(f"neurochip: error: internal error ({type(e).__name__}: {_one_line(e)}); please report it, "
              f"NEUROCHIP_DEBUG=1 shows the traceback", file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
