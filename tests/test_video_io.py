"""kaudio.video_io: video extensions, frame rate and upright RGB frames (PyAV)."""
import numpy as np
import pytest

from kaudio.video_io import VIDEO_EXTENSIONS, quarter_turns, rgb_frame, stream_fps

av = pytest.importorskip("av")


class RotatedFrame:
    """A decoded frame stand-in: a stored 2x3 picture with a display rotation."""

    def __init__(self, rotation):
        self.rotation = rotation
        self.stored = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)

    def to_ndarray(self, format, width, height, interpolation):
        assert (format, interpolation) == ("rgb24", "BICUBIC")
        assert (height, width) == self.stored.shape[:2]  # scaled at the stored orientation
        return self.stored


@pytest.mark.parametrize("rotation, turns", [(0, 0), (90, 1), (-90, 3), (180, 2), (270, 3), (None, 0)])
def test_rotation_is_applied_after_scaling(rotation, turns):
    frame = RotatedFrame(rotation)
    assert quarter_turns(frame) == turns
    width, height = (2, 3) if turns % 2 else (3, 2)  # the displayed size
    out = rgb_frame(frame, width, height)
    np.testing.assert_array_equal(out, np.rot90(frame.stored, k=turns))
    assert out.shape == (height, width, 3) and out.flags["C_CONTIGUOUS"]


def test_real_frame_scaled_and_fps(tmp_path):
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=12)
        stream.height, stream.width, stream.pix_fmt = 32, 48, "yuv420p"
        picture = np.zeros((32, 48, 3), np.uint8)
        picture[:, :24] = 200
        for packet in [*stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")), *stream.encode()]:
            container.mux(packet)
    with av.open(str(path)) as container:
        assert stream_fps(container.streams.video[0]) == 12.0
        out = rgb_frame(next(container.decode(video=0)), 24, 16)
    assert out.shape == (16, 24, 3) and out[8, 2, 0] > 180 and out[8, 21, 0] < 20
    assert ".mp4" in VIDEO_EXTENSIONS and all(ext == ext.lower() for ext in VIDEO_EXTENSIONS)
