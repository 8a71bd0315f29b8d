import keras
import numpy as np
import pytest

from kaudio.layers import Decibel
from tests.helpers import keras_round_trip


def roundtrip(layer, tmp_path, x):
    return keras_round_trip(layer, x, tmp_path)[0]


def test_openl3_mode_subtracts_per_example_max_and_floors(tmp_path):
    x = np.array([[[1.0, 1e-3, 1e-12]], [[100.0, 1.0, 0.0]]], "float32")  # two examples
    out = roundtrip(Decibel("openl3"), tmp_path, x)
    np.testing.assert_allclose(out[0, 0], [0.0, -30.0, -80.0], atol=1e-4)
    np.testing.assert_allclose(out[1, 0], [0.0, -20.0, -80.0], atol=1e-4)


def test_power_to_db_matches_librosa_definition(tmp_path):
    x = np.array([[1e-12, 1e-3, 1.0, 10.0]], "float32")
    out = roundtrip(Decibel("power_to_db", amin=1e-10, ref=1.0, top_db=None), tmp_path, x)
    np.testing.assert_allclose(out[0], [-100.0, -30.0, 0.0, 10.0], atol=1e-4)
    out = keras.ops.convert_to_numpy(Decibel("power_to_db", top_db=35.0)(x))
    np.testing.assert_allclose(out[0], [-25.0, -25.0, 0.0, 10.0], atol=1e-4)


def test_log_and_none_modes():
    x = np.array([[0.0, 1.0]], "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(Decibel("log", amin=1e-8)(x)), np.log(x + 1e-8), rtol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(Decibel("none")(x)), x)


@pytest.mark.parametrize("kwargs", [dict(mode="dB"), dict(amin=0), dict(top_db=-1.0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        Decibel(**kwargs)
