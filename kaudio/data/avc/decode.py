"""Reading what one AVC sample needs from a video: frames at given times and 1-s audio windows.

Nothing is decoded that a sample does not use, so memory does not grow with a video's length:

* :meth:`VideoReader.frames_at` seeks (PyAV ``container.seek``, to the key frame before the
  earliest time) and decodes forward once for all requested times, keeping only the frames
  shown at those times — the frame *displayed* at time ``t`` is the last one whose timestamp is
  ``<= t``. Frames are chosen by timestamp, never by counting, so 5-fps and 120-fps videos (and
  variable frame rates) give the picture of the requested moment.
* :meth:`VideoReader.audio` seeks a quarter of a second before the window (an AAC decoder needs a
  frame or two after a seek before its output is exact), decodes the window plus at least 20 ms
  on each side, averages the channels (stereo → mono), and resamples to the output rate with
  soxr (:func:`kaudio.audio_io.resample`, the one resampler of kaudio); the margins keep the
  resampler's edges out of the window, and the segment starts where the input and output sample
  grids meet, so the window holds the samples of the whole track resampled. Windows near the
  start are decoded without a seek, so the encoder's priming samples are skipped as in a full
  decode. Audio missing at the end of a stream (a container that claims more than its audio
  holds) is zero-padded.

Each call opens its own container (cheap next to decoding), so a reader holds no decoder
between samples.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from kaudio.data.avc.videos import VideoInfo
from kaudio.errors import InputError
from kaudio.video_io import rgb_frame

#: Seconds decoded before an audio window after a seek (decoder warm-up).
SEEK_MARGIN_S = 0.25
#: Seconds of extra audio on each side of a window that is resampled (filter edges).
RESAMPLE_MARGIN_S = 0.02


class VideoReader:
    """Frames and audio windows of one :class:`~kaudio.data.avc.videos.VideoInfo`.

    Errors raised by FFmpeg become an :class:`~kaudio.errors.InputError` naming the file.
    """

    def __init__(self, video: VideoInfo):
        self.video = video

    def _open(self):
        import av

        try:
            return av.open(str(self.video.path))
        except (av.FFmpegError, OSError, ValueError) as err:
            raise InputError(f"{self.video.path}: cannot open ({type(err).__name__}: {err})") from err

    def frames_at(self, times: Sequence[float], width: int, height: int) -> list[tuple[float, np.ndarray]]:
        """The frames displayed at ``times`` (seconds; ``inf`` = the last frame), as
        ``(frame time, RGB uint8 (height, width, 3))`` in the order of ``times``."""
        import av

        if not len(times):
            return []
        order = sorted(range(len(times)), key=lambda k: times[k])
        targets = [float(times[k]) for k in order]
        video = self.video
        step = 1.0 / video.fps
        chosen: list = [None] * len(targets)
        try:
            with self._open() as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                seek_to = targets[0] if math.isfinite(targets[0]) else video.end - 1.0
                if seek_to - video.video_start > step:
                    container.seek(max(int(seek_to / stream.time_base), 0), stream=stream, backward=True)
                i, previous = 0, None
                for frame in container.decode(stream):
                    t = frame.time
                    if t is None:  # no timestamp: one frame after the previous one
                        t = previous[1] + step if previous else video.video_start
                    while i < len(targets) and t > targets[i] + 1e-9:
                        chosen[i] = previous or (frame, t)
                        i += 1
                    if i == len(targets):
                        break
                    previous = (frame, t)
                if previous is None and chosen[0] is None:
                    raise InputError(f"{video.path}: no video frame could be decoded from {seek_to:.3f} s")
                while i < len(targets):
                    chosen[i] = previous
                    i += 1
                converted: dict[int, np.ndarray] = {}
                out: list = [None] * len(targets)
                for position, (frame, t) in zip(order, chosen):
                    if id(frame) not in converted:
                        converted[id(frame)] = rgb_frame(frame, width, height)
                    out[position] = (float(t), converted[id(frame)])
        except (av.FFmpegError, OSError, ValueError) as err:
            raise InputError(f"{video.path}: cannot decode its frames ({type(err).__name__}: {err})") from err
        return out

    def audio(self, start: int, samples: int, rate: int) -> np.ndarray:
        """``samples`` mono float32 samples at ``rate`` Hz from sample ``start`` of the track at that
        rate (counted from :attr:`VideoInfo.audio_start`).

        The same samples as the whole track decoded and resampled (up to the resampler's edges at
        the very start and end of the track): the decoded segment starts on an input sample that
        also lies on the output grid (every ``rate_in / gcd`` input samples), so no fraction of a
        sample is lost to rounding.
        """
        import av

        from kaudio.audio_io import resample

        video = self.video
        rate_in = video.audio_rate
        if rate_in == rate:
            period_in = period_out = blocks_before = 1
            pad_out = 0
        else:
            common = math.gcd(int(rate_in), int(rate))
            period_in, period_out = rate_in // common, rate // common
            pad_out = int(RESAMPLE_MARGIN_S * rate)
            blocks_before = -(-pad_out // period_out)  # whole grid periods before the window
        block = start // period_out - (blocks_before if pad_out else 0)
        first_in, skip_out = block * period_in, start - block * period_out  # segment start (input samples)
        count_in = int(math.ceil((skip_out + samples + pad_out) * rate_in / rate)) + 1
        chunks: list[np.ndarray] = []
        segment_index = None
        try:
            with self._open() as container:
                stream = container.streams.audio[0]
                first_time = video.audio_start + first_in / rate_in
                if first_time - SEEK_MARGIN_S > video.audio_start:
                    container.seek(int((first_time - SEEK_MARGIN_S) / stream.time_base), stream=stream, backward=True)
                converter = av.AudioResampler(format="fltp")  # sample format only: same rate and layout
                end = first_time + count_in / rate_in
                for frame in container.decode(stream):
                    if segment_index is None:
                        time = frame.time if frame.time is not None else video.audio_start
                        segment_index = int(round((time - video.audio_start) * rate_in))
                    chunks.extend(f.to_ndarray().mean(axis=0) for f in converter.resample(frame))
                    if frame.time is not None and frame.time + frame.samples / rate_in >= end:
                        break
                chunks.extend(f.to_ndarray().mean(axis=0) for f in converter.resample(None))
        except (av.FFmpegError, OSError, ValueError) as err:
            raise InputError(f"{video.path}: cannot decode its audio ({type(err).__name__}: {err})") from err
        decoded = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
        segment = _cut(decoded, first_in - (segment_index or 0), count_in)
        if rate_in != rate:
            segment = resample(segment, rate_in, rate)
        return _cut(segment, skip_out, samples)


def _cut(x: np.ndarray, offset: int, length: int) -> np.ndarray:
    """``x[offset: offset + length]``, zero-padded where it runs past either end."""
    out = np.zeros(length, np.float32)
    lo, hi = max(offset, 0), min(offset + length, len(x))
    if hi > lo:
        out[lo - offset: hi - offset] = x[lo:hi]
    return out
