"""``kaudio avc prepare VIDEOS --out SHARDS``: audio-visual correspondence (AVC) pairs cached as TFRecord shards;
``kaudio avc export RUN --out my_l3.weights.h5``: a trained AVC run's embedding networks for ``kaudio.embed``;
``kaudio avc export RUN --keras-out my_l3.keras``: its audio embedding as a standalone Keras model.

Samples ``--samples`` pairs of a 1-s audio window and a video frame from the ``--split`` videos
of VIDEOS (the protocol of L3-Net as trained in marl/l3embedding: :mod:`kaudio.data.avc.sampling`)
and writes them to SHARDS in shards of ``--shard-size`` (:mod:`kaudio.data.avc.shards`), with the
video-level split in ``SHARDS/split.json``. A trainer reads SHARDS like VIDEOS
(:func:`kaudio.data.avc.open_avc_data`), without decoding video.

Running again continues an interrupted run (complete shards are kept) or adds samples; other
settings are refused with the difference named (``--overwrite`` rewrites every shard). Exit
status: 0, 2 for bad arguments or inputs (one line), 1 when the folder cannot be written, 130
after Ctrl-C.

``export`` writes the audio tower of RUN's ``best.keras`` (and with ``--vision-out`` the vision tower) as the
weights of the matching OpenL3 embedding model, the embedding tapped before the tower's final batch norm
and ReLU (:mod:`kaudio.training.avc_export`): ``kaudio.embed(audio, sr, model="openl3_mel256_music",
weights="my_l3.weights.h5")``. ``--keras-out FILE.keras`` writes the audio embedding (the same tap) of
*any* AVC run — a scaled-down tower too — as a whole ``.keras`` model, for ``kaudio downstream DATA
--model FILE.keras`` (``--weights none`` there: the same network with random weights). Exit status 2
(one line) for a folder that is no AVC run or (``--out``) a tower no embedding model reproduces.
"""
from __future__ import annotations

import sys

from kaudio.cli.arguments import positive
from kaudio.cli.main import EXIT_INTERRUPTED

COMMAND = "avc"
HELP = ("audio-visual correspondence: 'kaudio avc prepare VIDEOS --out SHARDS' caches pairs as TFRecord shards; "
        "'kaudio avc export RUN --out FILE.weights.h5 | --keras-out FILE.keras' writes a trained run's embedding")


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
    prepare.add_argument("--samples", "-n", type=positive(int), default=8192,
                         help="pairs to write (default: %(default)s; the reference validated on 65536)")
    prepare.add_argument("--seed", type=int, default=0, help="seed of the samples (default: %(default)s)")
    prepare.add_argument("--shard-size", type=positive(int), default=1024,
                         help="pairs per shard file (default: %(default)s, the reference's HDF5 file size)")
    prepare.add_argument("--frame", choices=("window", "last"), default="window",
                         help="window: the frame lies inside the audio window (default); last: the video's last "
                              "frame, as the published L3/OpenL3 models were trained (a sampling bug)")
    prepare.add_argument("--negatives", choices=("fixed_partner", "balanced"), default="fixed_partner",
                         help="fixed_partner: two coins per sample with each video's fixed partner (the reference, "
                              "default); balanced: half positives in every even batch")
    prepare.add_argument("--image-encoding", choices=("raw", "jpeg"), default="raw",
                         help="frames as raw uint8 (default: exact) or JPEG quality 95 (smaller, lossy)")
    prepare.add_argument("--image-size", type=positive(int), default=224,
                         help="square crop side (default: %(default)s; the short side is resized to 256/224 of it)")
    prepare.add_argument("--sample-rate", type=positive(int), default=48000, help="audio rate (default: %(default)s)")
    prepare.add_argument("--cycle-length", type=positive(int), default=20,
                         help="videos decoded at once (default: %(default)s)")
    prepare.add_argument("--split-seed", type=int, default=20180118,
                         help="seed of the video split (default: %(default)s, the reference's)")
    prepare.add_argument("--overwrite", action="store_true",
                         help="rewrite every shard, even with other recorded settings")
    prepare.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    export = sub.add_parser("export", help="write a trained AVC run's audio (and vision) embedding network as the "
                                           "weights of an OpenL3 embedding model, or as a .keras model",
                            description="Write the audio tower of RUN/best.keras, tapped before its final batch "
                                        "norm and ReLU and max-pooled: --out as a .weights.h5 that "
                                        "kaudio.embed(..., model=NAME, weights=FILE) loads (NAME is printed; OpenL3 "
                                        "sizes only), --keras-out as a standalone .keras model (any tower) that "
                                        "`kaudio downstream DATA --model FILE.keras` embeds with.")
    export.add_argument("run", metavar="RUN", help="the run folder of `kaudio train <avc spec>` (spec.yaml, best.keras)")
    export.add_argument("--out", "-o", metavar="FILE.weights.h5", help="the audio embedding weights")
    export.add_argument("--keras-out", metavar="FILE.keras",
                        help="the audio embedding as a whole Keras model (audio windows -> embedding), for any run")
    export.add_argument("--vision-out", metavar="FILE.weights.h5",
                        help="also the vision embedding weights (for kaudio.embed_image)")


def run(args) -> int:
    if args.avc_command == "export":
        return _export(args)
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


def _export(args) -> int:
    from kaudio.errors import KaudioError

    if args.out is None and args.keras_out is None:
        raise KaudioError("give --out FILE.weights.h5 (an OpenL3 model's weights) and/or --keras-out FILE.keras "
                          "(a standalone embedding model)")
    if args.vision_out is not None and args.out is None:
        raise KaudioError("--vision-out goes with --out FILE.weights.h5 (the OpenL3 image model's weights)")
    if args.keras_out is not None:
        _export_keras(args.run, args.keras_out)
    if args.out is None:
        return 0
    from kaudio.training.avc_export import export_embeddings

    for item in export_embeddings(args.run, args.out, args.vision_out):
        call = "kaudio.embed(audio, sr" if item.tower == "audio" else "kaudio.embed_image(images"
        print(f"{item.tower} embedding → {item.path}: {call}, model=\"{item.model}\", embedding_size=512, "
              f"weights=\"{item.path}\") (or the model's _env name: the same network)")
    return 0


def _export_keras(run_dir: str, out: str) -> None:
    from kaudio.embedding.keras_file import load_keras_embedding
    from kaudio.training.avc_export import export_keras_embedding

    embedding = load_keras_embedding(export_keras_embedding(run_dir, out))
    print(f"audio embedding → {embedding.path}: {embedding.samples} samples at {embedding.sample_rate} Hz → "
          f"{embedding.dimension}-d; kaudio downstream DATA --model {embedding.path} (--weights none: the same "
          "network with random weights)")
