"""Test helpers shared by several test modules."""
import keras
import numpy as np


def keras_round_trip(layer_or_model, x, tmp_path, name="model.keras"):
    """Save ``layer_or_model`` (wrapped in a functional model if it is a layer) to ``.keras``, load it back
    without custom_objects, check both give identical outputs on ``x`` and return that output."""
    if isinstance(layer_or_model, keras.Model):
        model = layer_or_model
    else:
        inputs = keras.Input(x.shape[1:])
        model = keras.Model(inputs, layer_or_model(inputs))
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / name)
    loaded = keras.models.load_model(tmp_path / name)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    return expected, loaded
