"""``kaudio build``, ``kaudio validate`` and ``kaudio specs``."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace


def _add_spec_arguments(parser) -> None:
    parser.add_argument("spec", help="a spec file (specs/l3_m256.yaml) or a bundled spec name (l3_m256)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override a spec field, e.g. --set head.embedding_size=512 (repeatable)")


def _build_arguments(parser) -> None:
    _add_spec_arguments(parser)
    parser.add_argument("--out", help="where to write the model (default: ./<name>.keras)")
    parser.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    parser.add_argument("--no-save", action="store_true", help="only print the card")


def _build(args) -> int:
    from kaudio.builder import build
    from kaudio.card import model_card
    from kaudio.writable import ensure_writable_file
    from kaudio.errors import KaudioError
    from kaudio.spec import load_spec

    spec = load_spec(args.spec, args.overrides)
    out = None
    if args.out or not args.no_save:
        out = Path(args.out) if args.out else Path(f"{spec.name}.keras")
        if out.suffix != ".keras":
            raise KaudioError(f"--out must end in .keras (Keras 3 model archive), got {str(out)!r}")
        # before building: an existing file (perhaps another spec's model of the same name) is never
        # replaced silently, and an unwritable location fails now, not after the work
        ensure_writable_file(out, args.overwrite, what="--out file")
    model = build(spec)
    print(model_card(model).to_text())
    if out is not None and not args.no_save:
        model.save(out)
        print(f"saved: {out}")
        print(f'load it with: import kaudio, keras; model = keras.models.load_model("{out}")  '
              "(kaudio must be imported: it registers the model's classes)")
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


COMMANDS = [
    SimpleNamespace(COMMAND="build", HELP="validate a spec, build its model, print its card and save it (.keras)",
                    add_arguments=_build_arguments, run=_build),
    SimpleNamespace(COMMAND="validate", HELP="validate a spec and print the resolved YAML (builds nothing)",
                    add_arguments=_add_spec_arguments, run=_validate),
    SimpleNamespace(COMMAND="specs", HELP="list the bundled specs", add_arguments=lambda parser: None, run=_specs),
]
