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


@keras.saving.register_keras_serializable(package="kaudio_tests")
class TinyEmbeddingBackbone(keras.Model):
    """Test-only backbone giving a ``(batch, units)`` embedding, so head and training tests need no PANNs.

    ``pooling="global"``: global average of the front end's map → Dense(units, tanh).
    ``pooling="time_mean"``: mean over axis 1 (time, for ``time_freq`` layouts) → flatten → LayerNorm
    → Dense(units, relu), which keeps the frequency profile (learnable tone tasks).
    """

    def __init__(self, feature_shape, units=16, pooling="global", **kwargs):
        x = keras.Input(tuple(feature_shape))
        if pooling == "global":
            features = keras.layers.GlobalAveragePooling2D(name="pool")(x)
            activation = "tanh"
        else:
            pooled = keras.layers.AveragePooling2D((feature_shape[0], 1), name="time_mean")(x)
            features = keras.layers.LayerNormalization(name="norm")(keras.layers.Flatten(name="flatten")(pooled))
            activation = "relu"
        super().__init__(x, keras.layers.Dense(units, activation=activation, name="fc")(features), **kwargs)
        self.feature_shape, self.units, self.pooling = list(feature_shape), int(units), pooling

    def get_config(self):
        return {"feature_shape": self.feature_shape, "units": self.units, "pooling": self.pooling, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def register_tiny_backbone(type_name: str, pooling: str, default_units: int) -> None:
    """Register :class:`TinyEmbeddingBackbone` as backbone ``type_name`` (once per process)."""
    from kaudio import registry
    from kaudio.spec.schema import Field, Schema

    if registry.lookup("backbone", type_name) is not None:
        return

    class Component(TinyEmbeddingBackbone):
        spec_schema = Schema((Field("units", int, default_units, "embedding width", minimum=1),))

        @classmethod
        def from_spec(cls, params, feature_shape, name="backbone"):
            return TinyEmbeddingBackbone(feature_shape, pooling=pooling, name=name, **params)

        @classmethod
        def spec_output_shape(cls, params, feature_shape):
            return (params["units"],), []

    Component.__name__ = f"TinyEmbeddingBackbone_{pooling}"
    registry.register("backbone", type_name)(Component)
