"""kaudio.data.avc.sampling: the AVC pair protocol, checked on the decoded pictures and sounds."""
import dataclasses

import numpy as np
import pytest

from kaudio.data.avc.sampling import (COINS, NEGATIVE, POSITIVE, AVCSettings, activation_samples, activations,
                                      apply_gain, crop_frame, draw_frame_in_window, partners, plan_pair,
                                      resized_size, to_int16)
from kaudio.errors import InputError, KaudioWarning
from tests.data.avc.conftest import GOOD, SMALL
from tests.data.avc.synthetic import identify_audio, identify_frame

IDS = [GOOD[key][0] for key in sorted(GOOD)]  # synthetic id of each video, in index order


def samples_of(videos, settings=SMALL, seed=0, kind=COINS, pair=(0, 1), round_index=0, augment=False):
    return list(activation_samples(videos, settings, seed, 0, kind, pair[0], pair[1], round_index, augment))


def check_sample(sample, videos, settings):
    """The picture and sound are those the metadata names (flat colours and tones, unaugmented)."""
    video_id, frame_index = identify_frame(sample.image[settings.image_size // 2, settings.image_size // 2])
    frame_video = videos[sample.frame_video]
    assert video_id == IDS[sample.frame_video]
    assert sample.frame_time == pytest.approx(frame_video.video_start + frame_index / frame_video.fps, abs=1e-3)
    audio = sample.audio.astype(np.float32) / 32768
    assert identify_audio(audio, settings.sample_rate, IDS) == IDS[sample.audio_video]
    assert sample.match == (sample.audio_video == sample.frame_video)


@pytest.mark.parametrize("pair", [(0, 1), (2, 3), (4, 2)])
def test_window_positives_overlap_the_audio_and_every_half_is_from_its_video(videos, pair):
    samples = samples_of(videos, dataclasses.replace(SMALL, samples_per_activation=12), pair=pair)
    assert {s.match for s in samples} == {True, False}
    for s in samples:
        check_sample(s, videos, SMALL)
        assert {s.audio_video, s.frame_video} <= set(pair)
        if s.match:
            window_start = videos[s.audio_video].start + s.audio_start / SMALL.sample_rate
            assert window_start - 1e-3 <= s.frame_time < window_start + SMALL.window_seconds
        assert s.image.shape == (32, 32, 3) and s.audio.shape == (8000,) and s.audio.dtype == np.int16


def test_last_frame_mode_uses_the_last_frame(videos):
    settings = dataclasses.replace(SMALL, frame="last", samples_per_activation=8)
    for s in samples_of(videos, settings, pair=(3, 1)):
        check_sample(s, videos, settings)
        video = videos[s.frame_video]
        assert s.frame_time == pytest.approx(video.end - 1 / video.fps, abs=1e-3)


def test_balanced_kinds_and_coin_rates(videos):
    assert all(s.match for s in samples_of(videos, kind=POSITIVE))
    assert not any(s.match for s in samples_of(videos, kind=NEGATIVE))
    rng = np.random.default_rng(0)
    plans = [plan_pair(rng, videos, (0, 1), COINS, SMALL, True) for _ in range(4000)]
    assert np.mean([p.match for p in plans]) == pytest.approx(0.5, abs=0.03)  # two independent fair coins
    assert np.mean([p.audio_video == 0 for p in plans]) == pytest.approx(0.5, abs=0.03)
    assert np.mean([p.flip for p in plans]) == pytest.approx(0.5, abs=0.03)
    colour = np.array([p.colour for p in plans])
    assert colour[:, 2].min() >= 0.5 and colour[:, 2].max() < 1.5
    assert np.abs(colour[:, 4]).max() <= 32 / 255
    assert np.mean(colour[:, 1]) == pytest.approx(0.5, abs=0.03)  # saturation applied half the time
    assert np.mean(colour[:, 3]) == pytest.approx(0.5, abs=0.03)  # brightness too


def test_window_starts_are_uniform_in_the_span(videos):
    rng = np.random.default_rng(1)
    video = videos[2]  # 3 s
    starts = [plan_pair(rng, videos, (2, 2), POSITIVE, SMALL, False).audio_start for _ in range(3000)]
    assert min(starts) >= 0 and max(starts) < 3 * 8000 - 8000
    assert np.mean(starts) == pytest.approx((3 * 8000 - 8000) / 2, rel=0.05)
    one_second = dataclasses.replace(video, end=video.start + 1.0)
    assert plan_pair(rng, [one_second], (0, 0), POSITIVE, SMALL, False).audio_start == 0


def test_frame_in_window_for_low_and_high_frame_rates(videos):
    rng = np.random.default_rng(2)
    for video in videos:
        for start in (0.0, 0.37, video.end - 1.0):
            times = [draw_frame_in_window(rng, video, start, SMALL) - 0.5 / video.fps for _ in range(3000)]
            assert min(times) >= start - 1e-9 and max(times) < start + 1.0
            assert len(set(np.round(times, 6))) == pytest.approx(video.fps, abs=1)  # every frame of the window
    slow = dataclasses.replace(videos[0], fps=0.5)
    assert draw_frame_in_window(rng, slow, 0.2, SMALL) == pytest.approx(0.7)  # no frame inside: the middle


def test_activation_is_deterministic(videos):
    first, again = samples_of(videos, seed=5, augment=True), samples_of(videos, seed=5, augment=True)
    other = samples_of(videos, seed=6, augment=True)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.audio, b.audio)
        assert (a.audio_start, a.frame_time, a.gain) == (b.audio_start, b.frame_time, b.gain)
    assert [s.audio_start for s in other] != [s.audio_start for s in first]


def test_crop_flip_gain_and_quantisation():
    frame = np.arange(40 * 50 * 3, dtype=np.int64).reshape(40, 50, 3).astype(np.uint8)
    np.testing.assert_array_equal(crop_frame(frame, 32, None, False), frame[4:36, 9:41])
    np.testing.assert_array_equal(crop_frame(frame, 32, (0.999, 0.0), True), frame[8:40, 0:32][:, ::-1])
    assert resized_size(dataclasses.make_dataclass("V", ["width", "height"])(640, 360), 256) == (455, 256)
    assert resized_size(dataclasses.make_dataclass("V", ["width", "height"])(360, 640), 256) == (256, 455)
    loud = np.array([0.5, -0.95], np.float32)
    for draw in np.linspace(0, 0.999, 50):
        out, gain = apply_gain(loud, float(draw))
        assert 0.9 <= gain <= 1.0 + 0.05 / 0.95 + 1e-6 and np.abs(out).max() <= 1.0  # clip-safe
    quiet = np.array([0.1, -0.2], np.float32)
    gains = [apply_gain(quiet, float(d))[1] for d in np.linspace(0, 0.999, 50)]
    assert min(gains) == pytest.approx(0.9) and max(gains) == pytest.approx(1.1, abs=0.005)
    assert apply_gain(quiet, None) == (quiet, 1.0)
    np.testing.assert_array_equal(to_int16(np.array([1.0, -1.0, 0.5, 2.0])), [32767, -32768, 16384, 32767])


def test_partners_and_rounds():
    partner = partners(7, seed=3)
    assert all(partner != np.arange(7)) and np.array_equal(partner, partners(7, seed=3))
    stream = activations(7, seed=3, stream=0, kind=COINS)
    first_two_rounds = [next(stream) for _ in range(14)]
    assert sorted(v for v, _, r in first_two_rounds if r == 0) == list(range(7))
    assert all(p == partner[v] for v, p, _ in first_two_rounds)
    with pytest.raises(InputError, match="at least 2 videos"):
        partners(1, 0)


def test_settings_checks_and_spec_sizes():
    with pytest.raises(InputError, match="frame must be one of window, last.*cycle_length must be a positive"):
        AVCSettings(frame="middle", cycle_length=0).check()
    with pytest.raises(InputError, match="resize_short_side .* is smaller than the crop"):
        AVCSettings(image_size=300).check()
    from kaudio.spec.validate import load_spec

    settings = AVCSettings.for_spec(load_spec("l3_avc_m256"), negatives="balanced")
    assert (settings.image_size, settings.resize_short_side, settings.sample_rate, settings.audio_samples) == \
        (224, 256, 48000, 48000)
    assert settings.negatives == "balanced" and settings.window_seconds == 1.0
    with pytest.raises(InputError, match="has no tower.*vision"):
        AVCSettings.for_spec(load_spec("l3_m256"))


def test_a_video_that_fails_ends_its_activation_with_a_warning(videos, tmp_path):
    broken = list(videos)
    broken[1] = dataclasses.replace(videos[1], path=tmp_path / "gone.mkv")
    with pytest.warns(KaudioWarning, match=r"gone.mkv: cannot open .* the rest of this activation"):
        got = samples_of(broken, pair=(0, 1))
    assert got == []
