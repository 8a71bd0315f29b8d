"""openl3's framing rules (``openl3/core.py`` ``get_audio_embedding``) and the streaming framer."""
import numpy as np
import pytest

from kaudio.embedding.framing import StreamFramer, padding_only_frames, timestamps, window_count


def openl3_frames(x, window, hop, center):
    """openl3's steps 5-7 written out directly (whole array in memory)."""
    if center:
        x = np.concatenate([np.zeros(window // 2), x])
    if len(x) < window:
        x = np.pad(x, (0, window - len(x)))
    elif (len(x) - window) % hop:
        x = np.pad(x, (0, hop - (len(x) - window) % hop))
    n = 1 + (len(x) - window) // hop
    return np.stack([x[i * hop: i * hop + window] for i in range(n)])


def test_window_counts_match_openl3():
    assert window_count(48000, 48000, 4800, center=True) == 6  # 1 s file, centred, hop 0.1
    assert window_count(48, 48000, 4800, center=False) == 1  # 48-sample file
    assert window_count(88200 * 48000 // 44100, 48000, 4800, center=True) == 16  # chirp_44k regression: 16 frames
    assert window_count(88200 * 48000 // 44100, 48000, 24000, center=False) == 3  # hop 0.5, no centring: 3 frames
    np.testing.assert_allclose(timestamps(3, 0.5), [0.0, 0.5, 1.0])


@pytest.mark.parametrize("length", [1, 47, 100, 101, 250, 999])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_stream_framer_matches_whole_array_framing(length, center, chunk):
    window, hop = 100, 30
    x = np.random.default_rng(length).standard_normal(length).astype(np.float32)
    framer = StreamFramer(length, window, hop, center)
    frames = []
    for start in range(0, length, chunk):
        frames += [f.copy() for f in framer.feed(x[start: start + chunk])]
    frames += [f.copy() for f in framer.finish()]
    expected = openl3_frames(x, window, hop, center)
    assert len(frames) == framer.n_frames == len(expected) == window_count(length, window, hop, center)
    np.testing.assert_array_equal(np.stack(frames), expected)


def test_stream_shorter_or_longer_than_announced_is_padded_or_cut():
    framer = StreamFramer(260, 100, 30, False)  # 7 frames, padded to 280 samples
    frames = list(framer.feed(np.ones(400, np.float32))) + list(framer.finish())
    assert len(frames) == window_count(260, 100, 30, False) == 7
    assert frames[-1][79] == 1.0 and frames[-1][80] == 0.0  # samples past 260 dropped, end zero-padded
    framer = StreamFramer(250, 100, 30, False)
    frames = list(framer.feed(np.ones(10, np.float32))) + list(framer.finish())
    assert len(frames) == window_count(250, 100, 30, False) and frames[0][10:].sum() == 0


@pytest.mark.parametrize("length, window, hop, center, expected", [
    (48000, 48000, 4800, True, 0),        # ordinary hop: the last frame still holds signal
    (48000, 48000, 48_000_000, True, 1),  # hop 1000 s on a 1-s clip: frame 1 is all padding
    (48000, 48000, 48000, True, 0),       # frame 1 starts at 48000 < 72000 (signal end)
    (10, 48000, 100_000, True, 0),        # shorter than a window: one frame, which holds the signal
    (48001, 48000, 100_000, False, 1),    # one sample past a window: frame 1 starts at 100000, after the end
])
def test_padding_only_frames(length, window, hop, center, expected):
    assert padding_only_frames(length, window, hop, center) == expected
    frames = openl3_frames(np.ones(length), window, hop, center)
    assert sum(not frame.any() for frame in frames) == expected
