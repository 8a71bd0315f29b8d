import numpy as np
import pytest

from kaudio.layers import FramePadding
from kaudio.layers.padding import frame_count, padding_amounts
from tests.helpers import keras_round_trip


def test_openl3_amounts():
    assert padding_amounts("same", 48000, 2048, 2048, 242) == (982, 982)  # kapre 0.1.4 (K014)
    assert padding_amounts("end", 48000, 2048, 2048, 242) == (0, 1964)  # openl3 0.4
    assert frame_count("same", 48000, 2048, 2048, 242) == 199
    assert frame_count("valid", 48000, 512, 512, 242) == 197
    assert frame_count("center", 320000, 1024, 1024, 320) == 1001  # PANNs 10 s at 32 kHz


@pytest.mark.parametrize("mode, pad_mode", [("same", "constant"), ("end", "constant"), ("center", "reflect"),
                                            ("center", "constant"), ("valid", "constant")])
def test_layer_pads_like_numpy_and_round_trips(tmp_path, mode, pad_mode):
    x = np.arange(2 * 50 * 1, dtype="float32").reshape(2, 50, 1)
    layer = FramePadding(mode, n_fft=16, win_length=16, hop_length=6, pad_mode=pad_mode)
    before, after = padding_amounts(mode, 50, 16, 16, 6)
    expected = np.pad(x, [(0, 0), (before, after), (0, 0)], mode=pad_mode)
    out, loaded = keras_round_trip(layer, x, tmp_path)
    np.testing.assert_array_equal(out, expected)
    assert loaded.output.shape[1] == 50 + before + after


def test_bad_modes():
    with pytest.raises(ValueError, match="padding must be one of"):
        FramePadding("middle", 16, 16, 4)
    with pytest.raises(ValueError, match="pad_mode"):
        FramePadding("center", 16, 16, 4, pad_mode="wrap")
