"""L3 audio/vision networks: parameter counts and weighted-layer order of the released OpenL3 files."""
import keras
import numpy as np
import pytest

from kaudio.models.l3 import L3AudioBackbone, L3ImageBackbone
from tests.helpers import keras_round_trip


def weighted_layers(model):
    return [layer for layer in model.layers if layer.weights]


@pytest.mark.parametrize("shape, out", [((256, 199, 1), (32, 24, 512)), ((128, 199, 1), (16, 24, 512)),
                                        ((257, 197, 1), (32, 24, 512))])
def test_audio_network_matches_openl3(shape, out):
    model = L3AudioBackbone(feature_shape=shape)
    assert model.count_params() == 4_689_860  # openl3's audio network
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 4_687_042
    assert tuple(model.output.shape[1:]) == out
    layers = weighted_layers(model)
    assert len(layers) == 16 and layers[-1].name == "audio_embedding_layer"
    kinds = ["bn"] + ["conv", "bn"] * 7 + ["conv"]
    assert [("conv" if isinstance(l, keras.layers.Conv2D) else "bn") for l in layers] == kinds
    assert layers[-1].activation is keras.activations.linear
    assert model.get_layer("block1_conv1_conv").kernel_regularizer.l2 == pytest.approx(1e-5)


def test_image_network_matches_openl3():
    model = L3ImageBackbone()
    assert model.count_params() == 4_691_020
    assert tuple(model.output.shape[1:]) == (28, 28, 512)
    names = [layer.name for layer in model.layers]
    assert names.index("block1_conv2_relu") < names.index("block1_conv2_bn")  # ReLU before BN quirk
    assert weighted_layers(model)[-1].name == "vision_embedding_layer"


def test_get_config_is_constructor_arguments_and_round_trips(tmp_path):
    model = L3AudioBackbone(feature_shape=(32, 20, 1), filters=[4, 8], l2_regularization=0.0, name="bb")
    config = model.get_config()
    assert config == {"feature_shape": [32, 20, 1], "filters": [4, 8], "l2_regularization": 0.0, "name": "bb",
                      "embedding_bn_relu": False,
                      "trainable": True, "dtype": "float32"}
    clone = L3AudioBackbone.from_config(config)
    assert clone.count_params() == model.count_params()
    x = np.random.default_rng(0).standard_normal((1, 32, 20, 1)).astype("float32")
    _, loaded = keras_round_trip(model, x, tmp_path)
    assert type(loaded) is L3AudioBackbone


def test_variable_time_axis():
    model = L3AudioBackbone(feature_shape=(64, None, 1), filters=[4, 8])
    assert model(np.zeros((1, 64, 40, 1), "float32")).shape == (1, 32, 20, 8)
    assert model(np.zeros((1, 64, 30, 1), "float32")).shape == (1, 32, 15, 8)


def test_embedding_bn_relu_follows_the_embedding_conv(tmp_path):
    from kaudio.models.l3 import L3AudioBackbone
    from tests.helpers import keras_round_trip

    plain = L3AudioBackbone(feature_shape=(32, 32, 1), filters=[4, 8])
    trained = L3AudioBackbone(feature_shape=(32, 32, 1), filters=[4, 8], embedding_bn_relu=True)
    assert trained.count_params() == plain.count_params() + 4 * 8  # gamma, beta, moving mean and variance
    assert trained.get_config()["embedding_bn_relu"] is True and plain.get_config()["embedding_bn_relu"] is False
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 1)).astype("float32")
    out, loaded = keras_round_trip(trained, x, tmp_path)
    assert (out >= 0).all() and loaded.get_config() == trained.get_config()
