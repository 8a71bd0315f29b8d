"""``kaudio embed PATH...``: embed audio and video files like the openl3 CLI, into ``.npz`` files.

Order of work, so that nothing is computed that cannot be written or kept:

1. the arguments are validated (model, embedding size, hop, batch size, weights file);
2. directories are searched recursively; with ``--output-dir`` the folder structure below each
   input directory is mirrored (``in/a/clip.wav`` → ``out/a/clip.npz``), so equal names in
   different folders stay apart; two inputs that would still write the same file (``x.wav`` and
   ``x.flac`` side by side, or two files given by name) are refused, naming both;
3. every output folder is created and checked writable, and temporary files left there by a
   killed run are removed;
4. an existing output is skipped only when the settings recorded in it match this run's
   (:mod:`kaudio.embedding.settings`); one made otherwise is reported as an error and left alone
   (``--overwrite`` replaces it);
5. the models are built once, then each file is embedded and written atomically.

A file that fails does not stop the others; the exit status is 1 if any failed, 130 after Ctrl-C
(the files finished until then are complete; running the same command again continues).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from kaudio.cli.main import EXIT_INTERRUPTED
from kaudio.video_io import VIDEO_EXTENSIONS

COMMAND = "embed"
HELP = "embed audio/video files (OpenL3-style) into .npz files with 'embedding' and 'timestamps'"
EXIT_FAILED = 1


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio/video files or directories (recursive)")
    parser.add_argument("--output-dir", "-o", help="where to write .npz files (default: beside each input); the "
                                                   "folder structure below an input directory is mirrored")
    parser.add_argument("--suffix", "-x", help="output name suffix: <name>_<suffix>.npz")
    parser.add_argument("--model", "-m", default="openl3_mel256_music", help="audio model (default: %(default)s)")
    parser.add_argument("--embedding-size", "-s", type=int, default=6144, help="6144 or 512 (default: %(default)s)")
    parser.add_argument("--hop-size", "-t", type=float, default=0.1, help="seconds between windows (default: %(default)s)")
    parser.add_argument("--no-centering", "-n", action="store_true", help="windows start (not centre) at timestamps")
    parser.add_argument("--batch-size", "-b", type=int, default=32, help="windows per forward pass (default: %(default)s)")
    parser.add_argument("--weights", default="pretrained",
                        help="'pretrained' (default), a weight file, or 'none' for random weights")
    parser.add_argument("--mode", choices=("exact", "fast"), default="exact",
                        help="exact: openl3's windows; fast: one pass over each file (see docs)")
    parser.add_argument("--overwrite", action="store_true", help="recompute outputs that already exist")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def find_inputs(paths: list[str]) -> tuple[list[tuple[Path, Path | None]], list[str]]:
    """Expand directories (recursively) into audio/video files.

    Returns ``([(file, the input directory it was found in, or None)], problems)``.
    """
    from kaudio.embedding.audio_files import AUDIO_EXTENSIONS

    known = AUDIO_EXTENSIONS + VIDEO_EXTENSIONS
    files, problems = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in known)
            if not found:
                problems.append(f"{path}: no audio or video files found in this directory")
            files.extend((p, path) for p in found)
        elif path.is_file():
            files.append((path, None))
        else:
            problems.append(f"{path}: file not found")
    return files, problems


def _is_video(path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def _settings(args, weights, with_video: bool):
    """Validate the arguments (before any output is looked at); ``(audio settings, image settings or None)``."""
    from kaudio.embedding.models import model_info
    from kaudio.embedding.settings import audio_settings, image_settings
    from kaudio.embedding.validation import check_batch_size
    from kaudio.errors import KaudioError

    check_batch_size(args.batch_size)
    audio = audio_settings(args.model, args.embedding_size, args.hop_size, not args.no_centering, args.mode, weights)
    if not with_video:
        return audio, None
    if weights not in (None, "pretrained"):
        raise KaudioError(f"--weights {weights} is an audio weight file, but videos also need the image network's "
                          f"weights: embed videos with the pretrained weights (the default) or --weights none")
    info = model_info(args.model, modality="audio")
    # Videos use the image network co-trained with the audio model, as openl3's CLI does.
    return audio, image_settings(f"openl3_image_{info.input_repr}_{info.content_type}", 8192, weights)


def _targets(path: Path, root: Path | None, args) -> list[Path]:
    from kaudio.embedding.output import mirrored_folder, output_path

    folder = mirrored_folder(path, root, args.output_dir)
    if _is_video(path):
        return [output_path(path, args.suffix, folder, tag=tag) for tag in ("audio", "image")]
    return [output_path(path, args.suffix, folder)]


def run(args) -> int:
    from kaudio.embedding.output import plan_outputs
    from kaudio.embedding.settings import existing_output_matches
    from kaudio.errors import KaudioError

    weights = None if args.weights.lower() == "none" else args.weights
    found, failures = find_inputs(args.paths)
    audio_settings, image_settings = _settings(args, weights, any(_is_video(path) for path, _ in found))
    plan = plan_outputs([(path, _targets(path, root, args)) for path, root in found], args.output_dir)
    if plan.removed_temporaries:
        print(f"removed {plan.removed_temporaries} temporary file(s) left by an interrupted run")
    for problem in failures:
        print(f"error: {problem}", file=sys.stderr)

    todo, skipped = [], []
    for item in plan.inputs:
        wanted = (audio_settings, image_settings) if _is_video(item.source) else (audio_settings,)
        try:
            needed = [args.overwrite or not existing_output_matches(target, settings, "--overwrite")
                      for target, settings in zip(item.targets, wanted)]
        except KaudioError as err:  # made with other settings: never silently kept, never silently replaced
            print(f"error: {err}", file=sys.stderr)
            failures.append(str(err))
            continue
        (todo if any(needed) else skipped).append(item)

    total = len(plan.inputs)
    for item in skipped:
        print(f"{item.source}: exists with the same settings, skipped ({', '.join(map(str, item.targets))}; "
              "--overwrite to recompute)")
    if todo:
        try:
            _load_models(args, weights, image_settings if any(_is_video(i.source) for i in todo) else None)
        except KaudioError as err:  # bad weights or a failed download: the same for every file, so say it once
            print(f"error: {err}", file=sys.stderr)
            print(f"embedded 0 file(s); {len(todo)} not attempted")
            return EXIT_FAILED

    done = windows = 0
    start = time.perf_counter()
    try:
        for index, item in enumerate(todo, 1):
            print(f"[{index}/{len(todo)}] {item.source}", flush=True)
            try:
                windows += _embed_one(item, args, weights, audio_settings, image_settings)
                done += 1
            except KaudioError as err:
                message = str(err)
                if not message.startswith(str(item.source)):
                    message = f"{item.source}: {message}"
                print(f"error: {message}", file=sys.stderr)
                failures.append(message)
    except KeyboardInterrupt:
        print(f"kaudio embed: interrupted after {done} of {len(todo)} file(s); the {done} written .npz file(s) are "
              "complete (nothing partial is left); run the same command again to continue with the rest",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    seconds = time.perf_counter() - start
    print(f"embedded {done} file(s), {windows} window(s) in {seconds:.1f} s; skipped {len(skipped)} existing "
          f"of {total}; failed {len(failures)}")
    for failure in failures:
        print(f"  failed: {failure}")
    return EXIT_FAILED if failures else 0


def _embed_one(item, args, weights, audio_settings, image_settings) -> int:
    """Embed one file and write its output(s); returns the number of audio windows."""
    from kaudio.embedding.output import save_npz_atomic

    options = dict(hop_size=args.hop_size, center=not args.no_centering, batch_size=args.batch_size,
                   weights=weights, verbose=not args.quiet)
    if _is_video(item.source):
        from kaudio.embedding.video import embed_video

        (audio_emb, audio_ts), (image_emb, image_ts) = embed_video(
            item.source, audio_model=args.model, audio_embedding_size=args.embedding_size,
            image_model=image_settings.model, **options)
        save_npz_atomic(item.targets[0], audio_settings, embedding=audio_emb, timestamps=audio_ts)
        save_npz_atomic(item.targets[1], image_settings, embedding=image_emb, timestamps=image_ts)
        return len(audio_emb)
    from kaudio.embedding.audio_files import embed_audio_file, embed_audio_file_fast

    embed = embed_audio_file_fast if args.mode == "fast" else embed_audio_file
    embedding, ts = embed(item.source, model=args.model, embedding_size=args.embedding_size, **options)
    save_npz_atomic(item.targets[0], audio_settings, embedding=embedding, timestamps=ts)
    return len(embedding)


def _load_models(args, weights, image_settings) -> None:
    """Build (and fetch the weights of) the models once, before any file: a missing download or a bad
    weights file fails here, once, instead of once per file."""
    from kaudio.embedding.models import load_embedding_model

    load_embedding_model(args.model, args.embedding_size, weights)
    if image_settings is not None:
        load_embedding_model(image_settings.model, image_settings.embedding_size, weights)
