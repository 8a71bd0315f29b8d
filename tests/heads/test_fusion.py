"""The concat_mlp fusion head (L3-Net's audio-visual fusion): concat in order → Dense layers."""
import keras
import numpy as np
import pytest

from kaudio.heads.fusion import ConcatMLPFusion
from kaudio.spec.validate import ValidationContext


def test_concatenates_in_order_then_dense_layers(tmp_path):
    fusion = ConcatMLPFusion({"audio": 3, "vision": 2}, order=["vision", "audio"], hidden=[4], num_classes=2,
                             name="fusion")
    x = {"audio": np.ones((2, 3), "float32"), "vision": np.zeros((2, 2), "float32")}
    out = np.asarray(fusion(x))
    hidden, classifier = fusion.get_layer("hidden1"), fusion.get_layer("classifier")
    concat = np.concatenate([x["vision"], x["audio"]], axis=1)  # vision first
    h = np.maximum(concat @ hidden.kernel.numpy() + hidden.bias.numpy(), 0)
    logits = h @ classifier.kernel.numpy() + classifier.bias.numpy()
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert isinstance(hidden.kernel_regularizer, keras.regularizers.L2) and hidden.kernel_regularizer.l2 == 1e-5
    assert isinstance(classifier.kernel_initializer, keras.initializers.HeNormal)
    assert fusion.count_params() == 5 * 4 + 4 + 4 * 2 + 2
    path = tmp_path / "fusion.keras"
    wrapper_inputs = {k: keras.Input((v,), name=k) for k, v in (("audio", 3), ("vision", 2))}
    wrapper = keras.Model(wrapper_inputs, fusion(wrapper_inputs))
    wrapper.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), out, rtol=1e-6)


def test_check_spec_knows_the_towers():
    context = ValidationContext()
    context.towers = {"vision": (512,), "audio": (512,)}
    params = {"order": ["vison", "audio"], "hidden_activation": "relu", "kernel_initializer": "he_normal"}
    problems = dict(ConcatMLPFusion.check_spec(params, context))
    assert "no tower 'vison'; did you mean 'vision'?" in problems["order[0]"]
    assert "missing: vision" in problems["order"]
    params = {"order": None, "hidden_activation": "rleu", "kernel_initializer": "he_normal"}
    problems = dict(ConcatMLPFusion.check_spec(params, context))
    assert params["order"] == ["vision", "audio"] and "unknown hidden activation 'rleu'" in problems["hidden_activation"]


def test_towers_must_give_vectors():
    shape, problems = ConcatMLPFusion.spec_output_shape({"num_classes": 2}, {"audio": (32, 24, 512), "vision": (512,)})
    assert shape is None and "tower 'audio' gives (32, 24, 512)" in problems[0][1] and "global_pool" in problems[0][1]
    assert ConcatMLPFusion.spec_output_shape({"num_classes": 3}, {"a": (4,), "b": (5,)}) == ((3,), [])


@pytest.mark.parametrize("activation", ["sigmoid", "linear"])
def test_output_activations(activation):
    fusion = ConcatMLPFusion({"a": 2}, ["a"], hidden=[], num_classes=1, activation=activation)
    out = np.asarray(fusion({"a": np.full((1, 2), 10.0, "float32")}))
    assert (0 < out).all() and (out < 1).all() if activation == "sigmoid" else out.shape == (1, 1)
