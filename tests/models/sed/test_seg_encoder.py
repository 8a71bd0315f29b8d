"""seg_encoder: 2APAE's shared encoder (Deshmukh et al. Table I; soham97/MTL_Weakly_labelled_audio_data
models.py Block / SEDencoder) — blocks of 2 × (3×3 conv without bias → BN → ReLU) → AvgPool2d(3, 1, 1)
that counts the zero padding, never down-sampling time or mel."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.models.sed import SegmentationEncoder, segmentation_block, zero_padded_average_pool
from tests.helpers import keras_round_trip

EPS = 1e-5


def sed_spec(**sections):
    spec = {"name": "s", "description": "d", "input": {"type": "audio", "sample_rate": 32000, "duration": 10.0},
            "frontend": {"type": "mel", "preset": "2apae"}, "backbone": {"type": "seg_encoder"}}
    spec.update(sections)
    return spec


def avg_pool_count_include_pad(x):
    """PyTorch's AvgPool2d(3, stride=1, padding=1) with count_include_pad=True, on (N, H, W, C)."""
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    h, w = x.shape[1:3]
    return sum(padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0


def conv3x3(x, kernel):
    """'same' 3×3 convolution without bias; kernel (3, 3, C_in, C_out) as Keras stores it."""
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    h, w = x.shape[1:3]
    return sum(np.einsum("nhwc,cd->nhwd", padded[:, i:i + h, j:j + w], kernel[i, j]) for i in range(3) for j in range(3))


def test_average_pool_divides_by_nine_at_the_borders_too():
    ones = np.ones((1, 5, 4, 1), "float32")
    inputs = keras.Input((5, 4, 1))
    model = keras.Model(inputs, zero_padded_average_pool(inputs, 3, name="pool"))
    out = model.predict(ones, verbose=0)[0, ..., 0]
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out[0, 0], 4 / 9) and np.testing.assert_allclose(out[0, 1], 6 / 9)
    np.testing.assert_allclose(out[2, 1], 1.0)
    np.testing.assert_allclose(out, avg_pool_count_include_pad(ones)[0, ..., 0], rtol=1e-6)
    same = keras.layers.AveragePooling2D(3, strides=1, padding="same")(ones)  # Keras's "same" does not count padding
    np.testing.assert_allclose(keras.ops.convert_to_numpy(same), 1.0)


def test_block_matches_a_numpy_forward_pass():
    rng = np.random.default_rng(0)
    inputs = keras.Input((7, 5, 2))
    model = keras.Model(inputs, segmentation_block(inputs, 3, name="block1"))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([1 + rng.uniform(-0.2, 0.2, 3), rng.normal(0, 0.1, 3), rng.normal(0, 0.1, 3),
                               rng.uniform(0.5, 2, 3)])
    x = rng.standard_normal((2, 7, 5, 2)).astype("float32")
    h = x.astype(np.float64)
    for i in (1, 2):
        h = conv3x3(h, model.get_layer(f"block1_conv{i}_conv").kernel.numpy())
        gamma, beta, mean, var = model.get_layer(f"block1_conv{i}_bn").get_weights()
        h = np.maximum((h - mean) / np.sqrt(var + EPS) * gamma + beta, 0)
    np.testing.assert_allclose(model.predict(x, verbose=0), avg_pool_count_include_pad(h), rtol=1e-4, atol=1e-5)
    assert [layer.name for layer in model.layers[-2:]] == ["block1_pool_pad", "block1_pool"]


def test_encoder_keeps_time_and_mel_and_follows_the_reference(tmp_path):
    encoder = SegmentationEncoder(feature_shape=(311, 64, 1), name="backbone")
    assert tuple(encoder.output.shape[1:]) == (311, 64, 256)
    convs = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 32, 64, 64, 128, 128, 256, 256]
    assert all(not c.use_bias and isinstance(c.kernel_initializer, keras.initializers.HeUniform) for c in convs)
    for conv in convs:  # He-uniform: |w| <= sqrt(6 / fan_in)
        fan_in = 9 * conv.kernel.shape[2]
        assert np.abs(conv.kernel.numpy()).max() <= np.sqrt(6 / fan_in)
    bns = [layer for layer in encoder.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert all(bn.epsilon == 1e-5 and bn.momentum == 0.9 for bn in bns)
    pools = [layer for layer in encoder.layers if isinstance(layer, keras.layers.AveragePooling2D)]
    assert len(pools) == 4 and all(p.strides == (1, 1) and p.padding == "valid" for p in pools)
    trainable = sum(int(np.prod(w.shape)) for w in encoder.trainable_weights)
    assert trainable == 1_170_720 + 1_920 and encoder.count_params() == trainable + 1_920

    small = SegmentationEncoder(feature_shape=(None, 6, 1), filters=[2, 3], name="backbone")
    x = np.random.default_rng(0).standard_normal((2, 9, 6, 1)).astype("float32")
    out, loaded = keras_round_trip(small, x, tmp_path)
    assert out.shape == (2, 9, 6, 3) and type(loaded) is SegmentationEncoder
    assert loaded.get_config() == small.get_config() and small.get_config()["filters"] == [2, 3]
    assert small.predict(x[:, :4], verbose=0).shape == (2, 4, 6, 3)  # any number of frames


def test_spec_shapes_and_problems():
    spec = kaudio.load_spec(sed_spec())
    assert spec.shapes["backbone"] == (311, 64, 256)
    assert spec.backbone == {"type": "seg_encoder", "filters": [32, 64, 128, 256], "bn_epsilon": 1e-5, "bn_momentum": 0.9}
    with pytest.raises(kaudio.SpecError, match="seg_encoder reads \\(time, mel, 1\\) spectrograms: set frontend.layout"):
        kaudio.load_spec(sed_spec(frontend={"type": "mel", "preset": "2apae", "layout": "freq_time"}))
    assert SegmentationEncoder.spec_output_shape({"filters": [4]}, (16000, 1))[1][0][1].startswith(
        "seg_encoder needs a (time, mel, channels) spectrogram")
