"""Front ends under a dtype policy: their precision (float64 for L3) survives ``mixed_bfloat16``."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.dtypes import dtype_policy_scope
from kaudio.frontends import MelSpectrogram
from tests.conftest import tiny_audio_spec


def quiet_tone(samples=4000, sr=8000):
    """A tone with a -70 dB partial: bfloat16 input (8-bit mantissa) would bury the partial in noise."""
    t = np.arange(samples) / sr
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 1.5e-4 * np.sin(2 * np.pi * 2500 * t)).astype(np.float32)


def mel(**kwargs):
    return MelSpectrogram(8000, n_fft=256, hop_length=128, n_mels=32, padding="same", decibel="openl3", **kwargs)


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_precision_survives_mixed_bfloat16(precision):
    x = quiet_tone()[None, :, None]
    reference = np.asarray(mel(precision=precision)(x))
    with dtype_policy_scope("mixed_bfloat16"):
        front = mel(precision=precision)
    steps = [layer for layer in front._flatten_layers(include_self=False)]
    assert len(steps) == 7 and {layer.dtype_policy.name for layer in steps} == {precision}
    assert front.dtype_policy.name == "float32"  # a mixed policy's variable dtype (no variables to keep)
    out = front(x)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(out), reference)  # the waveform was not cast to bfloat16 on the way in


def test_pure_bfloat16_policy_gives_a_bfloat16_spectrogram_computed_in_float64():
    x = quiet_tone()[None, :, None]
    reference = np.asarray(mel(precision="float64")(x))
    front = mel(precision="float64", dtype="bfloat16")
    out = front(x)
    assert out.dtype == "bfloat16"
    np.testing.assert_array_equal(np.asarray(out, np.float32), reference.astype("bfloat16").astype(np.float32))


def test_spec_model_under_mixed_bfloat16_keeps_the_float64_front_end(tmp_path):
    spec = tiny_audio_spec(frontend={"type": "mel", "n_fft": 256, "hop_length": 128, "n_mels": 32, "padding": "same",
                                     "decibel": "openl3", "precision": "float64"})
    x = quiet_tone()[None, :, None]
    reference = np.asarray(kaudio.build(spec).frontend(x))
    with dtype_policy_scope("mixed_bfloat16"):
        model = kaudio.build(spec)
    assert model.frontend.stft_layers[0].dtype_policy.name == "float64"
    assert model.backbone.get_layer("input_bn").dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_array_equal(np.asarray(model.frontend(x)), reference)
    # saved on its own, the front end keeps its policy and its float64 steps
    inputs = keras.Input((4000, 1))
    wrapper = keras.Model(inputs, model.frontend(inputs))
    wrapper.save(tmp_path / "frontend.keras")
    loaded = keras.models.load_model(tmp_path / "frontend.keras").layers[-1]
    assert isinstance(loaded, MelSpectrogram) and loaded.dtype_policy.name == "float32"
    assert loaded.stft_layers[0].dtype_policy.name == "float64" and loaded.settings["precision"] == "float64"
