"""``kaudio`` command line: ``kaudio build SPEC``, ``kaudio specs``.

User errors (bad specs, missing files) print a readable message and exit with status 2,
never a Python traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_USAGE = 2


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaudio", description="Audio models from YAML specs (Keras 3).")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    build = sub.add_parser("build", help="validate a spec, build its model, print its card and save it (.keras)")
    build.add_argument("spec", help="a spec file (specs/l3_m256.yaml) or a bundled spec name (l3_m256)")
    build.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a spec field, e.g. --set head.embedding_size=512 (repeatable)")
    build.add_argument("--out", help="where to write the model (default: ./<name>.keras)")
    build.add_argument("--no-save", action="store_true", help="only print the card")

    validate = sub.add_parser("validate", help="validate a spec and print the resolved YAML (builds nothing)")
    validate.add_argument("spec")
    validate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    sub.add_parser("specs", help="list the bundled specs")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        from kaudio.version import __version__

        print(f"kaudio {__version__}")
        return 0
    if args.command is None:
        _parser().print_help()
        return EXIT_USAGE
    _quiet_tensorflow()
    from kaudio.errors import KaudioError

    try:
        return {"build": _build, "validate": _validate, "specs": _specs}[args.command](args)
    except KaudioError as err:
        print(f"kaudio {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE


def _build(args) -> int:
    from kaudio.builder import build
    from kaudio.card import model_card
    from kaudio.errors import KaudioError
    from kaudio.spec import load_spec

    spec = load_spec(args.spec, args.overrides)
    out = None
    if args.out or not args.no_save:
        out = Path(args.out) if args.out else Path(f"{spec.name}.keras")
        if out.suffix != ".keras":
            raise KaudioError(f"--out must end in .keras (Keras 3 model archive), got {str(out)!r}")
        if out.parent and not out.parent.exists():
            raise KaudioError(f"--out directory {str(out.parent)!r} does not exist")
    model = build(spec)
    print(model_card(model).to_text())
    if out is not None and not args.no_save:
        model.save(out)
        print(f"saved: {out}")
    return 0


def _validate(args) -> int:
    import yaml

    from kaudio.spec import load_spec

    spec = load_spec(args.spec, args.overrides)
    print(yaml.safe_dump(spec.to_dict(), sort_keys=False), end="")
    return 0


def _specs(args) -> int:
    from kaudio.spec import bundled

    rows = bundled.describe()
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
