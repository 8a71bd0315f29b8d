"""Fine → coarse layers (Zhong et al. Fig. 2 (b)–(d), Eq. 1): numerics, gradients, serialisation."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kaudio.errors import KaudioError
from kaudio.layers.hierarchical import (GroupedPooling, LinearProjection, ResidualAttention, TopDownSoftTree,
                                        check_membership, grouped_max, grouped_mean, parent_values)
from tests.helpers import keras_round_trip

# fine tags 0..4; coarse 0 = {0, 2}, coarse 1 = {1, 3, 4}: non-contiguous groups catch index mix-ups
M = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [0, 1]], np.float32)
CHILDREN = [[0, 2], [1, 3, 4]]


def fine_probs(batch=3, seed=0):
    return np.random.default_rng(seed).uniform(0.01, 0.99, (batch, 5)).astype("float32")


def numpy_pool(p, reduce):
    return np.stack([reduce(p[:, idx], axis=1) for idx in CHILDREN], axis=1)


def np_(x):
    return keras.ops.convert_to_numpy(x)


# --- membership -------------------------------------------------------------------------------


@pytest.mark.parametrize("membership, fragment", [
    (np.zeros((0, 2)), "non-empty"), (np.ones(3), "non-empty"),
    ([[1, 0], [0, 2]], "must be 0 or 1"),
    ([[1, 1], [0, 1]], r"exactly one parent; fine rows \[0\] have \[2\]"),
    ([[1, 0], [0, 0]], r"fine rows \[1\] have \[0\]"),
    ([[1, 0, 0], [0, 1, 0]], r"coarse columns \[2\] have no children"),
])
def test_bad_membership(membership, fragment):
    with pytest.raises(KaudioError, match=fragment):
        check_membership(membership)
    for make in (lambda m: GroupedPooling(m), lambda m: TopDownSoftTree(m), lambda m: ResidualAttention(m)):
        with pytest.raises(KaudioError):
            make(membership)


def test_bad_mode_and_width():
    with pytest.raises(KaudioError, match="'max' or 'mean'"):
        GroupedPooling(M, mode="sum")
    with pytest.raises(KaudioError, match="must have 5 columns"):
        GroupedPooling(M)(np.zeros((1, 4), "float32"))
    with pytest.raises(KaudioError, match="the fine logits must have 5 columns"):
        TopDownSoftTree(M)([np.zeros((1, 2), "float32"), np.zeros((1, 3), "float32")])
    with pytest.raises(KaudioError, match="the coarse probabilities must have 2 columns"):
        TopDownSoftTree(M)([np.zeros((1, 3), "float32"), np.zeros((1, 5), "float32")])
    with pytest.raises(KaudioError, match="the fine probabilities must have 5 columns"):
        ResidualAttention(M)([np.zeros((1, 4), "float32"), np.zeros((1, 3), "float32")])


# --- functions --------------------------------------------------------------------------------


def test_grouped_functions_match_numpy():
    p = fine_probs()
    np.testing.assert_allclose(np_(grouped_max(ops.convert_to_tensor(p), M)), numpy_pool(p, np.max), rtol=1e-6)
    np.testing.assert_allclose(np_(grouped_mean(ops.convert_to_tensor(p), M)), numpy_pool(p, np.mean), rtol=1e-6)
    coarse = np.array([[0.2, 0.9]], "float32")
    np.testing.assert_allclose(np_(parent_values(ops.convert_to_tensor(coarse), M)), [[0.2, 0.9, 0.2, 0.9, 0.9]])


# --- GroupedPooling (GMP / GAP) ---------------------------------------------------------------


@pytest.mark.parametrize("mode, reduce", [("max", np.max), ("mean", np.mean)])
def test_grouped_pooling_numerics_and_round_trip(mode, reduce, tmp_path):
    p = fine_probs()
    out, loaded = keras_round_trip(GroupedPooling(M, mode=mode), p, tmp_path)
    np.testing.assert_allclose(out, numpy_pool(p, reduce), rtol=1e-6)
    layer = loaded.layers[-1]
    assert isinstance(layer, GroupedPooling) and layer.mode == mode
    np.testing.assert_array_equal(layer.membership, M)


def test_grouped_max_is_exact_for_negative_and_tied_values():
    p = np.array([[-3.0, -1.0, -2.0, -1.0, -1.0]], "float32")  # max of a group may be negative (logits)
    np.testing.assert_array_equal(np_(GroupedPooling(M)(p)), [[-2.0, -1.0]])


def gradient(layer, p):
    x = tf.constant(p)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(layer(x) * np.array([1.0, 2.0], "float32"))
    return tape.gradient(y, x)


def test_grouped_max_gradient_goes_to_the_argmax_only():
    p = np.array([[0.1, 0.2, 0.7, 0.3, 0.9]], "float32")
    np.testing.assert_allclose(np_(gradient(GroupedPooling(M), p)), [[0, 0, 1, 0, 2]])
    np.testing.assert_allclose(np_(gradient(GroupedPooling(M, "mean"), p)),
                               [[0.5, 2 / 3, 0.5, 2 / 3, 2 / 3]], rtol=1e-6)


@pytest.mark.parametrize("mode", ["max", "mean"])
def test_stop_gradient_blocks_gradients(mode, tmp_path):
    p = fine_probs(1)
    grad = gradient(GroupedPooling(M, mode, stop_gradient=True), p)
    assert grad is None or not np.any(np_(grad))
    # the forward values are unchanged and the flag survives saving
    np.testing.assert_array_equal(np_(GroupedPooling(M, mode, stop_gradient=True)(p)), np_(GroupedPooling(M, mode)(p)))
    _, loaded = keras_round_trip(GroupedPooling(M, mode, stop_gradient=True), p, tmp_path)
    assert loaded.layers[-1].stop_gradient is True


# --- LinearProjection (LP) --------------------------------------------------------------------


def test_linear_projection_is_a_sigmoid_dense(tmp_path):
    p = fine_probs()
    layer = LinearProjection(2)
    out, loaded = keras_round_trip(layer, p, tmp_path)
    kernel, bias = (np_(w) for w in layer.weights)
    assert kernel.shape == (5, 2)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-(p @ kernel + bias))), rtol=1e-5)
    assert isinstance(loaded.layers[-1], LinearProjection)


# --- TopDownSoftTree (SDT) --------------------------------------------------------------------


def test_top_down_soft_tree_numerics_and_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    coarse = rng.uniform(0, 1, (3, 2)).astype("float32")
    logits = rng.normal(0, 2, (3, 5)).astype("float32")
    expected = coarse[:, [0, 1, 0, 1, 1]] / (1 + np.exp(-logits))
    out = np_(TopDownSoftTree(M)([coarse, logits]))
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert np.all(out <= coarse[:, [0, 1, 0, 1, 1]])  # a leaf never exceeds its parent
    c_in, l_in = keras.Input((2,)), keras.Input((5,))
    model = keras.Model([c_in, l_in], TopDownSoftTree(M, name="sdt")([c_in, l_in]))
    saved, loaded = keras_round_trip(model, [coarse, logits], tmp_path)
    np.testing.assert_allclose(saved, expected, rtol=1e-5)
    assert isinstance(loaded.get_layer("sdt"), TopDownSoftTree)


# --- ResidualAttention (ResAtt, Eq. 1) --------------------------------------------------------


def resatt_numpy(layer, z, p):
    kernel, bias = (np_(w) for w in (layer.kernel, layer.bias))
    logits = (z @ kernel + bias).reshape(len(z), 5, 2)
    if layer.restrict_to_children:
        logits = np.where(M[None] > 0, logits, -np.inf)
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    w = w / w.sum(axis=1, keepdims=True)
    return np.einsum("bfc,bf->bc", w, p), w


def resatt_inputs(batch=3):
    z = np.random.default_rng(2).normal(0, 1, (batch, 6)).astype("float32")
    return z, fine_probs(batch)


@pytest.mark.parametrize("restrict", [False, True])
def test_resatt_eq1_numerics(restrict):
    z, p = resatt_inputs()
    layer = ResidualAttention(M, restrict_to_children=restrict, bias_initializer="random_normal")
    coarse, w = (np_(t) for t in layer([z, p]))
    assert w.shape == (3, 5, 2) and coarse.shape == (3, 2)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)  # softmax over the fine axis
    assert np.all(w >= 0)
    # Eq. 1: P_coarse = Wᵀ · P_fine, for every example
    np.testing.assert_allclose(coarse, np.einsum("bfc,bf->bc", w, p), rtol=1e-5)
    expected_coarse, expected_w = resatt_numpy(layer, z, p)
    np.testing.assert_allclose(w, expected_w, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(coarse, expected_coarse, rtol=1e-4)
    assert np.all(coarse <= 1.0 + 1e-6) and np.all(coarse >= 0)  # stays a probability (§3.2)
    # the map depends on the input (unlike LP)
    assert not np.allclose(w[0], w[1])
    if restrict:
        np.testing.assert_array_equal(w[:, M == 0], 0.0)
        assert np.all(w[:, M == 1] > 0)
        # within its group the coarse output is a convex mix of the children: between min and max
        assert np.all(coarse <= numpy_pool(p, np.max) + 1e-6) and np.all(coarse >= numpy_pool(p, np.min) - 1e-6)
    else:
        assert np.all(w[:, M == 0] > 0)  # no prior: every fine tag may contribute


def test_resatt_gradients_reach_the_fine_input_and_the_embedding():
    z, p = (tf.constant(a) for a in resatt_inputs(2))
    layer = ResidualAttention(M)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([z, p])
        coarse, _ = layer([z, p])
        total = ops.sum(coarse)
    assert np.any(np_(tape.gradient(total, p))) and np.any(np_(tape.gradient(total, z)))
    assert np.any(np_(tape.gradient(total, layer.kernel)))


def test_resatt_round_trip(tmp_path):
    z, p = resatt_inputs()
    z_in, p_in = keras.Input((6,)), keras.Input((5,))
    layer = ResidualAttention(M, restrict_to_children=True, kernel_initializer="he_normal", name="att")
    coarse, w = layer([z_in, p_in])
    model = keras.Model([z_in, p_in], {"coarse": coarse, "w": w})
    expected = model.predict([z, p], verbose=0)
    model.save(tmp_path / "att.keras")
    loaded = keras.models.load_model(tmp_path / "att.keras")
    got = loaded.predict([z, p], verbose=0)
    for key in ("coarse", "w"):
        np.testing.assert_array_equal(got[key], expected[key])
    restored = loaded.get_layer("att")
    assert isinstance(restored, ResidualAttention) and restored.restrict_to_children
    assert restored.kernel.shape == (6, 10)
    assert isinstance(restored.kernel_initializer, keras.initializers.HeNormal)


def test_resatt_needs_a_known_embedding_width():
    with pytest.raises(KaudioError, match="embedding width must be known"):
        ResidualAttention(M).build([(None, None), (None, 5)])
