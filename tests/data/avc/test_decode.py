"""kaudio.data.avc.decode: frames chosen by timestamp and audio windows decoded on demand."""
import math

import numpy as np
import pytest

from kaudio.data.avc.decode import VideoReader
from kaudio.errors import InputError
from tests.data.avc.synthetic import expected_audio, identify_frame


@pytest.mark.parametrize("key", ["c.mp4", "d.mp4", "b.mkv"])  # 5, 120 and 30 fps
def test_frames_displayed_at_given_times(index, key):
    video = index.by_key()[key]
    times = [1.26, 0.0, 0.61, math.inf, 0.61]
    got = VideoReader(video).frames_at(times, 48, 36)
    last = int(round(video.duration * video.fps)) - 1
    for t, (frame_time, picture) in zip(times, got):
        assert picture.shape == (36, 48, 3) and picture.dtype == np.uint8
        expected = last if math.isinf(t) else math.floor(t * video.fps + 1e-9)
        assert identify_frame(picture[18, 24])[1] == expected
        assert frame_time == pytest.approx(expected / video.fps, abs=1e-3)
    assert got[2][1] is got[4][1]  # the same moment is decoded and converted once


def full_track(path, rate):
    """The whole audio track decoded from the start (PyAV), mixed to mono, resampled to ``rate``."""
    import av

    from kaudio.audio_io import resample

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        converter = av.AudioResampler(format="fltp")
        chunks = [f.to_ndarray().mean(axis=0) for frame in container.decode(stream) for f in converter.resample(frame)]
        native = stream.rate
    return resample(np.concatenate(chunks).astype(np.float32), native, rate)


@pytest.mark.parametrize("key", ["a.mp4", "b.mkv", "sub/e.mov"])
def test_audio_window_is_the_track_at_the_output_rate(index, key):
    """AAC at 48 / 44.1 kHz and 16-kHz stereo PCM, read after a seek or from the start, resampled to
    8 kHz: the same samples as the whole track decoded and resampled (the sine for the PCM file)."""
    video = index.by_key()[key]
    track = full_track(video.path, 8000)
    for start in (0, 3000, 6123, 7000):
        window = VideoReader(video).audio(start, 8000, 8000)
        assert window.dtype == np.float32 and window.shape == (8000,)
        edge = 8 if start == 0 else 0  # the resampler's filter at the track's very start
        np.testing.assert_allclose(window[edge:], track[start + edge: start + 8000], atol=2e-3)
        if key == "b.mkv":  # lossless: the synthetic sine itself
            np.testing.assert_allclose(window[edge:], expected_audio(1, start + edge, 8000 - edge, 8000), atol=2e-3)


def test_audio_past_the_end_is_zero_padded(index):
    video = index.by_key()["b.mkv"]  # exactly 2 s of PCM
    window = VideoReader(video).audio(12000, 8000, 8000)
    np.testing.assert_allclose(window[:3900], expected_audio(1, 12000, 3900, 8000), atol=2e-3)
    assert np.abs(window[4100:]).max() < 1e-5  # zeros, up to the resampler's ringing


def test_a_vanished_file_is_an_input_error(index, tmp_path):
    video = index.videos[0].__class__(**{**vars(index.videos[0]), "path": tmp_path / "gone.mp4"})
    with pytest.raises(InputError, match="gone.mp4: cannot open"):
        VideoReader(video).audio(0, 100, 8000)
