"""Tiny synthetic videos for the AVC data tests, written with PyAV.

Each picture is one flat colour that says where it came from: red ``40 · video_id + 20`` (the
video), green and blue the frame index ``i`` (``16 · (i % 16) + 8`` and ``16 · (i // 16) + 8``);
:func:`identify_frame` reads them back (lossless H.264, so ±2 levels of colour conversion at most).
The sound is a sine of :func:`tone_hz` ``(video_id)``, so :func:`identify_audio` can tell which
video an audio window came from and :func:`expected_audio` what it should hold.
"""
import numpy as np

av = __import__("pytest").importorskip("av")


def tone_hz(video_id: int) -> float:
    return 250.0 + 350.0 * video_id


def frame_colour(video_id: int, index: int) -> tuple[int, int, int]:
    return 40 * video_id + 20, 16 * (index % 16) + 8, 16 * (index // 16) + 8


def identify_frame(pixel) -> tuple[int, int]:
    """``(video_id, frame index)`` from an RGB pixel of an unaugmented frame."""
    red, green, blue = (int(round(float(v))) for v in pixel[:3])
    return int(round((red - 20) / 40)), int(round((green - 8) / 16)) + 16 * int(round((blue - 8) / 16))


def write_video(path, video_id=0, seconds=2.0, fps=10, size=(48, 64), audio_rate=48000, channels=1,
                audio_codec="aac", audio=True, audio_seconds=None):
    """A video of flat frames (see the module docstring) with an optional sine sound track."""
    height, width = size
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"qp": "0", "preset": "ultrafast"})
        video.height, video.width, video.pix_fmt = height, width, "yuv444p"
        sound = None
        if audio:
            sound = container.add_stream(audio_codec, rate=audio_rate, layout="mono" if channels == 1 else "stereo")
        for i in range(int(round(seconds * fps))):
            picture = np.empty((height, width, 3), np.uint8)
            picture[...] = frame_colour(video_id, i)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples = expected_audio(video_id, 0, int(round((audio_seconds or seconds) * audio_rate)), audio_rate)
            step = sound.codec_context.frame_size or 1024
            for start in range(0, len(samples), step):
                chunk = np.repeat(samples[None, start:start + step], channels, axis=0)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp",
                                                   layout="mono" if channels == 1 else "stereo")
                frame.sample_rate, frame.pts = audio_rate, start
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def expected_audio(video_id: int, start: int, count: int, rate: int) -> np.ndarray:
    """Samples ``start .. start + count`` of a video's sine track at ``rate``."""
    t = (start + np.arange(count)) / rate
    return (0.5 * np.sin(2 * np.pi * tone_hz(video_id) * t)).astype(np.float32)


def identify_audio(window: np.ndarray, rate: int, video_ids) -> int:
    """The video whose tone is strongest in ``window``."""
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    freqs = np.fft.rfftfreq(len(window), 1 / rate)
    return max(video_ids, key=lambda v: spectrum[np.argmin(np.abs(freqs - tone_hz(v)))])
