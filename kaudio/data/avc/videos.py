"""The videos of an audio-visual correspondence (AVC) set: found in a folder, probed with PyAV, checked.

:func:`scan_videos` searches a folder recursively for :data:`~kaudio.video_io.VIDEO_EXTENSIONS`
(the extensions ``kaudio embed`` treats as videos) and probes each file: it opens the container,
reads the timing of its first video and first audio stream from the headers and decodes one
video and one audio frame (so a file FFmpeg cannot decode is found here, not hours into
training). A video is **skipped** — with one summary :class:`~kaudio.errors.KaudioWarning` for
the whole folder, and counted in :attr:`VideoIndex.skipped` — when it

* has no audio stream (AVC needs the sound) or no video stream,
* cannot be opened or decoded (corrupt, truncated header, not a video),
* is zero-length (no duration in its headers), or
* is shorter than the audio window (:data:`MIN_SECONDS`, 1 s): the span where both the picture
  and the sound exist, ``[max(video start, audio start), min(video end, audio end))``, is what
  counts.

Times are seconds on the container's timeline (PyAV ``frame.time``: ``pts × time_base``), so a
video whose audio starts late keeps its sound and pictures aligned. Audio of any rate and layout
is accepted (:mod:`kaudio.data.avc.decode` mixes it to mono and resamples it); frame rates from
below 1 to hundreds of fps are accepted (frames are chosen by timestamp).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kaudio.errors import InputError, KaudioWarning
from kaudio.video_io import VIDEO_EXTENSIONS, quarter_turns, stream_fps

#: Shortest usable span of picture and sound (seconds): one audio window.
MIN_SECONDS = 1.0


@dataclass(frozen=True)
class VideoInfo:
    """One usable video, as probed.

    Attributes:
        path: the file.
        key: its path below the scanned folder (POSIX separators): its name in split files and shards.
        size: bytes (part of the video set's fingerprint).
        start, end: the span (seconds, container timeline) where both picture and sound exist.
        video_start: time of the first video frame (seconds); frames lie near ``video_start + i / fps``.
        audio_start: time of the first audio sample (seconds); sample ``k`` at rate ``r`` is at ``audio_start + k / r``.
        fps: frames per second of the video stream (``r_frame_rate``; see :func:`kaudio.video_io.stream_fps`).
        width, height: the picture size as displayed (rotation applied).
        audio_rate: the audio stream's sample rate (Hz).
        audio_channels: its channel count (averaged to mono when read).
    """

    path: Path
    key: str
    size: int
    start: float
    end: float
    video_start: float
    audio_start: float
    fps: float
    width: int
    height: int
    audio_rate: int
    audio_channels: int

    @property
    def duration(self) -> float:
        """Seconds of the span with both picture and sound."""
        return self.end - self.start


@dataclass(frozen=True)
class VideoIndex:
    """The usable videos of a folder and what was skipped.

    Attributes:
        root: the scanned folder.
        videos: the usable videos, sorted by key.
        skipped: ``(key, reason)`` for every video file left out.
    """

    root: Path
    videos: tuple[VideoInfo, ...]
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def found(self) -> int:
        """Video files found (usable + skipped)."""
        return len(self.videos) + len(self.skipped)

    def by_key(self) -> dict[str, VideoInfo]:
        return {video.key: video for video in self.videos}

    def summary(self) -> str:
        """One line: how many videos were found, used and skipped (and why, for the first few)."""
        text = f"{self.root}: {len(self.videos)} usable video(s) of {self.found}"
        if self.skipped:
            shown = "; ".join(f"{key} ({reason})" for key, reason in self.skipped[:5])
            more = f"; … and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            text += f", skipped {len(self.skipped)}: {shown}{more}"
        return text


def fingerprint(videos) -> str:
    """SHA-1 of the videos' keys and sizes: changes when a video is added, removed, renamed or rewritten."""
    sha = hashlib.sha1()
    for video in sorted(videos, key=lambda v: v.key):
        sha.update(f"{video.key}\t{video.size}\n".encode("utf-8"))
    return sha.hexdigest()


def find_video_files(folder: Path) -> list[Path]:
    """Video files below ``folder`` (recursive, sorted; hidden files and folders left out)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _seconds(value, time_base) -> float | None:
    return None if value is None or time_base is None else float(value * time_base)


def _stream_span(stream, container_start: float, container_end: float | None) -> tuple[float, float | None]:
    start = _seconds(stream.start_time, stream.time_base)
    start = container_start if start is None else start
    length = _seconds(stream.duration, stream.time_base)
    end = start + length if length else container_end
    return start, end


class _Skip(Exception):
    """A video that cannot be used; the message says why."""


def probe_video(path: Path, key: str | None = None, min_seconds: float = MIN_SECONDS) -> VideoInfo:
    """Probe one video (headers + its first video and audio frame).

    Raises:
        InputError: why the video cannot be used (the message names the file).
    """
    try:
        return _probe(Path(path), key or Path(path).name, min_seconds)
    except _Skip as reason:
        raise InputError(f"{path}: {reason}") from None


def _probe(path: Path, key: str, min_seconds: float) -> VideoInfo:
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as err:  # ValueError: undecodable metadata
        raise _Skip(f"corrupt or not a video: cannot open ({type(err).__name__}: {err})") from None
    with container:
        if not container.streams.video:
            raise _Skip("no video stream")
        if not container.streams.audio:
            raise _Skip("no audio stream")
        video, audio = container.streams.video[0], container.streams.audio[0]
        container_start = (container.start_time or 0) / av.time_base
        container_end = container_start + container.duration / av.time_base if container.duration else None
        video_start, video_end = _stream_span(video, container_start, container_end)
        audio_start, audio_end = _stream_span(audio, container_start, container_end)
        if video_end is None or audio_end is None or video_end <= video_start or audio_end <= audio_start:
            raise _Skip("zero-length (no duration in its headers)")
        try:
            first_audio = next(container.decode(audio), None)  # first, before a seek: AAC priming is skipped
            container.seek(0)
            first_frame = next(container.decode(video), None)
        except (av.FFmpegError, OSError, ValueError) as err:
            raise _Skip(f"corrupt: cannot decode ({type(err).__name__}: {err})") from None
        if first_frame is None or first_audio is None:
            raise _Skip(f"corrupt: no decodable {'video' if first_frame is None else 'audio'} frame")
        fps = stream_fps(video) or 0.0
        if fps <= 0:
            raise _Skip("no frame rate in its headers")
        if first_frame.time is not None:
            video_start = float(first_frame.time)
        if first_audio.time is not None:
            audio_start = float(first_audio.time)
        start, end = max(video_start, audio_start), min(video_end, audio_end)
        if end - start < min_seconds:
            raise _Skip(f"{max(end - start, 0.0):.2f} s of picture with sound, shorter than {min_seconds:g} s")
        turned = quarter_turns(first_frame) % 2 == 1
        width, height = (first_frame.height, first_frame.width) if turned else (first_frame.width, first_frame.height)
        return VideoInfo(path=path, key=key, size=path.stat().st_size, start=float(start), end=float(end),
                         video_start=float(video_start), audio_start=float(audio_start), fps=float(fps),
                         width=int(width), height=int(height), audio_rate=int(audio.rate),
                         audio_channels=int(audio.channels or 1))


def scan_videos(folder: "str | os.PathLike", min_seconds: float = MIN_SECONDS, workers: int | None = None,
                warn: bool = True) -> VideoIndex:
    """Find and probe the videos below ``folder`` (see the module docstring).

    Args:
        folder: searched recursively for :data:`~kaudio.video_io.VIDEO_EXTENSIONS`.
        min_seconds: the shortest usable span of picture with sound.
        workers: probing threads (default: the CPU count; PyAV decodes without the GIL).
        warn: emit the one summary :class:`~kaudio.errors.KaudioWarning` when videos are skipped.

    Raises:
        InputError: the folder is missing, holds no video file, or fewer than two usable videos
            (a pair of different videos is the least AVC needs).
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError(f"{root}: video folder not found" + (" (it is a file)" if root.exists() else ""))
    files = find_video_files(root)
    if not files:
        raise InputError(f"{root}: no video files ({', '.join(VIDEO_EXTENSIONS)}) in this folder or below it")

    def probe(path: Path):
        key = path.relative_to(root).as_posix()
        try:
            return _probe(path, key, min_seconds)
        except _Skip as reason:
            return key, str(reason)

    with ThreadPoolExecutor(max_workers=workers or min(len(files), os.cpu_count() or 1)) as pool:
        results = list(pool.map(probe, files))
    videos = tuple(r for r in results if isinstance(r, VideoInfo))
    skipped = tuple(r for r in results if not isinstance(r, VideoInfo))
    index = VideoIndex(root, videos, skipped)
    if len(videos) < 2:
        raise InputError(f"{index.summary()}; audio-visual correspondence needs at least 2 usable videos "
                         f"(with sound and at least {min_seconds:g} s long)")
    if skipped and warn:
        warnings.warn(index.summary(), KaudioWarning, stacklevel=2)
    return index
