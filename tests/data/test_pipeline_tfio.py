"""make_dataset(decoder="tfio"): in-graph decoding and resampling with tensorflow-io, checked
against the python decoder (libsndfile + soxr). Skipped where tensorflow-io cannot load."""
import numpy as np
import pytest
import soundfile as sf

from kaudio.data import TaggingTable, make_dataset
from kaudio.data.pipeline import data_error
from kaudio.errors import InputError, KaudioError
from kaudio.hierarchy import Hierarchy

HIERARCHY = Hierarchy.from_mapping({"a": ["x", "y"], "b": ["z"]})

#: |tfio − python| after resampling the two-tone test signal, measured: at most 0.019–0.021 (the
#: first sample; MP3 the most) and 0.014 past the first and last 50 samples (44.1 or 22.05 kHz →
#: 16 kHz; 0.015 / 0.007 → 32 kHz): tfio.audio.resample's wider transition band and sub-sample delay.
RESAMPLED_TOLERANCE = 3e-2
INTERIOR_TOLERANCE = 2e-2
#: Equal rates: integer PCM and float WAV/FLAC decode bit for bit; Vorbis and MP3 within 7e-7.
DECODED_TOLERANCE = 1e-6


@pytest.fixture(scope="module", autouse=True)
def _tfio():
    pytest.importorskip("tensorflow_io")
    from kaudio.audio_io import require_tfio

    try:
        require_tfio()
    except KaudioError as err:
        pytest.skip(f"tensorflow-io cannot load here: {err}")


def two_tones(rate, seconds=1.0, channels=2):
    t = np.arange(int(rate * seconds)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 2500 * t)
    right = 0.3 * np.sin(2 * np.pi * 1000 * t + 1)
    return np.stack([left, right][:channels], axis=1).astype(np.float32)


def table_of(paths):
    fine = np.zeros((len(paths), 3), np.float32)
    return TaggingTable.from_fine(paths, fine, np.ones_like(fine), HIERARCHY)


def clips(table, rate, samples, decoder, **kwargs):
    return np.concatenate([a.numpy()[:, :, 0] for a, _ in make_dataset(table, None, rate, samples, batch_size=4,
                                                                        decoder=decoder, **kwargs)])


def both_decoders(table, rate, samples):
    return clips(table, rate, samples, "python"), clips(table, rate, samples, "tfio")


FORMATS = [("WAV", "PCM_16", ".wav"), ("WAV", "PCM_24", ".wav"), ("WAV", "FLOAT", ".wav"), ("WAV", "PCM_U8", ".wav"),
           ("FLAC", "PCM_16", ".flac"), ("FLAC", "PCM_24", ".flac"), ("OGG", "VORBIS", ".ogg"),
           ("MP3", "MPEG_LAYER_III", ".mp3")]


@pytest.mark.parametrize("fmt, subtype, ext", FORMATS)
def test_equal_rates_decode_like_libsndfile(tmp_path, fmt, subtype, ext):
    path = tmp_path / f"clip{ext}"
    sf.write(path, two_tones(16000), 16000, format=fmt, subtype=subtype)
    python, tfio = both_decoders(table_of([path]), 16000, 16000)
    np.testing.assert_allclose(tfio, python, rtol=0, atol=DECODED_TOLERANCE)
    if subtype in ("PCM_16", "PCM_24", "FLOAT"):
        np.testing.assert_array_equal(tfio, python)


@pytest.mark.parametrize("rate_in, ext", [(44100, ".wav"), (44100, ".flac"), (44100, ".ogg"), (44100, ".mp3"),
                                          (22050, ".wav")])
def test_resampled_clip_has_the_python_length_and_close_values(tmp_path, rate_in, ext):
    path = tmp_path / f"clip{ext}"
    sf.write(path, two_tones(rate_in, seconds=1.5), rate_in)
    length = int(1.5 * rate_in) * 16000 // rate_in  # ⌊n · out / in⌋
    python, tfio = both_decoders(table_of([path]), 16000, length + 50)  # 50 samples of padding after the clip
    assert not python[0, length:].any() and not tfio[0, length:].any()  # same number of samples
    assert np.abs(tfio[0, length - 1]) > 1e-3  # the tail is there: the resampler's delay is compensated
    np.testing.assert_allclose(tfio, python, rtol=0, atol=RESAMPLED_TOLERANCE)
    np.testing.assert_allclose(tfio[:, 50:-100], python[:, 50:-100], rtol=0, atol=INTERIOR_TOLERANCE)


def test_mono_mixdown(tmp_path):
    stereo = two_tones(8000)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 8000, subtype="FLOAT")
    (clip,) = clips(table_of([path]), 8000, 8000, "tfio")
    np.testing.assert_allclose(clip, stereo.mean(axis=1), atol=1e-7)


def test_parallel_decoding_keeps_each_file_with_its_row(tmp_path):
    """tfio.audio.AudioIOTensor shares one file resource between parallel map calls (clips got
    swapped); the decode_* ops used here do not."""
    paths = []
    for i in range(24):
        paths.append(tmp_path / f"clip{i}.wav")
        sf.write(paths[-1], np.full(800 + 7 * i, (i + 1) / 100, np.float32), 8000, subtype="PCM_16")
    for _ in range(2):
        values = clips(table_of(paths), 8000, 800, "tfio")[:, 0]
        np.testing.assert_allclose(values, (np.arange(24) + 1) / 100, atol=1e-4)


def test_training_mode_and_cache(tmp_path):
    paths = [tmp_path / f"clip{i}.flac" for i in range(4)]
    for i, path in enumerate(paths):
        sf.write(path, np.arange(1000, dtype=np.float32) / 1000 * 0.5 + i * 0.1, 8000, subtype="PCM_24")
    table = table_of(paths)
    first = clips(table, 8000, 200, "tfio", shuffle=True, seed=1)
    assert first.shape == (4, 200) and np.allclose(np.diff(first, axis=1), 0.5 / 1000, atol=1e-4)  # contiguous
    np.testing.assert_array_equal(clips(table, 8000, 200, "tfio", shuffle=True, seed=1), first)
    np.testing.assert_array_equal(clips(table, 8000, 200, "python", shuffle=True, seed=1), first)
    prefix = tmp_path / "cache" / "train"
    clips(table, 8000, 200, "python", cache=prefix)
    clips(table, 8000, 200, "tfio", cache=prefix)
    assert len({p.name.split(".")[1] for p in (tmp_path / "cache").iterdir()}) == 2  # one cache per decoder


def test_refused_encodings_name_the_file_and_the_reason(tmp_path):
    aiff, pcm32 = tmp_path / "clip.aiff", tmp_path / "clip32.wav"
    sf.write(aiff, two_tones(8000), 8000, format="AIFF")
    sf.write(pcm32, two_tones(8000), 8000, subtype="PCM_32")
    table = table_of([aiff, pcm32])
    with pytest.raises(InputError) as excinfo:
        make_dataset(table, None, 8000, 800, decoder="tfio")
    message = str(excinfo.value)
    assert "2 audio files cannot be read" in message
    assert f"{aiff}: decoder='tfio' cannot read AIFF PCM_16 audio: tensorflow-io has no AIFF decoder" in message
    assert f"{pcm32}: decoder='tfio' cannot read WAV PCM_32 audio: tfio.audio.decode_wav reads 32-bit integer" \
        in message
    assert "use decoder='python'" in message
    assert clips(table, 8000, 800, "python").shape == (2, 800)  # the python decoder reads both


def test_unreadable_files_are_named(tmp_path):
    import tensorflow as tf

    paths = [tmp_path / f"clip{i}.wav" for i in range(4)]
    for path in paths:
        sf.write(path, two_tones(8000), 8000, subtype="PCM_16")
    nan = two_tones(8000)
    nan[5, 0] = np.nan
    sf.write(paths[3], nan, 8000, subtype="FLOAT")
    table = table_of(paths)
    paths[0].write_bytes(b"RIFF not audio")
    with pytest.raises(InputError, match=r"1 audio file cannot be read:\n  - .*clip0.wav: cannot decode audio"):
        make_dataset(table, None, 8000, 800, decoder="tfio")

    def failure(index, damage=None):
        """The kaudio error for row ``index``, damaged after the dataset was made (headers checked)."""
        dataset = make_dataset(table, [index], 8000, 800, decoder="tfio")
        if damage:
            damage(paths[index])
        with pytest.raises(tf.errors.OpError) as excinfo:
            list(dataset)
        return str(data_error(excinfo.value))

    assert failure(1, lambda p: p.unlink()) == f"{paths[1]}: file not found or unreadable"
    assert failure(2, lambda p: p.write_bytes(b"RIFF\x00\x00not really a wav file" * 10)) == \
        f"{paths[2]}: tensorflow-io cannot decode it (corrupt data?)"
    assert failure(3) == f"{paths[3]}: contains NaN or infinite samples"


def test_a_file_shorter_than_its_checked_header_is_truncated(tmp_path):
    import tensorflow as tf

    path = tmp_path / "clip.ogg"
    sf.write(path, two_tones(8000), 8000, format="OGG", subtype="VORBIS")
    dataset = make_dataset(table_of([path]), None, 8000, 800, decoder="tfio")
    sf.write(path, two_tones(8000, seconds=0.5), 8000, format="OGG", subtype="VORBIS")  # replaced after the check
    with pytest.raises(tf.errors.OpError) as excinfo:
        list(dataset)
    assert str(data_error(excinfo.value)) == \
        f"{path}: truncated — the header promises 8000 samples, only 4000 could be decoded"


def python_ops(dataset, policy):
    """The Python-function ops in a dataset's serialised graph (``Dataset._as_serialized_graph``, the
    form tf.data service ships to its workers), serialised under the given external-state policy."""
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef.FromString(dataset._as_serialized_graph(external_state_policy=policy).numpy())
    nodes = list(graph.node) + [node for function in graph.library.function for node in function.node_def]
    return {node.op for node in nodes if "PyFunc" in node.op}


def test_the_tfio_pipeline_holds_no_python_and_no_external_state(tmp_path):
    import tensorflow as tf

    path = tmp_path / "clip.flac"
    sf.write(path, two_tones(22050), 22050)
    table = table_of([path])
    fail = tf.data.experimental.ExternalStatePolicy.FAIL
    for shuffle in (False, True):
        assert python_ops(make_dataset(table, None, 16000, 8000, shuffle=shuffle, decoder="tfio"), fail) == set()
    assert python_ops(make_dataset(table, None, 16000, 8000), fail)  # tf.numpy_function: runs only in this process
