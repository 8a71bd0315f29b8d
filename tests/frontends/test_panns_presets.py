"""Front-end presets panns_32k / panns_16k reproduce torchlibrosa's log-mel (as PANNs uses it),
computed here with librosa: centred reflect-padded STFT, periodic Hann, power, Slaney mel,
10·log10(max(x, 1e-10)) without max subtraction or floor. Measured max error: 3.2e-5 dB (float32)."""
import numpy as np
import pytest

import kaudio
import kaudio.models.panns  # noqa: F401
from kaudio.frontends.presets import MEL_PRESETS
from kaudio.frontends.spectrogram import MelSpectrogram
from tests.models.panns import librosa_panns_logmel

BACKBONE = {"type": "panns_cnn", "preset": "cnn10"}


@pytest.mark.parametrize("preset, sample_rate, n_fft, hop, f_max", [
    ("panns_32k", 32000, 1024, 320, 14000.0),
    ("panns_16k", 16000, 512, 160, 8000.0),
])
def test_preset_matches_librosa(preset, sample_rate, n_fft, hop, f_max):
    settings = MEL_PRESETS[preset]
    assert (settings["n_fft"], settings["win_length"], settings["hop_length"], settings["f_max"]) == (n_fft, n_fft, hop, f_max)
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(sample_rate // 4) * 0.1).astype("float32")
    audio[: sample_rate // 16] *= 1e-4  # a quiet stretch: no per-example max subtraction may hide errors
    frontend = MelSpectrogram(sample_rate, **settings)
    out = np.asarray(frontend(audio[None, :, None]))[0, :, :, 0]
    ref = librosa_panns_logmel(audio, sample_rate, n_fft, hop, f_max)
    assert out.shape == ref.shape == (1 + len(audio) // hop, 64)
    assert out.min() < -60 and out.max() > -10  # absolute dB, not relative to the maximum
    np.testing.assert_allclose(out, ref, atol=2e-4, rtol=0)


def test_spec_with_preset_gives_1001_frames_for_10_s():
    spec = kaudio.load_spec({"name": "p", "description": "d", "input": {"type": "audio", "sample_rate": 32000, "duration": 10.0},
                             "frontend": {"type": "mel", "preset": "panns_32k"}, "backbone": BACKBONE})
    frontend = MelSpectrogram(sample_rate=32000, **spec.params("frontend"))
    assert frontend.compute_output_shape((None, 320000, 1)) == (None, 1001, 64, 1)
    assert spec.frontend["db_top"] is None and spec.frontend["pad_mode"] == "reflect" and spec.frontend["layout"] == "time_freq"
    assert frontend.empty_bands == 0


def test_reflect_padding_needs_more_than_half_a_window():
    with pytest.raises(kaudio.SpecError, match="reflect padding of 512 samples needs more than 512 input samples"):
        kaudio.load_spec({"name": "p", "description": "d", "input": {"type": "audio", "sample_rate": 32000, "samples": 400},
                          "frontend": {"type": "mel", "preset": "panns_32k"}, "backbone": BACKBONE})
