"""``kaudio embed PATH...``: embed audio and video files like the openl3 CLI, into ``.npz`` files.

Directories are searched recursively for audio and video files. Every file is reported; a file
that fails does not stop the others, and the exit status is 1 if any failed (0 otherwise).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

COMMAND = "embed"
HELP = "embed audio/video files (OpenL3-style) into .npz files with 'embedding' and 'timestamps'"
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio/video files or directories (recursive)")
    parser.add_argument("--output-dir", "-o", help="where to write .npz files (default: beside each input)")
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
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def find_inputs(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Expand directories (recursively) into audio/video files; returns (files, problems)."""
    from kaudio.embedding.audio_files import AUDIO_EXTENSIONS

    known = AUDIO_EXTENSIONS + VIDEO_EXTENSIONS
    files, problems = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in known)
            if not found:
                problems.append(f"{path}: no audio or video files found in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: file not found")
    return files, problems


def run(args) -> int:
    from kaudio.embedding.audio_files import embed_audio_file
    from kaudio.embedding.output import output_path, save_npz_atomic
    from kaudio.errors import KaudioError

    weights = None if args.weights.lower() == "none" else args.weights
    files, failures = find_inputs(args.paths)
    for problem in failures:
        print(f"error: {problem}", file=sys.stderr)
    options = dict(model=args.model, embedding_size=args.embedding_size, hop_size=args.hop_size,
                   center=not args.no_centering, batch_size=args.batch_size, weights=weights)
    done = skipped = windows = 0
    start = time.perf_counter()
    pending = [path for path in files if args.overwrite or not all(t.exists() for t in _targets(path, args))]
    image_model = None
    try:
        image_model = _load_models(args, weights, any(_is_video(path) for path in pending)) if pending else None
    except KaudioError as err:  # bad model, size or weights: the same for every file, so say it once
        print(f"error: {err}", file=sys.stderr)
        print(f"embedded 0 file(s); {len(files)} not attempted")
        return 1
    for index, path in enumerate(files, 1):
        prefix = f"[{index}/{len(files)}] {path}"
        is_video = _is_video(path)
        targets = _targets(path, args)
        if not args.overwrite and all(t.exists() for t in targets):
            print(f"{prefix}: exists, skipped ({', '.join(map(str, targets))}; --overwrite to recompute)")
            skipped += 1
            continue
        print(prefix, flush=True)
        try:
            if is_video:
                from kaudio.embedding.video import embed_video

                video_options = {k: v for k, v in options.items() if k not in ("model", "embedding_size")}
                (audio_emb, audio_ts), (image_emb, image_ts) = embed_video(
                    path, audio_model=args.model, audio_embedding_size=args.embedding_size, image_model=image_model,
                    verbose=not args.quiet,
                    **video_options)
                save_npz_atomic(targets[0], embedding=audio_emb, timestamps=audio_ts)
                save_npz_atomic(targets[1], embedding=image_emb, timestamps=image_ts)
                windows += len(audio_emb)
            else:
                if args.mode == "fast":
                    from kaudio.embedding.audio_files import embed_audio_file_fast as embed_one
                else:
                    embed_one = embed_audio_file
                embedding, ts = embed_one(path, verbose=not args.quiet, **options)
                save_npz_atomic(targets[0], embedding=embedding, timestamps=ts)
                windows += len(embedding)
            done += 1
        except KaudioError as err:
            message = str(err)
            if not message.startswith(str(path)):
                message = f"{path}: {message}"
            print(f"error: {message}", file=sys.stderr)
            failures.append(message)
    seconds = time.perf_counter() - start
    print(f"embedded {done} file(s), {windows} window(s) in {seconds:.1f} s; skipped {skipped} existing; "
          f"failed {len(failures)}")
    for failure in failures:
        print(f"  failed: {failure}")
    return 1 if failures else 0


def _is_video(path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def _targets(path, args) -> list:
    from kaudio.embedding.output import output_path

    if _is_video(path):
        return [output_path(path, args.suffix, args.output_dir, tag=tag) for tag in ("audio", "image")]
    return [output_path(path, args.suffix, args.output_dir)]


def _load_models(args, weights, with_video: bool):
    """Build (and fetch the weights of) the models once, before any file; return the image model name for videos.

    A missing download, a bad ``--weights`` file or an unknown model fails here, once, instead of
    once per file. Videos use the image network co-trained with the audio model (same
    representation and content type), as openl3's CLI does.
    """
    from kaudio.embedding.models import load_embedding_model, model_info
    from kaudio.errors import KaudioError

    info = model_info(args.model, modality="audio")
    load_embedding_model(args.model, args.embedding_size, weights)
    if not with_video:
        return None
    if weights not in (None, "pretrained"):
        raise KaudioError(f"--weights {weights} is an audio weight file, but videos also need the image network's "
                          f"weights: embed videos with the pretrained weights (the default) or --weights none")
    image_model = f"openl3_image_{info.input_repr}_{info.content_type}"
    load_embedding_model(image_model, 8192, weights)
    return image_model
