"""The ofa_cnn backbone: PANNs layout with elastic layers, spec checks with YAML paths, the sub-network setters
(eager and inside a tf.function), serialisation of the architecture and of the active configuration."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kaudio
from kaudio.errors import KaudioError, SpecError
from kaudio.layers.elastic import ElasticBatchNormalization, ElasticConv2D, ElasticDense, ElasticDepth
from kaudio.models.ofa import OfaCNN, active_config, ofa_space, sample_indices, set_subnet, set_subnet_indices
from tests.helpers import keras_round_trip
from tests.models.ofa import TINY_FILTERS, randomize_statistics, tiny_ofa_spec, waveforms


@pytest.fixture(scope="module")
def supernet():
    keras.utils.set_random_seed(0)
    model = kaudio.build(tiny_ofa_spec())
    randomize_statistics(model)
    return model


def test_layout_follows_panns_with_elastic_dynamic_blocks(supernet):
    backbone = supernet.backbone
    assert isinstance(backbone, OfaCNN) and backbone.get_layer("bn0").gamma.shape == (16,)
    assert type(backbone.get_layer("conv_block1_conv1_conv")) is keras.layers.Conv2D  # static
    for block in (2, 3, 4):
        assert isinstance(backbone.get_layer(f"conv_block{block}_conv2_conv"), ElasticConv2D)
        assert isinstance(backbone.get_layer(f"conv_block{block}_conv2_bn"), ElasticBatchNormalization)
        assert isinstance(backbone.get_layer(f"conv_block{block}_pool"), keras.layers.AveragePooling2D)
    assert [layer.name for layer in backbone.layers if isinstance(layer, ElasticDepth)] == ["conv_block4_depth"]
    assert isinstance(backbone.get_layer("fc1"), ElasticDense) and backbone.get_layer("fc1").units == 32
    assert not backbone.get_layer("conv_block2_conv1_conv").use_bias
    assert supernet.output.shape == (None, 5)


def test_spec_defaults_are_written_out():
    spec = kaudio.spec.load_spec(tiny_ofa_spec(width_ratios=[1.0, 0.5]))
    assert spec.backbone["elastic_depth_blocks"] == [4] and spec.backbone["width_ratios"] == [0.5, 1.0]
    assert kaudio.spec.load_spec(tiny_ofa_spec(elastic_depth_blocks=[]))  # elastic width only


@pytest.mark.parametrize("backbone, needle", [
    ({"width_ratios": [0.4, 1.2]}, "backbone.width_ratios[1]: got 1.2, must be <= 1.0"),
    ({"elastic_depth_blocks": [1]}, "backbone.elastic_depth_blocks[0]: got 1; elastic depth needs a dynamic block: "
                                    "2, 3, 4"),
    ({"static_blocks": 4}, "backbone.static_blocks: got 4; with 4 blocks (filters) give 0 to 3"),
    ({"width_ratios": [0.05, 1.0]}, "backbone.width_ratios: ratios 0.05, 1 give conv_block2 (full width 16) the "
                                    "widths [0, 16]"),
    ({"filters": [8, 16, 16, 32, 32, 32, 32, 32]}, "backbone.filters: 8 blocks pool the time axis 8 times"),
    ({"elastc_fc": False}, "backbone.elastc_fc: unknown key; did you mean 'elastic_fc'?"),
])
def test_spec_problems_have_yaml_paths(backbone, needle):
    with pytest.raises(SpecError) as info:
        kaudio.spec.load_spec(tiny_ofa_spec(**backbone))
    assert needle in str(info.value)


def test_front_end_must_be_time_freq():
    spec = tiny_ofa_spec()
    spec["frontend"]["layout"] = "freq_time"
    with pytest.raises(SpecError, match="backbone: ofa_cnn reads .* set frontend.layout: time_freq"):
        kaudio.spec.load_spec(spec)


def test_set_subnet_eagerly_and_read_it_back(supernet):
    space = ofa_space(supernet)
    assert space.filters == tuple(TINY_FILTERS) and space.n_mels == 16
    config = {"widths": [0.6, 1.0, 0.4], "depths": [2, 2, 1], "fc_width": 0.8}
    set_subnet(supernet, config)
    assert active_config(supernet) == config
    backbone = supernet.backbone
    assert int(backbone.get_layer("conv_block2_conv2_bn").active_width.numpy()) == 9
    assert int(backbone.get_layer("conv_block4_conv1_conv").active_width.numpy()) == 12
    assert int(backbone.get_layer("conv_block4_depth").active_depth.numpy()) == 1
    embedding = np.asarray(backbone(supernet.frontend(waveforms())))
    assert not embedding[:, 25:].any() and embedding[:, :25].any()  # fc1: floor(0.8 * 32) = 25 units
    with pytest.raises(KaudioError, match=r"depths\[0\] \(conv_block2\): depth 1: this block has a fixed depth"):
        set_subnet(supernet, {"widths": [1.0] * 3, "depths": [1, 2, 2], "fc_width": 1.0})
    assert active_config(supernet) == config  # a refused configuration changes nothing
    set_subnet(supernet, space.largest())


def test_graph_setter_traces_once_and_matches_the_eager_setter(supernet):
    space = ofa_space(supernet)
    x = waveforms(2)
    seed = keras.random.SeedGenerator(3)
    traces = []

    @tf.function
    def sampled_forward():
        traces.append(1)
        indices = sample_indices(space, seed)
        set_subnet_indices(supernet, indices)
        return indices, supernet(x, training=False)

    for _ in range(4):
        indices, outputs = sampled_forward()
        config = space.from_indices(indices.numpy())
        assert active_config(supernet) == config
        set_subnet(supernet, config)
        np.testing.assert_allclose(np.asarray(supernet(x, training=False)), outputs.numpy(), atol=1e-6)
    assert len(traces) == 1
    set_subnet(supernet, space.largest())


def test_sampled_indices_stay_in_range():
    from kaudio.models.ofa.space import OfaSpace

    space = OfaSpace([64, 128, 256, 512])
    drawn = np.stack([sample_indices(space, seed=keras.random.SeedGenerator(i)).numpy() for i in range(200)])
    assert drawn.dtype == np.int32 and (drawn >= 0).all() and (drawn < np.array(space.choice_sizes)).all()
    assert all(len(set(drawn[:, k])) == n for k, n in enumerate(space.choice_sizes))


def test_backbone_config_and_round_trip_keep_the_active_configuration(tmp_path):
    model = kaudio.build(tiny_ofa_spec(static_blocks=2, width_ratios=[0.5, 1.0], elastic_fc=False,
                                       input_norm="single"))
    config = model.backbone.get_config()
    assert config["static_blocks"] == 2 and config["elastic_fc"] is False and config["input_norm"] == "single"
    assert config["elastic_depth_blocks"] == [4] and config["width_ratios"] == [0.5, 1.0]
    assert type(model.backbone.get_layer("fc1")) is keras.layers.Dense
    chosen = {"widths": [1.0, 0.5], "depths": [2, 1], "fc_width": None}
    set_subnet(model, chosen)
    _, loaded = keras_round_trip(model, waveforms(2), tmp_path)
    assert active_config(loaded) == chosen and isinstance(loaded.backbone, OfaCNN)


def test_cnn10_supernet_spec():
    spec = kaudio.spec.load_spec("ofa_cnn10")
    assert spec.shapes["frontend"] == (1001, 64, 1) and spec.output_shape == (527,)
    assert spec.backbone["elastic_depth_blocks"] == [4] and spec.backbone["input_norm"] == "per_mel_bin"
