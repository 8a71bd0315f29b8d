"""Front-end preset 2apae: 2APAE's features (Deshmukh et al.; soham97/MTL_Weakly_labelled_audio_data),
computed as Kong's qiuqiangkong/sed_time_freq_segmentation utils/features.py does — scipy.signal.spectrogram
with a symmetric Hamming window (nperseg 2048, hop 1024, no detrending, density scaling at fs = 1, magnitude),
librosa's Slaney mel (64 bands, 50 Hz–16 kHz) on the magnitude, log(mel + 1e-8) — and the per-mel-bin
standardisation with statistics saved in the model. Measured max error of the whole front end against
that scipy/librosa computation on 10 s of noise: 1.3e-6 (float32) and 5e-7 (float64: the float32 output's
rounding), in natural-log units on values around −13 … −4."""
import keras
import numpy as np
import pytest
import scipy.signal

import kaudio
from kaudio.errors import KaudioError
from kaudio.frontends.engines import window_values
from kaudio.frontends.presets import MEL_PRESETS
from kaudio.frontends.spectrogram import MelSpectrogram

SR = 32000


def noise(seconds=10.0, seed=0):
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal(int(SR * seconds)) * 0.1).astype("float32")
    audio[: SR] *= 1e-3  # a quiet second: the +1e-8 and the scaling both matter there
    return audio


def kong_logmel(audio):
    """The reference features, with scipy and librosa (float64)."""
    import librosa

    _, _, magnitude = scipy.signal.spectrogram(audio.astype(np.float64), window=np.hamming(2048), nperseg=2048,
                                               noverlap=1024, detrend=False, return_onesided=True, mode="magnitude")
    mel = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=64, fmin=50.0, fmax=SR // 2, norm="slaney", dtype=np.float64)
    return np.log(magnitude.T @ mel.T + 1e-8)


def frontend(**overrides):
    return MelSpectrogram(SR, **{**MEL_PRESETS["2apae"], **overrides})


@pytest.mark.parametrize("precision, atol", [("float32", 5e-6), ("float64", 2e-6)])
def test_preset_matches_scipy_and_librosa(precision, atol):
    audio = noise()
    out = np.asarray(frontend(precision=precision)(audio[None, :, None]))[0]
    ref = kong_logmel(audio)
    assert out.shape == (311, 64, 1) and ref.shape == (311, 64)
    np.testing.assert_allclose(out[..., 0], ref, atol=atol, rtol=0)


def test_symmetric_window_and_density_scaling_are_what_make_it_match():
    audio = noise(1.0)
    ref = kong_logmel(audio)
    periodic = np.asarray(frontend(window_symmetric=False)(audio[None, :, None]))[0, ..., 0]
    unscaled = np.asarray(frontend(spectrum_scaling="none")(audio[None, :, None]))[0, ..., 0]
    assert np.abs(periodic - ref).max() > 1e-4
    scale = 1 / np.sqrt(np.sum(np.hamming(2048) ** 2))
    assert scale == pytest.approx(0.03506, abs=1e-5)
    np.testing.assert_allclose((np.exp(unscaled) - 1e-8) * scale, np.exp(ref) - 1e-8, rtol=1e-4)  # mel without the scale
    np.testing.assert_allclose(window_values("hamming", 2048, symmetric=True), np.hamming(2048), atol=1e-15)
    np.testing.assert_allclose(window_values("hann", 512), scipy.signal.get_window("hann", 512), atol=1e-15)


def test_spec_with_the_preset():
    spec = kaudio.load_spec({"name": "s", "description": "d", "input": {"type": "audio", "sample_rate": SR, "duration": 10.0},
                             "frontend": {"type": "mel", "preset": "2apae"}, "backbone": {"type": "seg_encoder"}})
    assert spec.shapes["frontend"] == (311, 64, 1)
    section = spec.frontend
    assert (section["window"], section["window_symmetric"], section["spectrum_scaling"]) == ("hamming", True,
                                                                                            "window_energy")
    assert (section["decibel"], section["db_amin"], section["standardize"]) == ("log", 1e-8, True)
    assert (section["hop_length"], section["padding"], section["layout"]) == (1024, "valid", "time_freq")


def test_fit_standardization_sets_per_bin_statistics_saved_with_the_model(tmp_path):
    layer = frontend()
    batches = [noise(1.0, seed)[None, :, None] for seed in range(3)]
    raw = np.concatenate([np.asarray(layer(b, standardize=False)) for b in batches]).astype(np.float64)
    np.testing.assert_array_equal(np.asarray(layer(batches[0])), np.asarray(layer(batches[0], standardize=False)))
    mean, std = layer.fit_standardization(((b, {"clip": None}) for b in batches))  # (audio, targets) pairs too
    np.testing.assert_allclose(mean, raw.mean(axis=(0, 1, 3)), rtol=1e-10)
    np.testing.assert_allclose(std, raw.std(axis=(0, 1, 3)), rtol=1e-10)
    assert layer.standardization.has_statistics
    standardised = np.asarray(layer(np.concatenate(batches)))
    np.testing.assert_allclose(standardised.mean(axis=(0, 1, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(standardised.std(axis=(0, 1, 3)), 1, atol=1e-4)

    inputs = keras.Input((SR, 1))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "frontend.keras")
    loaded = keras.models.load_model(tmp_path / "frontend.keras")
    np.testing.assert_array_equal(loaded.predict(batches[1], verbose=0), model.predict(batches[1], verbose=0))
    np.testing.assert_allclose(loaded.layers[1].standardization.statistics()[0], mean, rtol=1e-6)
    assert sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights) == 128 and not layer.trainable_weights


def test_standardization_is_optional():
    layer = frontend(standardize=False)
    assert layer.standardization is None and not layer.weights
    with pytest.raises(KaudioError, match="has no standardisation"):
        layer.fit_standardization([noise(1.0)[None, :, None]])
