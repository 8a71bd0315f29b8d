"""``kaudio`` command line. Each sub-command lives in its own module of :mod:`kaudio.cli`.

A command module defines ``COMMAND`` (its name), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``; modules are discovered, so adding a command edits nothing here.
Command modules import nothing heavy at module level: ``--help``, ``--version``, ``specs`` and
argument errors never import TensorFlow.

User errors (:class:`~kaudio.errors.KaudioError`) print one line (plus the list of problems of a
spec) and exit with the error's ``exit_status`` (2 for bad specs and arguments, 1 for failures
such as an output folder that cannot be written), never a Python traceback. TensorFlow's C++ log
lines are silenced before TensorFlow is imported (``-v`` keeps them); warnings print as
``warning: <message>``; Ctrl-C exits with status 130 after one line.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
import warnings

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _quiet_libraries(verbose: bool) -> None:
    """Silence TensorFlow's C++ and Python loggers unless ``verbose`` (must run before TensorFlow is imported)."""
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warning: <message>`` on stderr: kaudio's warnings are for the user, not about kaudio's source lines."""
    print(f"warning: {message}", file=file or sys.stderr)


def _configure_warnings(verbose: bool) -> None:
    warnings.showwarning = _show_warning
    if not verbose:  # library deprecation chatter is for developers, not for users of the command line
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category)


def _command_modules() -> list:
    import kaudio.cli as package

    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name == "main":
            continue
        module = importlib.import_module(f"kaudio.cli.{info.name}")
        modules.extend(getattr(module, "COMMANDS", [module] if hasattr(module, "COMMAND") else []))
    return modules


def _parser(commands) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaudio", description="Audio models from YAML specs (Keras 3).")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="keep TensorFlow's log messages and library warnings (silenced by default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        command.add_arguments(sub.add_parser(command.COMMAND, help=command.HELP, description=command.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        commands = _command_modules()
        parser = _parser(commands)
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("kaudio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.version:
        from kaudio.version import __version__

        print(f"kaudio {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _quiet_libraries(args.verbose)
    from kaudio.errors import KaudioError

    command = next(c for c in commands if c.COMMAND == args.command)
    with warnings.catch_warnings():
        _configure_warnings(args.verbose)
        try:
            return command.run(args)
        except KaudioError as err:
            print(f"kaudio {args.command}: error: {err}", file=sys.stderr)
            return getattr(err, "exit_status", EXIT_USAGE)
        except KeyboardInterrupt:
            print(f"kaudio {args.command}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
