"""``kaudio mix EVENTS_DIR BACKGROUNDS_DIR --out DIR``: mix a weakly labelled sound event detection set.

Event sounds (``EVENTS_DIR/<class>/<files>``) are mixed into backgrounds as in the 2APAE paper
(Deshmukh et al.) and Kong et al. (2019): by default 10-s clips at 32 kHz, 3 non-overlapping
events of different classes, each at most 2 s, an event-to-background SNR per clip drawn from 0,
10 and 20 dB, 4 folds, stereo files (channel 0 the events, channel 1 the background). The recipe,
the SNR definition and the folds are documented in :mod:`kaudio.data.mixing`.

Writes ``DIR/audio/00000.wav …``, ``DIR/labels.csv`` (``file,tags,split,fold,snr``: the folder
``kaudio train`` reads), ``DIR/events.csv`` (``file,onset,offset,class``: the strong labels of the
SED metrics) and ``DIR/mix_settings.json``. Clip ``i`` depends only on the seed and ``i``: running
again continues an interrupted run (or adds clips) and gives the same files; other settings are
refused with the difference named (``--overwrite`` remakes every clip). Exit status: 0, 1 when a
clip failed, 2 for bad arguments or inputs, 130 after Ctrl-C.
"""
from __future__ import annotations

import argparse
import math
import sys

from kaudio.cli.arguments import positive
from kaudio.cli.main import EXIT_INTERRUPTED

COMMAND = "mix"
HELP = "mix event sounds into backgrounds: a weakly labelled SED set (labels.csv + events.csv)"
EXIT_FAILED = 1


def _decibels(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of decibels") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of decibels")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("events_dir", metavar="EVENTS_DIR",
                        help="event sounds, one folder per class (EVENTS_DIR/<class>/...)")
    parser.add_argument("backgrounds_dir", metavar="BACKGROUNDS_DIR",
                        help="background recordings (searched recursively)")
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--clips", "-n", type=positive(int), default=8000,
                        help="number of clips (default: %(default)s, as in the paper per SNR)")
    parser.add_argument("--clip-seconds", type=positive(float), default=10.0,
                        help="clip length (default: %(default)s)")
    parser.add_argument("--sample-rate", type=positive(int), default=32000,
                        help="output rate in Hz (default: %(default)s)")
    parser.add_argument("--events-per-clip", type=positive(int), default=3,
                        help="events per clip, of different classes (default: %(default)s)")
    parser.add_argument("--snr", nargs="+", type=_decibels, default=[0.0, 10.0, 20.0], metavar="DB",
                        help="event-to-background SNRs a clip draws from: RMS of each event over its span vs RMS of "
                             "the background over the clip (default: 0 10 20)")
    parser.add_argument("--max-event-seconds", type=positive(float), default=2.0,
                        help="an event is the start of its file, at most this long (default: %(default)s)")
    parser.add_argument("--allow-overlap", action="store_true", help="events may overlap (default: they do not)")
    parser.add_argument("--mono", action="store_true",
                        help="write the mono mix (default: stereo, channel 0 events, channel 1 background)")
    parser.add_argument("--folds", type=positive(int), default=4, help="number of folds (default: %(default)s)")
    parser.add_argument("--val-fold", type=int,
                        help="fold whose clips are split 'val' in labels.csv (default: none: every clip is 'train' "
                             "and kaudio train draws its validation clips from all folds)")
    parser.add_argument("--test-fold", type=int, help="fold whose clips are split 'test' in labels.csv (default: none)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--subtype", default="PCM_16",
                        help="WAV sample format (default: %(default)s; FLOAT, PCM_24 …)")
    parser.add_argument("--overwrite", action="store_true", help="remake every clip, even with other recorded settings")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def run(args) -> int:
    from kaudio.data.mixing import MixInterrupted, MixSettings, mix_folder

    settings = MixSettings(clip_seconds=args.clip_seconds, sample_rate=args.sample_rate,
                           events_per_clip=args.events_per_clip, snrs=tuple(args.snr),
                           max_event_seconds=args.max_event_seconds, overlap=args.allow_overlap, mono=args.mono,
                           folds=args.folds, seed=args.seed, subtype=args.subtype)
    try:
        report = mix_folder(args.events_dir, args.backgrounds_dir, args.out, args.clips, settings,
                            val_fold=args.val_fold, test_fold=args.test_fold, overwrite=args.overwrite,
                            progress=not args.quiet)
    except MixInterrupted as err:
        print(f"kaudio mix: interrupted after {err.done} of {err.total} clip(s); the written clips are complete "
              "(nothing partial is left); run the same command again to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    if report.removed_temporaries:
        print(f"removed {report.removed_temporaries} temporary file(s) left by an interrupted run")
    for failure in report.failed:
        print(f"error: {failure}", file=sys.stderr)
    print(report.summary(args.clips))
    print(f"wrote {report.labels} and {report.events}")
    return EXIT_FAILED if report.failed else 0
