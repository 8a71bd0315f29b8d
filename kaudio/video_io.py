"""Video files: the extensions kaudio treats as videos and PyAV frame conversion, shared by
``kaudio embed`` (:mod:`kaudio.embedding.video`) and the audio-visual correspondence data
(:mod:`kaudio.data.avc`).

Nothing heavy is imported at module level (the command line imports :data:`VIDEO_EXTENSIONS`).
"""
from __future__ import annotations

#: File extensions searched for as videos (lower case); FFmpeg decides what actually decodes.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def stream_fps(stream) -> float | None:
    """A PyAV video stream's frames per second: its ``r_frame_rate`` (``base_rate``, what FFmpeg
    reports as ``tbr``), else its average or guessed rate; ``None`` if the header gives none."""
    for rate in (stream.base_rate, stream.average_rate, stream.guessed_rate):
        if rate:
            return float(rate)
    return None


def quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that make a decoded PyAV frame upright (its display-matrix
    ``rotation``, as FFmpeg's command line applies it); 0 for most videos."""
    rotation = int(getattr(frame, "rotation", 0) or 0)
    return int(round(rotation / 90)) % 4


def rgb_frame(frame, width: int, height: int, interpolation: str = "BICUBIC"):
    """A decoded PyAV video frame as upright RGB uint8 ``(height, width, 3)``.

    ``width`` × ``height`` is the size *as displayed* (after the rotation of :func:`quarter_turns`):
    the frame is scaled by FFmpeg's swscale (``interpolation``) at its stored orientation, then
    rotated with numpy.
    """
    import numpy as np

    turns = quarter_turns(frame)
    stored_w, stored_h = (height, width) if turns % 2 else (width, height)
    array = frame.to_ndarray(format="rgb24", width=stored_w, height=stored_h, interpolation=interpolation)
    if turns:
        array = np.ascontiguousarray(np.rot90(array, k=turns))
    return array
