"""``kaudio`` command line. Each sub-command lives in its own module of :mod:`kaudio.cli`.

A command module defines ``COMMAND`` (its name), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``; modules are discovered, so adding a command edits nothing here.
User errors (:class:`~kaudio.errors.KaudioError`) print a readable message and exit with status 2,
never a Python traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

EXIT_USAGE = 2


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        command.add_arguments(sub.add_parser(command.COMMAND, help=command.HELP, description=command.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    commands = _command_modules()
    parser = _parser(commands)
    args = parser.parse_args(argv)
    if args.version:
        from kaudio.version import __version__

        print(f"kaudio {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _quiet_tensorflow()
    from kaudio.errors import KaudioError

    command = next(c for c in commands if c.COMMAND == args.command)
    try:
        return command.run(args)
    except KaudioError as err:
        print(f"kaudio {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
