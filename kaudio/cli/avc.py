"""``kaudio avc prepare VIDEOS --out SHARDS``: audio-visual correspondence (AVC) pairs cached as TFRecord shards.

Samples ``--samples`` pairs of a 1-s audio window and a video frame from the ``--split`` videos
of VIDEOS (the protocol of L3-Net as trained in marl/l3embedding: :mod:`kaudio.data.avc.sampling`)
and writes them to SHARDS in shards of ``--shard-size`` (:mod:`kaudio.data.avc.shards`), with the
video-level split in ``SHARDS/split.json``. A trainer reads SHARDS like VIDEOS
(:func:`kaudio.data.avc.open_avc_data`), without decoding video.

Running again continues an interrupted run (complete shards are kept) or adds samples; other
settings are refused with the difference named (``--overwrite`` rewrites every shard). Exit
status: 0, 2 for bad arguments or inputs (one line), 1 when the folder cannot be written, 130
after Ctrl-C.
"""
from __future__ import annotations

import argparse
import sys

COMMAND = "avc"
HELP = "audio-visual correspondence data: 'kaudio avc prepare VIDEOS --out SHARDS' caches pairs as TFRecord shards"
EXIT_INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="avc_command", metavar="SUBCOMMAND", required=True)
    prepare = sub.add_parser("prepare", help="sample AVC pairs from a folder of videos into TFRecord shards",
                             description="Sample AVC pairs (1-s audio window + one frame; match or mismatch) from "
                                         "the videos of one split and write them as TFRecord shards.")
    prepare.add_argument("videos", metavar="VIDEOS", help="folder of videos (searched recursively)")
    prepare.add_argument("--out", "-o", required=True, metavar="SHARDS", help="shards folder (created)")
    prepare.add_argument("--split", choices=("train", "val", "test"), default="train",
                         help="which videos of the 80/10/10 video-level split (default: %(default)s); val and test "
                              "samples are not augmented")
    prepare.add_argument("--samples", "-n", type=_positive_int, default=8192,
                         help="pairs to write (default: %(default)s; the reference validated on 65536)")
    prepare.add_argument("--seed", type=int, default=0, help="seed of the samples (default: %(default)s)")
    prepare.add_argument("--shard-size", type=_positive_int, default=1024,
                         help="pairs per shard file (default: %(default)s, the reference's HDF5 file size)")
    prepare.add_argument("--frame", choices=("window", "last"), default="window",
                         help="window: the frame lies inside the audio window (default); last: the video's last "
                              "frame, as the published L3/OpenL3 models were trained (a sampling bug)")
    prepare.add_argument("--negatives", choices=("fixed_partner", "balanced"), default="fixed_partner",
                         help="fixed_partner: two coins per sample with each video's fixed partner (the reference, "
                              "default); balanced: half positives in every even batch")
    prepare.add_argument("--image-encoding", choices=("raw", "jpeg"), default="raw",
                         help="frames as raw uint8 (default: exact) or JPEG quality 95 (smaller, lossy)")
    prepare.add_argument("--image-size", type=_positive_int, default=224,
                         help="square crop side (default: %(default)s; the short side is resized to 256/224 of it)")
    prepare.add_argument("--sample-rate", type=_positive_int, default=48000, help="audio rate (default: %(default)s)")
    prepare.add_argument("--cycle-length", type=_positive_int, default=20,
                         help="videos decoded at once (default: %(default)s)")
    prepare.add_argument("--split-seed", type=int, default=20180118,
                         help="seed of the video split (default: %(default)s, the reference's)")
    prepare.add_argument("--overwrite", action="store_true",
                         help="rewrite every shard, even with other recorded settings")
    prepare.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def run(args) -> int:
    from kaudio.data.avc import AVCSettings, PrepareInterrupted, prepare_shards

    settings = AVCSettings(frame=args.frame, negatives=args.negatives, image_size=args.image_size,
                           resize_short_side=int(round(args.image_size * 256 / 224)), sample_rate=args.sample_rate,
                           audio_samples=args.sample_rate, cycle_length=args.cycle_length)
    try:
        report = prepare_shards(args.videos, args.out, split=args.split, samples=args.samples, seed=args.seed,
                                shard_size=args.shard_size, settings=settings, image_encoding=args.image_encoding,
                                split_seed=args.split_seed, overwrite=args.overwrite, progress=not args.quiet)
    except PrepareInterrupted as err:
        print(f"kaudio avc: interrupted after {err.done} of {err.total} shard(s); the written shards are complete "
              "(nothing partial is left); run the same command again to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    if report.removed_temporaries:
        print(f"removed {report.removed_temporaries} temporary file(s) left by an interrupted run")
    print(report.summary())
    return 0
