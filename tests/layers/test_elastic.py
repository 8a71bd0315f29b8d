"""Elastic-width / elastic-depth layers: inactive channels exactly 0, the active part equal to the sliced plain
layer, BN statistics of inactive channels untouched, one trace for every configuration, .keras round trips."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kaudio.layers.elastic import ElasticBatchNormalization, ElasticConv2D, ElasticDense, ElasticDepth
from tests.helpers import keras_round_trip

RNG = np.random.default_rng(0)


def features(*shape):
    return RNG.standard_normal(shape).astype("float32")


def test_conv_output_is_the_sliced_conv_and_zero_beyond_the_active_width():
    x = features(2, 6, 5, 4)
    conv = ElasticConv2D(6, 3, padding="same", use_bias=False)
    full = np.asarray(conv(x))
    conv.set_active_width(4)
    x_masked = x.copy()
    x_masked[..., 3:] = 0.0  # the previous layer keeps 3 channels
    out = np.asarray(conv(x_masked))
    plain = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)
    plain.build(x[..., :3].shape)
    plain.kernel.assign(conv.kernel.numpy()[:, :, :3, :4])
    np.testing.assert_allclose(out[..., :4], np.asarray(plain(x[..., :3])), atol=1e-6)
    assert not out[..., 4:].any() and full[..., 4:].any()


def test_dense_active_units_equal_the_sliced_dense_and_are_masked_after_the_activation():
    x = features(4, 3)
    dense = ElasticDense(5, activation="relu", bias_initializer="ones")  # relu(x·0 + 1) = 1 unless masked
    dense.build((None, 3))
    dense.set_active_width(2)
    out = np.asarray(dense(x))
    expected = np.maximum(x @ dense.kernel.numpy()[:, :2] + dense.bias.numpy()[:2], 0)
    np.testing.assert_allclose(out[:, :2], expected, atol=1e-6)
    assert not out[:, 2:].any()


@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_active_channels_match_keras_and_inactive_are_zero(training):
    x = features(8, 3, 3, 5)
    x[..., 3:] = 0.0  # a masked input
    elastic = ElasticBatchNormalization(momentum=0.5, beta_initializer="ones")
    plain = keras.layers.BatchNormalization(momentum=0.5, beta_initializer="ones")
    elastic.build(x.shape)
    plain.build(x[..., :3].shape)
    elastic.moving_mean.assign(np.full(5, 0.25, "float32"))
    plain.moving_mean.assign(np.full(3, 0.25, "float32"))
    elastic.set_active_width(3)
    out = np.asarray(elastic(x, training=training))
    np.testing.assert_allclose(out[..., :3], np.asarray(plain(x[..., :3], training=training)), atol=1e-5)
    assert not out[..., 3:].any()  # BN of a zero channel is beta = 1: masked after normalising
    np.testing.assert_allclose(elastic.moving_mean.numpy()[:3], plain.moving_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(elastic.moving_variance.numpy()[:3], plain.moving_variance.numpy(), atol=1e-6)
    # the inactive channels' statistics are not pulled towards the zeros they did not compute
    np.testing.assert_array_equal(elastic.moving_mean.numpy()[3:], [0.25, 0.25])
    np.testing.assert_array_equal(elastic.moving_variance.numpy()[3:], [1.0, 1.0])


def test_batch_norm_only_on_the_channel_axis():
    with pytest.raises(ValueError, match="channel"):
        ElasticBatchNormalization(axis=1).build((None, 4, 4, 2))


def test_depth_selects_the_output_after_the_active_number_of_convs():
    gate = ElasticDepth()
    a, b = features(2, 3, 3, 2), features(2, 3, 3, 2)
    np.testing.assert_array_equal(np.asarray(gate([a, b])), b)
    gate.set_active_depth(1)
    np.testing.assert_array_equal(np.asarray(gate([a, b])), a)
    with pytest.raises(ValueError, match="takes 2 inputs"):
        ElasticDepth()([a])
    with pytest.raises(ValueError, match="max_depth"):
        ElasticDepth(0)


def _tiny_elastic_model():
    inputs = keras.Input((6, 5, 2))
    conv1, bn1 = ElasticConv2D(6, 3, padding="same", use_bias=False, name="c1"), ElasticBatchNormalization(name="b1")
    conv2, bn2 = ElasticConv2D(6, 3, padding="same", use_bias=False, name="c2"), ElasticBatchNormalization(name="b2")
    x1 = keras.layers.ReLU()(bn1(conv1(inputs)))
    x2 = keras.layers.ReLU()(bn2(conv2(x1)))
    gate = ElasticDepth(name="depth")
    pooled = keras.layers.GlobalAveragePooling2D()(gate([x1, x2]))
    fc = ElasticDense(4, activation="relu", name="fc")
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(fc(pooled)))
    return model, (conv1, bn1, conv2, bn2), gate, fc


def test_configuration_set_inside_a_tf_function_traces_once_and_zeroes_inactive_gradients():
    model, width_layers, gate, fc = _tiny_elastic_model()
    x = features(4, 6, 5, 2)
    traces = []

    @tf.function
    def step(width, depth, units):
        traces.append(1)
        for layer in width_layers:
            layer.set_active_width(width)
        gate.set_active_depth(depth)
        fc.set_active_width(units)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True) ** 2)
        return tape.gradient(loss, model.trainable_weights)

    for width, depth, units in ((6, 2, 4), (2, 1, 1), (4, 2, 3)):
        setting = [tf.constant(v) for v in (width, depth, units)]  # tensors: python ints would retrace
        grads = {w.path: g.numpy() for w, g in zip(model.trainable_weights, step(*setting))}
        assert not grads["c1/kernel"][..., width:].any() and grads["c1/kernel"][..., :width].any()
        assert not grads["b1/gamma"][width:].any()
        assert not grads["fc/kernel"][width:, :].any() and not grads["fc/kernel"][:, units:].any()
        assert not grads["out/kernel"][units:].any()
        assert grads["c2/kernel"].any() == (depth == 2)  # the skipped conv gets no gradient
    assert len(traces) == 1


@pytest.mark.parametrize("make", [
    lambda: ElasticConv2D(4, 3, padding="same", use_bias=True),
    lambda: ElasticBatchNormalization(),
])
def test_width_layers_round_trip_with_their_active_width(make, tmp_path):
    layer = make()
    x = features(2, 4, 4, 4)
    layer.build(x.shape)
    layer.set_active_width(3)
    out, loaded = keras_round_trip(layer, x, tmp_path)
    assert not out[..., 3:].any() and out[..., :3].any()
    restored = next(lyr for lyr in loaded.layers if type(lyr) is type(layer))
    assert int(restored.active_width.numpy()) == 3


def test_dense_and_depth_round_trip(tmp_path):
    model, _, gate, fc = _tiny_elastic_model()
    gate.set_active_depth(1)
    fc.set_active_width(2)
    _, loaded = keras_round_trip(model, features(2, 6, 5, 2), tmp_path)
    assert int(loaded.get_layer("depth").active_depth.numpy()) == 1
    assert int(loaded.get_layer("fc").active_width.numpy()) == 2
    assert loaded.get_layer("depth").max_depth == 2
