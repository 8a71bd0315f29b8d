"""Published weights → kaudio.

* ``kaudio convert openl3 FILE.h5 --out NAME.weights.h5 [--spec l3_m256]`` (OpenL3 backbone weights);
* ``kaudio convert panns CHECKPOINT.pth --arch cnn14|cnn10|cnn14_16k --out PATH.keras`` (a whole
  PANNs tagger model; reading .pth needs ``pip install kaudio[torch]``).

Which network a file fits comes from the family presets (:mod:`kaudio.models.l3.l3_presets`,
:mod:`kaudio.models.panns.panns_presets`). They are read when the command runs, not when the
parser is built: importing them imports TensorFlow, which ``--help`` and argument errors must not.
"""
from __future__ import annotations

from pathlib import Path

COMMAND = "convert"
HELP = "convert published weights (OpenL3 .h5, PANNs .pth) into kaudio weights / models"


def add_arguments(parser) -> None:
    formats = parser.add_subparsers(dest="source_format", metavar="FORMAT", required=True)
    openl3 = formats.add_parser("openl3", help="a released OpenL3 .h5 file (Keras-2 save_weights, v0.4.0 or v0.2.0)",
                                description="Map an OpenL3 .h5 file onto a bundled L3 spec's backbone by position "
                                            "(every shape checked) and save it as NAME.weights.h5.")
    openl3.add_argument("file", help="the OpenL3 weights file, e.g. openl3_audio_mel256_music.h5")
    openl3.add_argument("--out", help="output file ending in .weights.h5 (default: ./<file stem>.weights.h5)")
    openl3.add_argument("--spec", help="bundled spec the weights fit: l3_linear, l3_m128, l3_m256 or l3_image "
                                       "(default: from the file name)")
    panns = formats.add_parser("panns", help="a PANNs PyTorch checkpoint (Cnn14_mAP=0.431.pth, ...); needs torch",
                               description="Map a PANNs state_dict onto the bundled panns_cnn14 / panns_cnn10 tagger "
                                           "(every tensor name and shape checked) and save the model as .keras.")
    panns.add_argument("file", help="the checkpoint, e.g. Cnn14_mAP=0.431.pth (weights under 'model')")
    panns.add_argument("--arch", metavar="PRESET",
                       help="the PANNs preset of the checkpoint's network and front end, e.g. cnn14 (32 kHz) or "
                            "cnn14_16k (required unless --spec is given; an unknown name lists the presets)")
    panns.add_argument("--spec", help="instead of --arch: a spec with a panns_cnn backbone (and a tagger head or none)")
    panns.add_argument("--out", help="output model ending in .keras (default: ./<file stem>.keras)")
    panns.add_argument("--trust-pickle", action="store_true",
                       help="read the checkpoint with full unpickling; only needed when it holds objects other than "
                            "tensors and numpy data, and only for files you trust (unpickling can run code)")


def run(args) -> int:
    if args.source_format == "panns":
        return _run_panns(args)
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


def _run_panns(args) -> int:
    from kaudio.convert.panns import convert_panns
    from kaudio.errors import KaudioError
    from kaudio.models.panns.panns_presets import PRESETS

    if (args.arch is None) == (args.spec is None):
        raise KaudioError(f"give exactly one of --arch ({', '.join(PRESETS)}) or --spec")
    source = Path(args.file)
    out = Path(args.out) if args.out else Path(f"{source.stem}.keras")
    model, mapping = convert_panns(source, out, arch=args.arch, spec=args.spec, trust_pickle=args.trust_pickle)
    print(f"{source} -> spec {model.spec.name}, {len(mapping.matches)} tensors matched by name "
          f"(PyTorch key -> kaudio variable, shapes):")
    print(mapping.describe())
    print(f"saved: {out}")
    return 0
