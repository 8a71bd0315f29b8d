"""PANNs CNN14 / CNN10 backbones: the published networks' parameter counts and stage shapes,
PANNs init and BN settings, small variants, input-size checks, serialisation."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.card import model_card
from kaudio.errors import SpecError
from kaudio.models.panns import PRESETS, PannsCNN, TimeFreqPooling
from tests.helpers import keras_round_trip
from tests.models.panns import tiny_panns_spec


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.parametrize("name, trainable, stats, stages", [
    ("panns_cnn14", 80_753_615, 16_256, {1: (500, 32, 64), 2: (250, 16, 128), 3: (125, 8, 256), 4: (62, 4, 512),
                                         5: (31, 2, 1024), 6: (31, 2, 2048)}),
    ("panns_cnn10", 5_219_279, 3_968, {1: (500, 32, 64), 2: (250, 16, 128), 3: (125, 8, 256), 4: (62, 4, 512)}),
])
def test_bundled_taggers_match_panns(name, trainable, stats, stages):
    model = kaudio.build(name)
    assert count(model.trainable_weights) == trainable and count(model.non_trainable_weights) == stats
    assert model.count_params() == trainable + stats
    assert tuple(model.frontend.compute_output_shape((None, 320000, 1))) == (None, 1001, 64, 1)
    assert model.output.shape == (None, 527)
    backbone = model.backbone
    for i, shape in stages.items():
        assert tuple(backbone.get_layer(f"conv_block{i}_dropout").output.shape[1:]) == shape
    assert backbone.output.shape == (None, PRESETS[name.split("_")[1]]["embedding_size"])
    card = model_card(model)
    assert card.trainable_params == trainable and card.multiply_adds > 1e10 and card.frontend_multiply_adds > 0


def test_panns_layer_settings():
    backbone = PannsCNN(feature_shape=(40, 16, 1), filters=[4, 8], embedding_size=6)
    bn0 = backbone.get_layer("bn0")
    assert bn0.axis == 2 and bn0.gamma.shape == (16,) and bn0.epsilon == 1e-5 and bn0.momentum == 0.9
    conv = backbone.get_layer("conv_block1_conv1_conv")
    assert not conv.use_bias and isinstance(conv.kernel_initializer, keras.initializers.GlorotUniform)
    assert isinstance(backbone.get_layer("conv_block1_pool"), keras.layers.AveragePooling2D)
    assert backbone.get_layer("conv_block1_dropout").rate == 0.2
    assert backbone.get_layer("embedding_dropout").rate == 0.5
    fc1 = backbone.get_layer("fc1")
    assert fc1.activation is keras.activations.relu and not fc1.bias.numpy().any()
    # Each block: conv → BN → ReLU twice, then pool, then dropout, as in PANNs.
    names = [layer.name for layer in backbone.layers if layer.name.startswith("conv_block1")]
    assert names == ["conv_block1_conv1_conv", "conv_block1_conv1_bn", "conv_block1_conv1_relu", "conv_block1_conv2_conv",
                     "conv_block1_conv2_bn", "conv_block1_conv2_relu", "conv_block1_pool", "conv_block1_dropout"]


def test_dropout_only_in_training_and_output_is_pre_dropout_fc1():
    backbone = PannsCNN(feature_shape=(32, 16, 1), filters=[4, 8], embedding_size=32)
    x = np.random.default_rng(0).standard_normal((2, 32, 16, 1)).astype("float32")
    a, b = np.asarray(backbone(x)), np.asarray(backbone(x))
    np.testing.assert_array_equal(a, b)
    assert (a >= 0).all()  # ReLU of fc1, no dropout after it
    assert not np.allclose(np.asarray(backbone(x, training=True)), a)


def test_small_example_cnn_builds_and_runs():
    spec = tiny_panns_spec(filters=(16, 32, 64), embedding_size=64, samples=16000, head=False)
    spec["backbone"] = {"type": "panns_cnn", "filters": [16, 32, 64], "embedding_size": 64}
    model = kaudio.build(spec)
    assert model.output.shape == (None, 64)
    assert tuple(model.backbone.get_layer("conv_block3_pool").output.shape[1:]) == (12, 8, 64)
    out = model.predict(np.random.default_rng(0).standard_normal((2, 16000, 1)).astype("float32") * 0.1, verbose=0)
    assert out.shape == (2, 64) and np.isfinite(out).all()


def test_variable_length_input():
    backbone = PannsCNN(feature_shape=(None, 64, 1), filters=[4, 8], embedding_size=8)
    for frames in (8, 37):
        assert np.asarray(backbone(np.zeros((1, frames, 64, 1), "float32"))).shape == (1, 8)


def test_too_short_input_is_a_spec_problem():
    spec = tiny_panns_spec(filters=(4, 8, 8, 8, 8, 8), samples=1600, head=False)  # 11 frames, 6 pools
    with pytest.raises(SpecError) as info:
        kaudio.build(spec)
    text = str(info.value)
    assert "backbone.filters: 6 blocks pool the time axis 6 times (÷64) but the input has only 11 time steps" in text
    assert "mel axis" not in text
    spec["backbone"]["pool_last_block"] = False
    spec["backbone"]["filters"] = [4, 8, 8, 8, 8]
    with pytest.raises(SpecError, match="5 blocks pool the time axis 4 times"):
        kaudio.build(spec)
    with pytest.raises(ValueError, match="pool the mel axis 3 times .* only 4 mel steps"):
        PannsCNN(feature_shape=(100, 4, 1), filters=[4, 4, 4])


def test_front_end_layout_must_be_time_freq():
    spec = tiny_panns_spec(head=False)
    spec["frontend"]["layout"] = "freq_time"
    with pytest.raises(SpecError, match="backbone: panns_cnn reads .* set frontend.layout: time_freq"):
        kaudio.build(spec)


def test_time_freq_pooling_is_freq_mean_then_time_max_plus_mean(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 5, 3, 4)).astype("float32")
    freq_mean = x.mean(axis=2)
    expected = freq_mean.max(axis=1) + freq_mean.mean(axis=1)
    out, _ = keras_round_trip(TimeFreqPooling(), x, tmp_path)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_backbone_config_and_keras_round_trip(tmp_path):
    backbone = PannsCNN(feature_shape=(24, 16, 1), filters=[4, 8], embedding_size=8, pool_last_block=False,
                        dropout=0.1, embedding_dropout=0.3, bn_epsilon=1e-3, bn_momentum=0.99, name="bb")
    config = backbone.get_config()
    assert config["filters"] == [4, 8] and config["pool_last_block"] is False and config["bn_epsilon"] == 1e-3
    x = np.random.default_rng(0).standard_normal((2, 24, 16, 1)).astype("float32")
    _, loaded = keras_round_trip(backbone, x, tmp_path)
    assert type(loaded) is PannsCNN and loaded.get_config() == config
    assert loaded.get_layer("conv_block2_dropout").output.shape[1:] == (12, 8, 8)


def test_tiny_tagger_model_round_trips(tmp_path):
    model = kaudio.build(tiny_panns_spec())
    x = np.random.default_rng(0).standard_normal((2, 8000, 1)).astype("float32") * 0.1
    out, loaded = keras_round_trip(model, x, tmp_path)
    assert out.shape == (2, 5) and ((out > 0) & (out < 1)).all() and loaded.spec == model.spec


def test_single_input_norm_and_convs_per_block():
    backbone = PannsCNN(feature_shape=(32, 16, 1), filters=[4, 8], embedding_size=6, input_norm="single",
                        convs_per_block=[2, 1])
    assert backbone.get_layer("bn0").gamma.shape == (1,) and backbone.get_layer("bn0").axis in (-1, [3], 3)
    names = [layer.name for layer in backbone.layers if layer.name.startswith("conv_block2_conv")]
    assert names == ["conv_block2_conv1_conv", "conv_block2_conv1_bn", "conv_block2_conv1_relu"]
    config = backbone.get_config()
    assert config["input_norm"] == "single" and config["convs_per_block"] == [2, 1]
    assert PannsCNN.from_config(config).count_params() == backbone.count_params()
    # bn0: 2 instead of 2 x 16; block 2 keeps one conv: 9*4*8 + 2*8
    per_bin = PannsCNN(feature_shape=(32, 16, 1), filters=[4, 8], embedding_size=6)
    assert count(per_bin.trainable_weights) - count(backbone.trainable_weights) == (32 - 2) + (9 * 8 * 8 + 2 * 8)


def test_convs_per_block_needs_one_number_per_block():
    spec = tiny_panns_spec(head=False, convs_per_block=[2, 2, 1])
    with pytest.raises(SpecError, match=r"backbone.convs_per_block: got 3 numbers for 2 blocks"):
        kaudio.build(spec)
    spec = tiny_panns_spec(head=False, input_norm="per_mel")
    with pytest.raises(SpecError, match="backbone.input_norm: got 'per_mel', expected one of 'per_mel_bin', 'single'"):
        kaudio.build(spec)
