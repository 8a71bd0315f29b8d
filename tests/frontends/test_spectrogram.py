"""Front ends against an independent float64 numpy computation, and their options."""
import keras
import numpy as np
import pytest
import soundfile as sf

import kaudio
from kaudio.frontends import LinearSpectrogram, MelSpectrogram
from kaudio.frontends.presets import MEL_PRESETS, OPENL3_LINEAR
from tests import reference_dsp as ref
from tests.helpers import keras_round_trip


@pytest.fixture(scope="module")
def chirp(fixtures_dir):
    audio, sr = sf.read(fixtures_dir / "chirp_1s.wav", dtype="float32")
    assert sr == 48000 and audio.shape == (48000,)
    return audio


def run(layer, audio):
    return keras.ops.convert_to_numpy(layer(audio[None, :, None]))[0]


def mel_reference(audio, n_mels, preset):
    p = MEL_PRESETS[preset]
    if p["padding"] == "same":
        pad = (982, 982)
    else:
        pad = (0, 1964)
    mag = ref.stft_magnitude(audio, 2048, 242, *pad)
    bank = ref.mel_matrix(48000, 2048, n_mels, 0.0, 24000.0, htk=p["mel_scale"] == "htk")
    if p["spectrum_power"] == 2.0:
        mel = np.sqrt(mag ** 2 @ bank)  # K014: sqrt(M·|X|²)
    else:
        mel = mag @ bank  # openl3 0.4: M·|X|
    return ref.openl3_db(mel).T[:, :, None]  # (F, T, 1)


@pytest.mark.parametrize("n_mels", [128, 256])
@pytest.mark.parametrize("preset", ["openl3", "openl3_v04"])
def test_mel_matches_numpy_reference(chirp, n_mels, preset):
    layer = MelSpectrogram(48000, n_mels=n_mels, **{**MEL_PRESETS[preset], "precision": "float64"})
    out = run(layer, chirp)
    expected = mel_reference(chirp, n_mels, preset)
    assert out.shape == (n_mels, 199, 1)
    assert np.abs(out - expected).max() <= 1e-3
    assert out.max() == 0.0 and out.min() >= -80.0


def test_linear_matches_numpy_reference(chirp):
    layer = LinearSpectrogram(48000, **{**OPENL3_LINEAR, "precision": "float64"})
    out = run(layer, chirp)
    expected = ref.openl3_db(ref.stft_magnitude(chirp, 512, 242)).T[:, :, None]
    assert out.shape == (257, 197, 1)
    assert np.abs(out - expected).max() <= 1e-3


def test_float32_precision_is_measurably_worse(chirp):
    """Documents why the L3 specs use precision float64 (see kaudio.frontends.spectrogram)."""
    layer = LinearSpectrogram(48000, **{**OPENL3_LINEAR, "precision": "float32"})
    err = np.abs(run(layer, chirp) - ref.openl3_db(ref.stft_magnitude(chirp, 512, 242)).T[:, :, None]).max()
    assert 1e-3 < err < 5.0


def test_bundled_specs_front_end_shapes():
    for name, shape in [("l3_linear", (257, 197, 1)), ("l3_m128", (128, 199, 1)), ("l3_m256", (256, 199, 1))]:
        spec = kaudio.load_spec(name)
        layer = spec.component("frontend").from_spec(spec.params("frontend"), spec.input)
        assert layer.compute_output_shape((None, 48000, 1)) == (None,) + shape


def test_center_reflect_and_power_to_db_time_freq():
    """PANNs-style options: reflect centre padding, power spectrum, 10·log10 with no floor, (T, F) layout."""
    sr, n_fft, hop = 16000, 512, 160
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(16000).astype("float32") * 0.1
    layer = MelSpectrogram(sr, n_mels=64, f_min=50.0, f_max=8000.0, n_fft=n_fft, hop_length=hop, padding="center",
                           pad_mode="reflect", spectrum_power=2.0, decibel="power_to_db", db_top=None,
                           layout="time_freq", precision="float64")
    out = run(layer, audio)
    padded = np.pad(audio.astype(np.float64), n_fft // 2, mode="reflect")
    power = ref.stft_magnitude(padded, n_fft, hop) ** 2
    expected = 10 * np.log10(np.maximum(power @ ref.mel_matrix(sr, n_fft, 64, 50.0, 8000.0, htk=False), 1e-10))
    assert out.shape == (1 + 16000 // hop, 64, 1)
    assert np.abs(out[..., 0] - expected).max() <= 1e-3


def test_multichannel_input_keeps_channels():
    layer = MelSpectrogram(8000, n_mels=16, n_fft=256, hop_length=128)
    out = layer(np.zeros((2, 4000, 2), "float32"))
    assert tuple(out.shape) == (2, 16, 1 + (4000 - 256) // 128, 2)


def test_silence_gives_constant_map_without_nan():
    layer = MelSpectrogram(48000, n_mels=128, **MEL_PRESETS["openl3"])
    out = run(layer, np.zeros(48000, "float32"))
    assert np.isfinite(out).all() and np.all(out == 0.0)


def test_multiply_adds_counts_fft_and_filterbank():
    layer = MelSpectrogram(8000, n_mels=16, n_fft=256, hop_length=128)
    frames = 1 + (4000 - 256) // 128
    assert layer.multiply_adds((None, 4000, 1)) == int(frames * (2 * 256 * 8 + 2 * 129 + 129 * 16 + 16))


@pytest.mark.parametrize("cls, kwargs", [
    (MelSpectrogram, dict(n_mels=256, **MEL_PRESETS["openl3"], precision="float64")),
    (LinearSpectrogram, dict(**OPENL3_LINEAR)),
])
def test_front_end_round_trips_through_keras_file(tmp_path, cls, kwargs):
    layer = cls(48000, **kwargs)
    x = np.random.default_rng(1).standard_normal((1, 48000, 1)).astype("float32")
    _, loaded = keras_round_trip(layer, x, tmp_path)
    assert loaded.layers[1].get_config() == layer.get_config()
