import numpy as np

from kaudio.layers import MelFilterbank, Power
from kaudio.layers.spectral import empty_mel_bands, mel_filterbank_matrix
from tests import reference_dsp as ref
from tests.helpers import keras_round_trip


def test_mel_matrix_matches_independent_implementation():
    for htk in (True, False):
        ours = mel_filterbank_matrix(48000, 2048, 128, 0.0, None, htk=htk, norm="slaney")
        np.testing.assert_allclose(ours, ref.mel_matrix(48000, 2048, 128, 0.0, 24000.0, htk), atol=1e-9)


def test_htk_mel256_has_empty_low_bands():
    assert empty_mel_bands(mel_filterbank_matrix(48000, 2048, 256, 0.0, None, True, "slaney")) > 0
    assert empty_mel_bands(mel_filterbank_matrix(48000, 2048, 128, 0.0, None, True, "slaney")) == 0


def test_filterbank_layer_applies_matrix_per_channel_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((2, 5, 129, 2)).astype("float32")
    layer = MelFilterbank(8000, 256, 20)
    out, _ = keras_round_trip(layer, x, tmp_path)
    np.testing.assert_allclose(out, np.einsum("btfc,fm->btmc", x, layer.matrix), rtol=1e-5, atol=1e-6)
    assert layer.weights == []


def test_power_layer(tmp_path):
    x = np.array([[0.0, 4.0, 9.0]], "float32")
    for exponent, expected in [(1.0, x), (2.0, x ** 2), (0.5, np.sqrt(x)), (1.5, x ** 1.5)]:
        out, _ = keras_round_trip(Power(exponent), x, tmp_path)
        np.testing.assert_allclose(out, expected, rtol=1e-6)
