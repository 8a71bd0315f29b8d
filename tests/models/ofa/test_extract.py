"""Extraction of a sub-network as a plain panns_cnn model: its outputs equal the supernet's with the same
configuration, its parameter counts equal the closed form (CNN10 figures included), it loads without the
supernet, and a plain model of the full sizes initialises a supernet."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.errors import KaudioError
from kaudio.models.ofa import (active_config, count_params, extract_subnet, init_from_plain, ofa_space, set_subnet,
                               subnet_spec)
from kaudio.models.panns import PannsCNN
from tests.models.ofa import randomize_statistics, tiny_ofa_spec, waveforms


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.fixture(scope="module")
def supernet():
    keras.utils.set_random_seed(0)
    model = kaudio.build(tiny_ofa_spec())
    randomize_statistics(model)
    return model


def configs(space, n, seed=0):
    rng = np.random.default_rng(seed)
    return [space.largest(), space.smallest()] + [space.sample(rng) for _ in range(n)]


def test_extracted_outputs_equal_the_supernets_sub_network(supernet):
    x = waveforms(3)
    space = ofa_space(supernet)
    for config in configs(space, 4):
        set_subnet(supernet, config)
        expected = supernet.predict(x, verbose=0)
        plain = extract_subnet(supernet, config)
        assert not any("Elastic" in type(layer).__name__ for layer in plain.backbone.layers)
        assert np.abs(plain.predict(x, verbose=0) - expected).max() <= 1e-5, config
    set_subnet(supernet, space.largest())


def test_analytic_counts_equal_the_extracted_models(supernet):
    space = ofa_space(supernet)
    for config in configs(space, 6, seed=1):
        plain = extract_subnet(supernet, config)
        counts = count_params(supernet, config)
        assert count(plain.trainable_weights) == counts.trainable
        assert plain.count_params() == counts.total


def test_extracted_spec_and_weights(supernet):
    config = {"widths": [0.4, 0.6, 1.0], "depths": [2, 2, 1], "fc_width": 0.4}
    spec = subnet_spec(supernet, config)
    assert spec["name"] == "tiny_ofa_subnet" and "widths 0.4/0.6/1 depths 2/2/1 fc 0.4" in spec["description"]
    assert spec["backbone"] == {"type": "panns_cnn", "filters": [8, 6, 9, 32], "convs_per_block": [2, 2, 2, 1],
                                "embedding_size": 12, "pool_last_block": True, "input_norm": "per_mel_bin",
                                "dropout": 0.2, "embedding_dropout": 0.5, "bn_epsilon": 1e-5, "bn_momentum": 0.9}
    before = active_config(supernet)
    plain = extract_subnet(supernet, config, name="small")
    assert plain.name == "small" and active_config(supernet) == before
    source = supernet.backbone.get_layer("conv_block3_conv1_conv").kernel.numpy()
    np.testing.assert_array_equal(plain.backbone.get_layer("conv_block3_conv1_conv").kernel.numpy(), source[:, :, :6, :9])
    bn = supernet.backbone.get_layer("conv_block3_conv2_bn")
    np.testing.assert_array_equal(plain.backbone.get_layer("conv_block3_conv2_bn").moving_variance.numpy(),
                                  bn.moving_variance.numpy()[:9])
    classifier = supernet.head.get_layer("classifier").kernel.numpy()
    np.testing.assert_array_equal(plain.head.get_layer("classifier").kernel.numpy(), classifier[:12])


def test_extracted_model_loads_as_a_plain_model(supernet, tmp_path):
    config = ofa_space(supernet).smallest()
    plain = extract_subnet(supernet, config)
    plain.save(tmp_path / "small.keras")
    loaded = keras.models.load_model(tmp_path / "small.keras")
    assert isinstance(loaded.backbone, PannsCNN) and loaded.spec.backbone["convs_per_block"] == [2, 2, 2, 1]
    x = waveforms(2)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), plain.predict(x, verbose=0))
    assert kaudio.build(loaded.spec).count_params() == plain.count_params()  # kaudio build of the recorded spec


def test_headless_supernet_and_refused_configurations(supernet):
    model = kaudio.build(tiny_ofa_spec(head=False))
    plain = extract_subnet(model, ofa_space(model).smallest())
    assert plain.head is None and plain.output.shape == (None, 12)
    with pytest.raises(KaudioError, match="is not in this supernet's space: fc_width"):
        extract_subnet(supernet, {"widths": [1.0] * 3, "depths": [2, 2, 2], "fc_width": 0.3})
    with pytest.raises(KaudioError, match="is not a once-for-all supernet .*PannsCNN"):
        extract_subnet(plain, {"widths": [1.0] * 3, "depths": [2, 2, 2], "fc_width": 1.0})


def test_a_plain_model_of_the_full_sizes_initialises_a_supernet(supernet):
    full = extract_subnet(supernet, ofa_space(supernet).largest())
    fresh = kaudio.build(tiny_ofa_spec())
    before = full.get_weights()
    init_from_plain(fresh, full)
    assert all(np.array_equal(a, b) for a, b in zip(before, full.get_weights()))  # the source is only read
    x = waveforms(2)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), full.predict(x, verbose=0), atol=1e-6)
    smaller = extract_subnet(supernet, ofa_space(supernet).smallest())
    with pytest.raises(KaudioError, match=r"29 weights do not fit \(nothing was copied\): conv_block2_conv1_conv/"
                                           r"kernel: source \(3, 3, 8, 6\), target \(3, 3, 8, 16\);.* and 26 more"):
        init_from_plain(fresh, smaller)


@pytest.mark.parametrize("overrides, largest, smallest", [
    ([], 5_219_279, 569_210),
    (["backbone.input_norm=single"], 5_219_153, 569_084),
    (["backbone.input_norm=single", "backbone.elastic_fc=false"], 5_219_153, 794_540),
])
def test_cnn10_sub_networks_have_the_expected_parameters(overrides, largest, smallest):
    model = kaudio.build(kaudio.spec.load_spec("ofa_cnn10", overrides))
    space = ofa_space(model)
    for config, expected in ((space.largest(), largest), (space.smallest(), smallest)):
        plain = extract_subnet(model, config)
        assert count(plain.trainable_weights) == expected == count_params(model, config).trainable
        assert plain.count_params() == count_params(model, config).total
    if not overrides:  # the full sub-network is PANNs CNN10: the released checkpoint's parameters
        assert count(kaudio.build("panns_cnn10").trainable_weights) == largest
