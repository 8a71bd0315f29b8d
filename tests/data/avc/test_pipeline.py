"""kaudio.data.avc.pipeline: AVC pairs streamed from videos as a tf.data pipeline."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from kaudio.data.avc import AVCSettings, pair_dataset
from kaudio.errors import InputError
from tests.data.avc.conftest import GOOD, SMALL
from tests.data.avc.synthetic import frame_colour, identify_audio, identify_frame

IDS = {key: value[0] for key, value in GOOD.items()}


def elements(dataset):
    return list(dataset.as_numpy_iterator())


def test_elements_fit_the_avc_spec(videos):
    from kaudio.spec.validate import load_spec

    spec = load_spec("l3_avc_m256")
    x_spec, y_spec = pair_dataset(videos, AVCSettings.for_spec(spec)).element_spec
    towers = spec.shapes["towers"]
    assert set(x_spec) == set(spec.towers) == {"vision", "audio"}
    for name in x_spec:  # model.input is a dict keyed by tower name
        assert tuple(x_spec[name].shape) == tuple(towers[name]["input"]) and x_spec[name].dtype == tf.float32
    assert set(y_spec) == {"correspondence"} and tuple(y_spec["correspondence"].shape) == spec.output_shape == (2,)


def test_pairs_say_where_they_come_from(videos):
    """Unaugmented samples: the frame's colour and the tone name the videos the metadata names."""
    got = elements(pair_dataset(videos, SMALL, seed=3, samples=24, augment=False, with_metadata=True))
    assert len(got) == 24
    labels = set()
    for x, y, meta in got:
        assert x["vision"].shape == (32, 32, 3) and x["audio"].shape == (8000, 1)
        assert x["vision"].min() >= -1 and x["vision"].max() <= 1 and np.abs(x["audio"]).max() <= 1
        pixel = (x["vision"][16, 16] + 1) * 127.5
        frame_key, audio_key = meta["frame_video"].decode(), meta["audio_video"].decode()
        assert identify_frame(pixel)[0] == IDS[frame_key]
        assert identify_audio(x["audio"][:, 0], 8000, IDS.values()) == IDS[audio_key]
        match = frame_key == audio_key
        np.testing.assert_array_equal(y["correspondence"], [0.0, 1.0] if match else [1.0, 0.0])
        labels.add(match)
        if match:  # frame: window — the frame lies inside the audio window
            start = meta["audio_start"] / 8000
            assert start - 1e-3 <= meta["frame_time"] < start + 1.0
    assert labels == {True, False}


def test_same_seed_same_samples_other_seed_others(videos):
    settings = dataclasses.replace(SMALL, shuffle_buffer=6)
    dataset = pair_dataset(videos, settings, seed=1, samples=12, with_metadata=True)
    twin = pair_dataset(videos, settings, seed=1, samples=12, with_metadata=True)
    first, again = elements(dataset), elements(twin)
    for (x1, y1, m1), (x2, y2, m2) in zip(first, again):
        np.testing.assert_array_equal(x1["vision"], x2["vision"])
        np.testing.assert_array_equal(x1["audio"], x2["audio"])
        assert (m1["audio_video"], m1["audio_start"], m1["gain"]) == (m2["audio_video"], m2["audio_start"], m2["gain"])
    # a second pass reshuffles, the same way for the same seed
    assert [m["audio_start"] for _, _, m in elements(dataset)] == [m["audio_start"] for _, _, m in elements(twin)]
    other = elements(pair_dataset(videos, settings, seed=2, samples=12, with_metadata=True))
    assert [m["audio_start"] for _, _, m in other] != [m["audio_start"] for _, _, m in first]


def test_training_augmentation_is_the_recorded_one(videos):
    """Gains in [0.9, 1.1]; each frame's colour is its flat source colour changed by the recorded
    saturation / brightness parameters (in their recorded order)."""
    from kaudio.data.avc.augment import colour_jitter

    by_key = {v.key: v for v in videos}
    got = elements(pair_dataset(videos, SMALL, seed=4, samples=24, with_metadata=True))
    gains = np.array([m["gain"] for _, _, m in got])
    colour = np.array([m["colour"] for _, _, m in got])
    assert gains.min() >= 0.9 - 1e-6 and gains.max() <= 1.1 + 1e-6 and gains.std() > 0
    assert set(colour[:, 1]) == {0.0, 1.0} and set(colour[:, 3]) == {0.0, 1.0}
    for x, _, meta in got:
        assert -1 <= x["vision"].min() and x["vision"].max() <= 1 and np.abs(x["audio"]).max() <= 1
        video = by_key[meta["frame_video"].decode()]
        index = int(round((meta["frame_time"] - video.video_start) * video.fps))
        source = np.array(frame_colour(IDS[video.key], index), np.uint8)[None, None]
        expected = colour_jitter(tf.constant(source), tf.constant(meta["colour"])).numpy()[0, 0]
        np.testing.assert_allclose((x["vision"][16, 16] + 1) * 127.5, expected, atol=4)


def test_balanced_batches_hold_exactly_half(videos):
    settings = dataclasses.replace(SMALL, negatives="balanced")
    batches = elements(pair_dataset(videos, settings, seed=0, samples=24, batch_size=6))
    assert len(batches) == 4
    for _, y in batches:
        assert y["correspondence"][:, 1].sum() == 3
    with pytest.raises(InputError, match="even batch size"):
        pair_dataset(videos, settings, batch_size=5)


def test_fixed_validation_set_is_cached(videos):
    dataset = pair_dataset(videos, SMALL, seed=9, samples=8, augment=False, cache=True, raw=True)
    first = elements(dataset)
    assert first[0][0]["vision"].dtype == np.uint8 and first[0][0]["audio"].dtype == np.int16
    second = elements(dataset)
    for (x1, _), (x2, _) in zip(first, second):
        np.testing.assert_array_equal(x1["audio"], x2["audio"])
    with pytest.raises(InputError, match="cache=True needs a number of samples"):
        pair_dataset(videos, SMALL, cache=True)
    with pytest.raises(InputError, match="at least 2 videos"):
        pair_dataset(videos[:1], SMALL)


def test_last_frame_mode_through_the_pipeline(videos):
    settings = dataclasses.replace(SMALL, frame="last")
    by_key = {v.key: v for v in videos}
    for x, _, meta in elements(pair_dataset(videos, settings, seed=0, samples=8, augment=False, with_metadata=True)):
        video = by_key[meta["frame_video"].decode()]
        assert identify_frame((x["vision"][16, 16] + 1) * 127.5)[1] == round(video.duration * video.fps) - 1


def test_a_script_leaving_an_endless_stream_open_exits(videos_dir, tmp_path):
    """tf.data keeps calling the generators while Python finalises; without the exit hook this hangs."""
    import os
    import subprocess
    import sys

    script = tmp_path / "train_a_little.py"
    script.write_text(
        "import warnings\nwarnings.simplefilter('ignore')\n"
        "from kaudio.data.avc import pair_dataset, scan_videos\n"
        "from tests.data.avc.conftest import SMALL\n"
        f"videos = list(scan_videos({str(videos_dir)!r}).videos)\n"
        "iterator = iter(pair_dataset(videos, SMALL, batch_size=4))\n"
        "for _ in range(3):\n    next(iterator)\nprint('trained')\n")
    repo = str(Path(__file__).resolve().parents[3])
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,  # a loaded CPU: imports alone can take a minute
                            env={**os.environ, "PYTHONPATH": repo})
    assert result.returncode == 0 and result.stdout.strip() == "trained", result.stderr[-2000:]
