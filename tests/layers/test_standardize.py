"""Standardization: per-bin (x − mean) / std with non-trainable statistics saved in .keras files,
the identity until they are set; feature_statistics: the reference's per-bin mean and population std
(soham97/MTL_Weakly_labelled_audio_data dataset.py) computed over batches."""
import keras
import numpy as np
import pytest

from kaudio.errors import KaudioError
from kaudio.layers import Standardization, feature_statistics
from tests.helpers import keras_round_trip


def features(shape=(3, 7, 5, 1), seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3 + 2).astype("float32")


def test_identity_until_statistics_are_set():
    x = features()
    layer = Standardization(axis=2)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    assert not layer.has_statistics and len(layer.non_trainable_weights) == 2 and not layer.trainable_weights
    mean, std = layer.statistics()
    np.testing.assert_array_equal(mean, np.zeros(5)) and np.testing.assert_array_equal(std, np.ones(5))


@pytest.mark.parametrize("axis, bins", [(2, 5), (1, 7), (-2, 5)])
def test_standardises_along_the_bin_axis(axis, bins):
    x = features()
    layer = Standardization(axis=axis)
    layer(x)
    mean, std = np.arange(bins, dtype="float32") - 2, np.linspace(0.5, 3, bins).astype("float32")
    layer.set_statistics(mean, std)
    shape = [1, 1, 1, 1]
    shape[axis] = bins
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), (x - mean.reshape(shape)) / std.reshape(shape),
                               rtol=1e-6, atol=1e-6)
    assert layer.has_statistics


def test_statistics_are_saved_with_the_model(tmp_path):
    x = features()
    inputs = keras.Input(x.shape[1:])
    layer = Standardization(axis=2, name="standardization")
    model = keras.Model(inputs, layer(inputs))
    layer.set_statistics(np.full(5, 1.5), np.full(5, 2.0))
    out, loaded = keras_round_trip(model, x, tmp_path)
    np.testing.assert_allclose(out, (x - 1.5) / 2.0, rtol=1e-6)
    mean, std = loaded.get_layer("standardization").statistics()
    np.testing.assert_array_equal(mean, np.full(5, 1.5)) and np.testing.assert_array_equal(std, np.full(5, 2.0))


def test_bad_statistics_are_refused():
    layer = Standardization(axis=2)
    with pytest.raises(KaudioError, match="build the layer"):
        layer.set_statistics(np.zeros(5), np.ones(5))
    layer(features())
    with pytest.raises(KaudioError, match="expected mean and std of 5 bins, got 4 and 5"):
        layer.set_statistics(np.zeros(4), np.ones(5))
    with pytest.raises(KaudioError, match="std finite and > 0"):
        layer.set_statistics(np.zeros(5), np.array([1, 1, 0, 1, 1.0]))
    with pytest.raises(KaudioError, match="known size"):
        Standardization(axis=1)(keras.Input((None, 5, 1)))


def test_feature_statistics_pool_every_axis_but_the_bins():
    batches = [features((n, 7, 5, 1), seed=n) for n in (3, 1, 4)]  # unequal batches, merged exactly
    everything = np.concatenate(batches).astype(np.float64)
    mean, std = feature_statistics(batches, axis=2)
    np.testing.assert_allclose(mean, everything.mean(axis=(0, 1, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, everything.std(axis=(0, 1, 3)), rtol=1e-12)  # population std (ddof 0)
    mean, std = feature_statistics(iter(batches), axis=1)
    np.testing.assert_allclose(std, everything.std(axis=(0, 2, 3)), rtol=1e-12)


def test_a_constant_bin_is_centred_not_scaled():
    x = features((2, 6, 3, 1))
    x[:, :, 1] = 4.0
    mean, std = feature_statistics([x], axis=2)
    assert mean[1] == pytest.approx(4.0) and std[1] == 1.0 and std[0] != 1.0
    with pytest.raises(KaudioError, match="no features were seen"):
        feature_statistics([], axis=2)
