"""Tests for kaudio.data.pipeline: decode, mono, resample, crop/pad, shuffle, cache."""
import numpy as np
import pytest
import soundfile as sf

from kaudio.data import TaggingTable, load_audio, make_dataset
from kaudio.data.pipeline import data_error, fit_length
from kaudio.errors import InputError
from kaudio.hierarchy import Hierarchy

HIERARCHY = Hierarchy.from_mapping({"a": ["x", "y"], "b": ["z"]})


def table_of(tmp_path, signals, rate=8000, subtype="FLOAT"):
    """One file per signal (1-D mono or 2-D (n, channels)); row i has fine tag x iff i is even."""
    files = []
    tmp_path.mkdir(parents=True, exist_ok=True)
    for i, signal in enumerate(signals):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, np.asarray(signal, np.float32), rate, subtype=subtype)
        files.append(path)
    n = len(files)
    fine = np.stack([np.arange(n) % 2 == 0, np.arange(n) % 3 == 0, np.zeros(n)], axis=1).astype(np.float32)
    return TaggingTable.from_fine(files, fine, np.ones_like(fine), HIERARCHY)


def collect(ds):
    audio, targets = [], []
    for a, t in ds:
        audio.append(a.numpy())
        targets.append({k: v.numpy() for k, v in t.items()})
    return np.concatenate(audio), {k: np.concatenate([t[k] for t in targets]) for k in targets[0]}


def constant_clips(tmp_path, n, length=1000):
    """Clip i holds the constant (i + 1) / 100 — the value tells which row a window came from."""
    return table_of(tmp_path, [np.full(length, (i + 1) / 100) for i in range(n)])


def test_shapes_dtypes_and_eval_order(tmp_path):
    table = constant_clips(tmp_path, 5)
    ds = make_dataset(table, [4, 0, 2, 1, 3], sample_rate=8000, samples=800, batch_size=2)
    assert ds.element_spec[0].shape.as_list() == [None, 800, 1]
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    audio, targets = collect(ds)
    assert audio.dtype == np.float32 and audio.shape == (5, 800, 1)
    np.testing.assert_allclose(audio[:, 0, 0], np.array([5, 1, 3, 2, 4]) / 100, rtol=1e-6)
    expected = table.targets([4, 0, 2, 1, 3])
    assert set(targets) == {"fine", "coarse", "fine_mask", "coarse_mask"}
    for key in expected:
        np.testing.assert_array_equal(targets[key], expected[key])
        assert targets[key].dtype == np.float32
    assert [b[0].shape[0] for b in make_dataset(table, range(5), 8000, 800, batch_size=2, drop_remainder=True)] == [2, 2]


def test_eval_crops_the_start_and_zero_pads_the_end(tmp_path):
    ramp = np.linspace(-1, 1, 1000, dtype=np.float32)
    table = table_of(tmp_path, [ramp, ramp[:300]])
    audio, _ = collect(make_dataset(table, [0, 1], 8000, 500, batch_size=2))
    np.testing.assert_array_equal(audio[0, :, 0], ramp[:500])
    np.testing.assert_array_equal(audio[1, :300, 0], ramp[:300])
    assert not audio[1, 300:].any()
    np.testing.assert_array_equal(fit_length(ramp[:300], 500), audio[1, :, 0])


def test_mono_mixdown(tmp_path):
    t = np.arange(800) / 8000
    left, right = np.sin(2 * np.pi * 200 * t), 0.5 * np.cos(2 * np.pi * 300 * t)
    table = table_of(tmp_path, [np.stack([left, right], axis=1)])
    audio, _ = collect(make_dataset(table, [0], 8000, 800))
    np.testing.assert_allclose(audio[0, :, 0], (left + right) / 2, atol=1e-6)


def test_resample_22050_to_16000(tmp_path):
    t = np.arange(22050) / 22050
    table = table_of(tmp_path, [0.5 * np.sin(2 * np.pi * 440 * t)], rate=22050)
    decoded = load_audio(table.files[0], 16000)
    assert decoded.shape == (16000,) and decoded.dtype == np.float32
    audio, _ = collect(make_dataset(table, [0], 16000, 20000))
    assert audio.shape == (1, 20000, 1)
    np.testing.assert_array_equal(audio[0, :16000, 0], decoded)
    assert not audio[0, 16000:].any()
    reference = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    inner = slice(500, 15500)  # away from the resampler's edge transients
    np.testing.assert_allclose(decoded[inner], reference[inner], atol=2e-3)


def test_training_shuffles_and_crops_randomly_but_reproducibly(tmp_path):
    ramp = np.arange(1000, dtype=np.float32) / 1000
    table = table_of(tmp_path, [ramp + 10 * i for i in range(8)])  # value // 10 = row, fraction = offset
    ds = make_dataset(table, range(8), 8000, 200, batch_size=4, shuffle=True, seed=3)
    first, first_targets = collect(ds)
    second, _ = collect(ds)
    rows_first = np.floor(first[:, 0, 0] / 10 + 1e-6).astype(int)
    rows_second = np.floor(second[:, 0, 0] / 10 + 1e-6).astype(int)
    assert sorted(rows_first) == list(range(8)) and sorted(rows_second) == list(range(8))
    assert rows_first.tolist() != list(range(8)) and rows_first.tolist() != rows_second.tolist()
    np.testing.assert_array_equal(first_targets["fine"], table.fine[rows_first])  # targets follow their audio
    offsets = np.round((first[:, 0, 0] - 10 * rows_first) * 1000).astype(int)
    for window, row, offset in zip(first[:, :, 0], rows_first, offsets):
        np.testing.assert_allclose(window, ramp[offset: offset + 200] + 10 * row, atol=1e-4)  # contiguous window
    assert len(set(offsets.tolist())) > 4 and offsets.max() <= 800
    again, _ = collect(make_dataset(table, range(8), 8000, 200, batch_size=4, shuffle=True, seed=3))
    np.testing.assert_array_equal(again, first)  # same seed, same first epoch
    other, _ = collect(make_dataset(table, range(8), 8000, 200, batch_size=4, shuffle=True, seed=4))
    assert not np.array_equal(other, first)


def test_random_crop_pads_short_clips(tmp_path):
    table = table_of(tmp_path, [np.ones(100)])
    audio, _ = collect(make_dataset(table, [0], 8000, 300, shuffle=True))
    np.testing.assert_array_equal(audio[0, :, 0], np.r_[np.ones(100), np.zeros(200)])


def test_repeat(tmp_path):
    table = constant_clips(tmp_path, 3)
    ds = make_dataset(table, range(3), 8000, 100, batch_size=2, repeat=True)
    values = np.concatenate([a.numpy()[:, 0, 0] for a, _ in ds.take(4)])
    np.testing.assert_allclose(values, [0.01, 0.02, 0.03, 0.01, 0.02, 0.03, 0.01, 0.02], rtol=1e-6)


@pytest.mark.parametrize("shuffle", [False, True])
def test_memory_cache_decodes_once(tmp_path, shuffle):
    table = constant_clips(tmp_path, 3)
    ds = make_dataset(table, range(3), 8000, 100, cache="memory", shuffle=shuffle)
    first, _ = collect(ds)
    for path in table.files:
        path.unlink()
    second, _ = collect(ds)  # served from the cache: the files are gone
    assert sorted(first[:, 0, 0].tolist()) == sorted(second[:, 0, 0].tolist())
    if not shuffle:
        np.testing.assert_array_equal(first, second)


def test_file_cache_is_reused_and_keyed(tmp_path):
    table = constant_clips(tmp_path, 3)
    prefix = tmp_path / "cache" / "train"
    first, _ = collect(make_dataset(table, range(3), 8000, 100, cache=prefix))
    written = list((tmp_path / "cache").iterdir())
    assert written and all(p.name.startswith("train.") for p in written)
    for path in table.files:
        path.unlink()
    again, _ = collect(make_dataset(table, range(3), 8000, 100, cache=prefix, check_files=False))
    np.testing.assert_array_equal(again, first)
    with pytest.raises(InputError, match="3 audio files cannot be read"):
        make_dataset(table, range(3), 8000, 100, cache=prefix)  # other rows/rate would not reuse the cache
    names_before = {p.name for p in (tmp_path / "cache").iterdir()}
    table_b = constant_clips(tmp_path / "b", 3)
    collect(make_dataset(table_b, range(2), 8000, 100, cache=prefix))
    assert {p.name for p in (tmp_path / "cache").iterdir()} > names_before


def test_ogg_vorbis_decodes(tmp_path):
    path = tmp_path / "clip.ogg"
    t = np.arange(4410) / 44100
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), 44100, format="OGG", subtype="VORBIS")
    table = TaggingTable.from_fine([path], np.zeros((1, 3)), np.ones((1, 3)), HIERARCHY)
    audio, _ = collect(make_dataset(table, [0], 16000, 1600))
    assert audio.shape == (1, 1600, 1) and 0.15 < np.abs(audio).max() < 0.45


def test_argument_and_file_errors(tmp_path):
    table = constant_clips(tmp_path, 2)
    for kwargs, message in [({"samples": 0}, "samples must be a positive integer"),
                            ({"sample_rate": 8000.5}, "sample_rate must be a positive integer"),
                            ({"batch_size": 0}, "batch_size must be a positive integer"),
                            ({"cache": 3}, "cache must be None"),
                            ({"indices": []}, "the index list is empty"),
                            ({"indices": [0, 2]}, r"row indices must lie in \[0, 2\)")]:
        args = {"indices": [0, 1], "sample_rate": 8000, "samples": 100, **kwargs}
        with pytest.raises(InputError, match=message):
            make_dataset(table, **args)
    (tmp_path / "clip1.wav").write_bytes(b"RIFF not audio")
    (tmp_path / "clip0.wav").unlink()
    with pytest.raises(InputError) as excinfo:
        make_dataset(table, [0, 1], 8000, 100)
    message = str(excinfo.value)
    assert "2 audio files cannot be read" in message and "clip0.wav: file not found" in message
    assert "clip1.wav: cannot decode audio" in message


def test_decode_failure_during_iteration_is_recoverable(tmp_path):
    import tensorflow as tf

    table = constant_clips(tmp_path, 1)
    ds = make_dataset(table, [0], 8000, 100)
    table.files[0].unlink()
    with pytest.raises(tf.errors.OpError) as excinfo:
        collect(ds)
    error = data_error(excinfo.value)
    assert isinstance(error, InputError) and str(error) == f"{table.files[0]}: file not found"
    assert data_error(ValueError("other")) is None


def test_decoder_must_be_known(tmp_path):
    table = constant_clips(tmp_path, 1)
    with pytest.raises(InputError, match="decoder must be one of 'python', 'tfio', got 'sox'"):
        make_dataset(table, [0], 8000, 100, decoder="sox")


def test_data_error_reads_an_in_graph_assertion():
    """decoder="tfio" reports a bad file through tf.debugging.Assert, which wraps the text in [...]."""
    import tensorflow as tf

    error = tf.errors.InvalidArgumentError(None, None, "Error in user-defined function passed to ParallelMapDatasetV2: "
                                           "assertion failed: [InputError: /data/a b.wav: contains NaN or infinite "
                                           "samples]\n\t [[{{node Assert/Assert}}]]")
    assert str(data_error(error)) == "/data/a b.wav: contains NaN or infinite samples"
