"""The `tagger` head (PANNs fc_audioset): Dense(num_classes, sigmoid) on a (batch, D) embedding."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.errors import SpecError
from kaudio.heads.tagging import ClassifierHead, TaggerHead
from tests.helpers import keras_round_trip
from tests.models.panns import tiny_panns_spec


def test_sigmoid_of_one_dense_layer(tmp_path):
    head = TaggerHead(num_classes=5, input_dim=8, name="head")
    z = np.random.default_rng(0).standard_normal((3, 8)).astype("float32")
    out, loaded = keras_round_trip(head, z, tmp_path)
    dense = head.get_layer("classifier")
    expected = 1.0 / (1.0 + np.exp(-(z @ dense.kernel.numpy() + dense.bias.numpy())))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert type(loaded) is TaggerHead and loaded.get_config() == head.get_config()
    assert not dense.bias.numpy().any() and isinstance(dense.kernel_initializer, keras.initializers.GlorotUniform)
    assert head.count_params() == 8 * 5 + 5


def test_dropout_is_optional_and_training_only():
    z = np.ones((2, 16), "float32")
    assert [layer.name for layer in TaggerHead(3, 16).layers] == ["embedding", "classifier"]
    head = TaggerHead(3, 16, dropout=0.5)
    assert head.get_layer("dropout").rate == 0.5
    np.testing.assert_array_equal(np.asarray(head(z)), np.asarray(head(z)))
    assert not np.allclose(np.asarray(head(z, training=True)), np.asarray(head(z)))


def test_spec_output_is_a_plain_tensor():
    model = kaudio.build(tiny_panns_spec(num_classes=7))
    assert isinstance(model.head, TaggerHead) and model.output.shape == (None, 7)
    assert model.spec.head == {"type": "tagger", "num_classes": 7, "classes": None, "dropout": 0.0}


def test_spec_problems():
    spec = tiny_panns_spec()
    del spec["head"]["num_classes"]
    with pytest.raises(SpecError, match="head.num_classes: give num_classes or the list of classes"):
        kaudio.load_spec(spec)
    l3 = kaudio.load_spec("l3_m128").to_dict()
    l3["head"] = {"type": "tagger", "num_classes": 3}
    with pytest.raises(SpecError, match=r"head: tagger head needs a \(batch, D\) embedding .* gives \(batch, 16, 24, 512\)"):
        kaudio.build(l3)


def test_class_names_give_the_number_of_classes():
    spec = kaudio.load_spec(tiny_panns_spec(num_classes=None) | {"head": {"type": "tagger", "classes": ["a", "b"]}})
    assert spec.head["num_classes"] == 2 and spec.shapes["head"] == (2,)
    bad = tiny_panns_spec() | {"head": {"type": "tagger", "classes": ["a", "a"], "num_classes": 3}}
    with pytest.raises(SpecError) as info:
        kaudio.load_spec(bad)
    assert "head.classes[1]: class 'a' is listed twice" in str(info.value)
    bad["head"]["classes"] = ["a", "b"]
    with pytest.raises(SpecError, match="head.num_classes: got 3, but `classes` lists 2"):
        kaudio.load_spec(bad)


def test_classifier_is_a_softmax(tmp_path):
    head = ClassifierHead(num_classes=4, input_dim=8, classes=["a", "b", "c", "d"], name="head")
    z = np.random.default_rng(0).standard_normal((3, 8)).astype("float32")
    out, loaded = keras_round_trip(head, z, tmp_path)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert loaded.get_config()["classes"] == ["a", "b", "c", "d"]
    assert ClassifierHead.target_kind == "singlelabel" and TaggerHead.target_kind == "multilabel"
