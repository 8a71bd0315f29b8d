"""The Backbone base class: configs that are exactly the constructor arguments, written once for every
family, and dtype policies that survive saving (.keras)."""
import inspect

import keras
import numpy as np
import pytest

import kaudio
from kaudio.dtypes import dtype_policy_scope
from kaudio.errors import KaudioError
from kaudio.models import Backbone
from kaudio.models.l3 import L3AudioBackbone, L3Backbone, L3ImageBackbone
from kaudio.models.ofa import OfaCNN
from kaudio.models.panns import PannsCNN
from tests.conftest import tiny_audio_spec

#: One small instance per registered backbone: (class, every constructor argument, input shape).
SMALL = [
    (L3AudioBackbone, dict(feature_shape=[32, 20, 1], filters=[4, 8], l2_regularization=0.0,
                           embedding_bn_relu=True), (32, 20, 1)),
    (L3ImageBackbone, dict(feature_shape=[16, 16, 3], filters=[4, 8, 8], l2_regularization=1e-4,
                           embedding_bn_relu=False), (16, 16, 3)),
    (PannsCNN, dict(feature_shape=[24, 16, 1], filters=[4, 8], embedding_size=8, pool_last_block=False, dropout=0.1,
                    embedding_dropout=0.3, bn_epsilon=1e-3, bn_momentum=0.99, input_norm="single",
                    convs_per_block=[2, 1]), (24, 16, 1)),
    (OfaCNN, dict(feature_shape=[24, 16, 1], filters=[4, 8, 8], static_blocks=1, width_ratios=[0.5, 1.0],
                  elastic_depth_blocks=[2, 3], elastic_fc=True, embedding_size=8, input_norm="single", dropout=0.1,
                  embedding_dropout=0.3, bn_epsilon=1e-3, bn_momentum=0.99), (24, 16, 1)),
]
IDS = [cls.__name__ for cls, _, _ in SMALL]


def test_backbones_share_one_config_implementation():
    for cls in (L3Backbone, L3AudioBackbone, L3ImageBackbone, PannsCNN, OfaCNN):
        assert issubclass(cls, Backbone)
        for method in ("get_config", "from_config", "from_spec", "from_preset"):
            assert method not in vars(cls), f"{cls.__name__} redefines {method}"


@pytest.mark.parametrize("cls, arguments, _", SMALL, ids=IDS)
def test_get_config_is_exactly_the_constructor_arguments(cls, arguments, _):
    backbone = cls(**arguments, name="bb")
    signature = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs", "dtype")]
    config = backbone.get_config()
    assert list(config) == signature + ["name", "trainable", "dtype"]
    assert config == {**arguments, "name": "bb", "trainable": True, "dtype": "float32"}
    clone = cls.from_config(config)
    assert type(clone) is cls and clone.get_config() == config and clone.count_params() == backbone.count_params()


@pytest.mark.parametrize("cls, arguments, shape", SMALL, ids=IDS)
def test_mixed_bfloat16_survives_keras_round_trip(cls, arguments, shape, tmp_path):
    backbone = cls(**arguments, dtype="mixed_bfloat16")
    assert backbone.get_config()["dtype"] == "mixed_bfloat16"
    layers = [layer for layer in backbone.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert {layer.dtype_policy.name for layer in layers} == {"mixed_bfloat16"}
    # mixed: float32 variables, bfloat16 compute (a supernet's active-configuration variables are int32)
    assert {v.dtype for v in backbone.weights if v.dtype != "int32"} == {"float32"}
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype("float32")
    expected = backbone(x)
    assert expected.dtype == "bfloat16"
    backbone.save(tmp_path / "bb.keras")
    loaded = keras.models.load_model(tmp_path / "bb.keras")
    assert type(loaded) is cls and loaded.dtype_policy.name == "mixed_bfloat16"
    assert {layer.dtype_policy.name for layer in loaded.layers if not isinstance(layer, keras.layers.InputLayer)} \
        == {"mixed_bfloat16"}
    np.testing.assert_array_equal(np.asarray(loaded(x), np.float32), np.asarray(expected, np.float32))


def test_dtype_none_records_the_policy_in_force():
    with dtype_policy_scope("mixed_bfloat16"):
        backbone = PannsCNN(feature_shape=(24, 16, 1), filters=[4, 8], embedding_size=8)
    assert backbone.get_config()["dtype"] == "mixed_bfloat16"
    assert backbone.get_layer("conv_block1_conv1_conv").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    assert PannsCNN(feature_shape=(24, 16, 1), filters=[4, 8], embedding_size=8).get_config()["dtype"] == "float32"


def test_bad_dtype_is_a_kaudio_error():
    with pytest.raises(KaudioError, match="unknown dtype policy 'mixed_bf16'.*valid policies: float32, mixed_bfloat16"):
        L3AudioBackbone(feature_shape=(32, 20, 1), filters=[4, 8], dtype="mixed_bf16")


def test_spec_model_built_under_a_policy():
    with dtype_policy_scope("mixed_bfloat16"):
        model = kaudio.build(tiny_audio_spec())
    assert model.backbone.dtype_policy.name == "mixed_bfloat16"
    assert model.backbone.get_layer("block1_conv1_conv").compute_dtype == "bfloat16"
    x = np.random.default_rng(0).standard_normal((2, 4000, 1)).astype("float32") * 0.1
    assert model(x).dtype == "bfloat16"


def test_a_constructor_argument_without_its_attribute_is_reported():
    class Forgetful(Backbone):
        def __init__(self, feature_shape=(4, 4, 1), width=2, **kwargs):
            inputs = keras.Input(feature_shape)
            super().__init__(inputs=inputs, outputs=keras.layers.Dense(width)(inputs), **kwargs)
            self.feature_shape = tuple(feature_shape)

    with pytest.raises(KaudioError, match=r"Forgetful.__init__ takes 'width' but sets no attribute self.width"):
        Forgetful().get_config()
