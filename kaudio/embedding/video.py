"""Video embeddings: the audio track and every frame (``openl3.process_video_file``, ``openl3/core.py``).

openl3 reads a video with moviepy (``VideoFileClip(target_resolution=(256, 256), audio_fps=48000)``).
kaudio decodes it with PyAV (bundled FFmpeg libraries) and reproduces what moviepy hands openl3:

* frames: every decoded frame, scaled (bicubic swscale, aspect ratio not kept — like moviepy's
  ``-vf scale=256:256``) to 256×256 RGB uint8; display-matrix rotation is applied as FFmpeg's
  CLI would. :func:`~kaudio.embedding.image.preprocess_images` then centre-crops 224×224 and maps
  the values to [0, 1] (division by the video's max).
* audio: the first audio stream, resampled to 48 kHz float32 (FFmpeg's resampler, as moviepy's
  ``-ar 48000``), zero-padded or trimmed to the container's duration — moviepy reads the audio
  over the clip's duration and pads past the end of the stream, which is why openl3 gets 7 audio
  frames for ``bento.mp4`` (1.1 s container, 1.0 s of AAC). Not quantised to 16 bits (moviepy is).
* ``fps``: the stream's ``r_frame_rate`` (what moviepy reads from FFmpeg's ``tbr``), else its
  average rate. Image timestamps are ``arange(N) / int(fps)`` — openl3's rule, truncation included
  (29.97 fps → 29); for fps < 1 the exact fps is used instead of dividing by 0.

Differences: a variable-frame-rate video gives its decoded frames (moviepy resamples to constant
fps); a video without audio is an error in :func:`embed_video` (openl3 crashes).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kaudio.embedding.image import PreparedImages, _check_readable, _image_model, run_image_model
from kaudio.embedding.models import (DEFAULT_AUDIO_MODEL, DEFAULT_IMAGE_MODEL, PRETRAINED, load_embedding_model,
                                     model_info)
from kaudio.embedding.output import output_path, save_npz_atomic
from kaudio.embedding.validation import check_batch_size
from kaudio.errors import InputError, KaudioWarning
from kaudio.video_io import rgb_frame, stream_fps

SAMPLE_RATE = 48000  # openl3's audio_fps for videos
FRAME_SIZE = 256  # openl3's target_resolution=(256, 256)


@dataclass
class VideoData:
    """A decoded video.

    Attributes:
        audio: float32 (samples, channels) at ``sample_rate``, or ``None`` if the file has no audio.
        sample_rate: 48000.
        frames: uint8 (N, 256, 256, 3) RGB.
        fps: frames per second (float).
    """

    audio: np.ndarray | None
    sample_rate: int
    frames: np.ndarray
    fps: float


def _frame_to_array(frame) -> np.ndarray:
    return rgb_frame(frame, FRAME_SIZE, FRAME_SIZE)


def read_video(path: "str | os.PathLike") -> VideoData:
    """Decode a video file into 256×256 RGB frames and 48 kHz audio (see the module docstring).

    Raises:
        InputError: the file is missing, is not a video, has no video stream or no decodable frame,
            or is corrupt — the message names the file. A missing audio stream is not an error:
            ``audio`` is then ``None``.

    Warns:
        KaudioWarning: fewer frames decoded than the stream header announces (truncated file).
    """
    import av

    path = _check_readable(path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as err:  # ValueError: also undecodable metadata (UnicodeDecodeError)
        raise InputError(f"{path}: cannot open as a video ({type(err).__name__}: {err})") from err
    try:
        with container:
            if not container.streams.video:
                if not container.streams.audio:
                    raise InputError(f"{path}: contains no video or audio stream (not a video file, or truncated)")
                raise InputError(f"{path}: has no video stream")
            video_stream = container.streams.video[0]
            video_stream.thread_type = "AUTO"
            audio_stream = container.streams.audio[0] if container.streams.audio else None
            streams = [video_stream] + ([audio_stream] if audio_stream is not None else [])
            resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE) if audio_stream is not None else None
            frames: list[np.ndarray] = []
            chunks: list[np.ndarray] = []
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    if packet.stream.type == "video":
                        frames.append(_frame_to_array(frame))
                    else:
                        chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            if resampler is not None:
                chunks.extend(f.to_ndarray() for f in resampler.resample(None))
            fps = stream_fps(video_stream)
            expected_frames = video_stream.frames
            duration = container.duration / av.time_base if container.duration else None
    except InputError:
        raise
    except (av.FFmpegError, OSError, ValueError) as err:  # FFmpeg's errors (InvalidDataError …), frame conversion
        raise InputError(f"{path}: cannot decode video ({type(err).__name__}: {err})") from err
    if not frames:
        raise InputError(f"{path}: has a video stream but no decodable frames")
    if expected_frames and len(frames) < expected_frames:
        warnings.warn(f"{path}: decoded {len(frames)} of the {expected_frames} video frames its header announces "
                      "(truncated or damaged file?)", KaudioWarning, stacklevel=2)
    if fps is None:
        fps = len(frames) / duration if duration else 1.0
    audio = None
    if audio_stream is not None:
        audio = np.concatenate(chunks, axis=1).T if chunks else np.zeros((0, 1), np.float32)
        if duration:
            length = int(round(duration * SAMPLE_RATE))
            if len(audio) < length:
                audio = np.pad(audio, ((0, length - len(audio)), (0, 0)))
            audio = audio[:length]
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if len(audio) == 0:
            audio = None
    return VideoData(audio=audio, sample_rate=SAMPLE_RATE, frames=np.stack(frames), fps=float(fps))


def image_timestamps(n_frames: int, fps: float) -> np.ndarray:
    """openl3's video frame times: ``arange(n) / int(fps)`` (exact fps when fps < 1)."""
    rate = int(fps) if fps >= 1 else fps
    return np.arange(n_frames) / rate


def embed_video(path: "str | os.PathLike", audio_model: str = DEFAULT_AUDIO_MODEL,
                image_model: str = DEFAULT_IMAGE_MODEL, audio_embedding_size: int = 6144,
                image_embedding_size: int = 8192, hop_size: float = 0.1, center: bool = True,
                batch_size: int = 32, weights: "str | os.PathLike | None" = PRETRAINED, verbose: bool = False):
    """Embed a video's audio track and frames like openl3's ``process_video_file``.

    Args:
        path: a video file (anything FFmpeg decodes).
        audio_model, audio_embedding_size, hop_size, center: passed to :func:`kaudio.embedding.audio.embed`.
        image_model, image_embedding_size: the image network (8192 or 512).
        batch_size: windows / images per forward pass (both parts).
        weights: ``"pretrained"``, a weight file (used for both models), or ``None`` (random).
        verbose: progress bars.

    Returns:
        ``((audio_embedding, audio_timestamps), (image_embedding, image_timestamps))`` with
        ``image_timestamps = arange(N) / int(fps)`` (openl3's rule).

    Raises:
        InputError: unreadable video, or a video without an audio stream.
    """
    batch_size = check_batch_size(batch_size)
    model_info(audio_model, modality="audio")
    load_embedding_model(audio_model, audio_embedding_size, weights)  # bad sizes / weights fail before decoding
    image_net = _image_model(image_model, image_embedding_size, weights)
    video = read_video(path)
    if video.audio is None:
        raise InputError(f"{path}: has no audio stream; to embed only its frames use "
                         "kaudio.embedding.image.embed_image(read_video(path).frames)")
    from kaudio.embedding.audio import embed

    audio_embedding, audio_timestamps = embed(video.audio, video.sample_rate, model=audio_model,
                                              embedding_size=audio_embedding_size, hop_size=hop_size, center=center,
                                              batch_size=batch_size, weights=weights, verbose=verbose)
    (image_embedding,) = run_image_model(image_net, [PreparedImages(video.frames, str(path))], batch_size, verbose)
    return (audio_embedding, audio_timestamps), (image_embedding, image_timestamps(len(image_embedding), video.fps))


def embed_video_file(paths: "str | os.PathLike | Sequence[str | os.PathLike]", output_dir=None,
                     suffix: str | None = None, overwrite: bool = False, audio_model: str = DEFAULT_AUDIO_MODEL,
                     image_model: str = DEFAULT_IMAGE_MODEL, audio_embedding_size: int = 6144,
                     image_embedding_size: int = 8192, hop_size: float = 0.1, center: bool = True,
                     batch_size: int = 32, weights: "str | os.PathLike | None" = PRETRAINED,
                     verbose: bool = False) -> list[Path]:
    """Embed video files; write ``<base>_audio.npz`` and ``<base>_image.npz`` per input.

    With a suffix: ``<base>_audio_<suffix>.npz`` / ``<base>_image_<suffix>.npz`` (openl3's naming,
    also for suffixes starting with "."). Keys ``embedding`` and ``timestamps``; atomic writes; in
    ``output_dir`` or beside the input; the settings of each part are recorded
    (:mod:`kaudio.embedding.settings`). When both outputs exist with the same settings and
    ``overwrite`` is False the video is skipped (with a :class:`~kaudio.errors.KaudioWarning`); when
    only one exists, only the missing one is written; an output made with other settings raises
    :class:`~kaudio.errors.OutputError`.

    Returns:
        ``[audio_path, image_path]`` for each input, in order (flat list).
    """
    from kaudio.embedding.output import check_paths, plan_outputs
    from kaudio.embedding.settings import audio_settings, existing_output_matches, image_settings

    paths = check_paths(paths)
    settings = (audio_settings(audio_model, audio_embedding_size, hop_size, center, "exact", weights),
                image_settings(image_model, image_embedding_size, weights))
    options = dict(audio_model=audio_model, image_model=image_model, audio_embedding_size=audio_embedding_size,
                   image_embedding_size=image_embedding_size, hop_size=hop_size, center=center,
                   batch_size=batch_size, weights=weights, verbose=verbose)
    targets = [[output_path(path, suffix, output_dir, tag=tag) for tag in ("audio", "image")] for path in paths]
    for item in plan_outputs(list(zip(paths, targets)), output_dir).inputs:
        todo = [overwrite or not existing_output_matches(out, wanted, "overwrite=True")
                for out, wanted in zip(item.targets, settings)]
        if not any(todo):
            warnings.warn(f"{' and '.join(map(str, item.targets))} exist with the same settings; skipped "
                          f"{item.source} (overwrite=True recomputes them)", KaudioWarning, stacklevel=2)
            continue
        results = embed_video(item.source, **options)
        for out, needed, wanted, (embedding, timestamps) in zip(item.targets, todo, settings, results):
            if needed:
                save_npz_atomic(out, wanted, embedding=embedding, timestamps=timestamps)
    return [target for pair in targets for target in pair]
