"""``kaudio convert openl3 FILE.h5 --out NAME.weights.h5 [--spec l3_m256]``: published weights → kaudio weights."""
from __future__ import annotations

from pathlib import Path

COMMAND = "convert"
HELP = "convert published weights (OpenL3 .h5) into a kaudio backbone weights file (.weights.h5)"


def add_arguments(parser) -> None:
    formats = parser.add_subparsers(dest="source_format", metavar="FORMAT", required=True)
    openl3 = formats.add_parser("openl3", help="a released OpenL3 .h5 file (Keras-2 save_weights, v0.4.0 or v0.2.0)",
                                description="Map an OpenL3 .h5 file onto a bundled L3 spec's backbone by position "
                                            "(every shape checked) and save it as NAME.weights.h5.")
    openl3.add_argument("file", help="the OpenL3 weights file, e.g. openl3_audio_mel256_music.h5")
    openl3.add_argument("--out", help="output file ending in .weights.h5 (default: ./<file stem>.weights.h5)")
    openl3.add_argument("--spec", help="bundled spec the weights fit: l3_linear, l3_m128, l3_m256 or l3_image "
                                       "(default: from the file name)")


def run(args) -> int:
    from kaudio.convert.openl3 import SPEC_BY_FILE_NAME_WORD, convert_openl3, spec_for_file
    from kaudio.errors import KaudioError

    source = Path(args.file)
    spec = args.spec or spec_for_file(source)
    if spec is None:
        choices = ", ".join(spec for _, spec in SPEC_BY_FILE_NAME_WORD)
        raise KaudioError(f"cannot tell the network from the file name {source.name!r}; pass --spec ({choices})")
    out = Path(args.out) if args.out else Path(f"{source.name.split('.')[0]}.weights.h5")
    mapping = convert_openl3(source, out, spec)
    print(f"{source} -> spec {spec}, {len(mapping.matches)} weighted layers matched by position "
          f"(file layer -> kaudio layer, shapes):")
    print(mapping.describe())
    print(f"saved: {out}")
    return 0
