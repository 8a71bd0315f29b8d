"""OfaSpace: the choices, configurations, validation messages, index encoding, sampling and the closed-form
parameter counts (CNN10 figures for both bn0 readings)."""
import collections
import json

import numpy as np
import pytest

from kaudio.errors import KaudioError
from kaudio.models.ofa.space import OfaSpace, load_config, scaled_width, space_problems

CNN10 = [64, 128, 256, 512]


@pytest.fixture(scope="module")
def space():
    return OfaSpace(CNN10)


def test_default_space_is_the_papers_ew_ed_2_2_x(space):
    assert space.dynamic_blocks == (2, 3, 4) and space.elastic_depth_blocks == (4,)
    assert space.choice_sizes == (4, 4, 4, 2, 4) and space.size == 512
    assert [c.key for c in space.choices] == ["widths[0]", "widths[1]", "widths[2]", "depths[2]", "fc_width"]
    assert space.block_widths(2) == (51, 76, 102, 128) and space.block_widths(4) == (204, 307, 409, 512)
    assert space.fc_widths == (204, 307, 409, 512)
    assert space.largest() == {"widths": [1.0] * 3, "depths": [2, 2, 2], "fc_width": 1.0}
    assert space.smallest() == {"widths": [0.4] * 3, "depths": [2, 2, 1], "fc_width": 0.4}


@pytest.mark.parametrize("input_norm, elastic_fc, largest, smallest", [
    ("per_mel_bin", True, 5_219_279, 569_210),  # PANNs CNN10 as released: bn0 has 64 gamma/beta pairs
    ("single", True, 5_219_153, 569_084),  # bn0 counted as one gamma/beta pair
    ("single", False, 5_219_153, 794_540),  # fc1 fixed at 512
])
def test_cnn10_parameter_counts(input_norm, elastic_fc, largest, smallest):
    space = OfaSpace(CNN10, input_norm=input_norm, elastic_fc=elastic_fc)
    assert space.count_params(space.largest(), 527).trainable == largest
    assert space.count_params(space.smallest(), 527).trainable == smallest


def test_keras_count_adds_the_bn_moving_statistics(space):
    counts = space.count_params(space.largest(), 527)
    assert counts.non_trainable == 3_968 and counts.total == 5_223_247  # PANNs CNN10's Keras count_params
    backbone_only = space.count_params(space.largest())
    assert counts.trainable - backbone_only.trainable == 512 * 527 + 527


def test_counts_grow_with_every_choice_so_the_ends_bound_the_range(space):
    counts = [space.count_params(c, 527).trainable for c in space.configs()]
    assert len(counts) == space.size
    assert min(counts) == space.count_params(space.smallest(), 527).trainable
    assert max(counts) == space.count_params(space.largest(), 527).trainable


def test_indices_round_trip_for_every_configuration(space):
    seen = set()
    for config in space.configs():
        indices = space.to_indices(config)
        assert space.from_indices(indices) == config
        seen.add(tuple(indices))
    assert len(seen) == space.size
    with pytest.raises(KaudioError, match=r"expected 5 choice indices with 0 <= index < \[4, 4, 4, 2, 4\]"):
        space.from_indices([0, 0, 0, 2, 0])


def test_sampling_is_uniform_and_seeded(space):
    assert space.sample(3) == space.sample(3)
    assert space.sample(np.random.default_rng(1)) in list(space.configs())
    rng = np.random.default_rng(0)
    counts = collections.Counter(tuple(space.to_indices(space.sample(rng))) for _ in range(4000))
    firsts = collections.Counter()
    for indices, n in counts.items():
        firsts[indices[0]] += n
    assert all(abs(n / 4000 - 0.25) < 0.03 for n in firsts.values())
    assert len(counts) > 450  # nearly every one of the 512 configurations in 4000 draws


@pytest.mark.parametrize("config, needles", [
    ({"widths": [0.5, 1.0, 1.0], "depths": [2, 2, 2], "fc_width": 1.0},
     ["widths[0] (conv_block2): width ratio 0.5 is not offered; valid: 0.4, 0.6, 0.8, 1"]),
    ({"widths": [1.0, 1.0, 1.0], "depths": [2, 2, 3], "fc_width": 1.0},
     ["depths[2] (conv_block4): depth 3 is not offered; valid: 1, 2"]),
    ({"widths": [1.0, 1.0, 1.0], "depths": [1, 2, 2], "fc_width": 1.0},
     ["depths[0] (conv_block2): depth 1: this block has a fixed depth of 2 (elastic depth: conv_block4)"]),
    ({"widths": [1.0, 1.0], "depths": [2, 2, 2], "fc_width": 1.0},
     ["widths: expected a list of 3 (one per dynamic block, conv_block2..conv_block4), got 2 values"]),
    ({"width": [1.0, 1.0, 1.0], "depths": [2, 2, 2], "fc_width": 1.0},
     ["unknown key 'width'; did you mean 'widths'? (valid keys: widths, depths, fc_width)", "missing key 'widths'"]),
    ({"widths": [1.0, 1.0, 1.0], "depths": [2, 2, 2], "fc_width": None},
     ["fc_width: width ratio None is not offered; valid: 0.4, 0.6, 0.8, 1"]),
    ({"widths": [True, 1.0, 1.0], "depths": [2, 2, 2], "fc_width": 1.0}, ["width ratio True is not offered"]),
])
def test_validation_names_the_problem_and_the_valid_values(space, config, needles):
    with pytest.raises(KaudioError) as info:
        space.validate(config, source="cfg.yaml")
    text = str(info.value)
    assert text.startswith("cfg.yaml is not in this supernet's space: ")
    assert all(needle in text for needle in needles), text


def test_validation_normalises_numbers(space):
    config = space.validate({"widths": [1, 0.6000000000001, 0.4], "depths": [2, 2, 1], "fc_width": 1})
    assert config == {"widths": [1.0, 0.6, 0.4], "depths": [2, 2, 1], "fc_width": 1.0}
    with pytest.raises(KaudioError, match="expected a mapping like"):
        space.validate([0.4, 0.4])


def test_fixed_fc_takes_null_only():
    space = OfaSpace(CNN10, elastic_fc=False)
    assert space.choice_sizes == (4, 4, 4, 2) and space.smallest()["fc_width"] is None
    with pytest.raises(KaudioError, match="fc1 is not elastic .* give null"):
        space.validate({"widths": [1.0] * 3, "depths": [2, 2, 2], "fc_width": 1.0})


def test_width_only_and_other_depth_layouts():
    width_only = OfaSpace(CNN10, elastic_depth_blocks=[])
    assert width_only.size == 4 ** 4 and width_only.smallest()["depths"] == [2, 2, 2]
    all_depths = OfaSpace(CNN10, elastic_depth_blocks=[2, 3, 4], static_blocks=1)
    assert all_depths.size == 4 ** 4 * 2 ** 3 and all_depths.smallest()["depths"] == [1, 1, 1]


def test_space_problems():
    assert space_problems(CNN10, 4, [0.5, 1.0], [4], True, 512)[0][0] == "static_blocks"
    assert "ratios must be in (0, 1]" in space_problems(CNN10, 1, [0.5, 1.5], [4], True, 512)[0][1]
    assert "each ratio may appear once" in space_problems(CNN10, 1, [0.5, 0.5], [4], True, 512)[0][1]
    assert space_problems([8, 4, 8], 1, [0.4, 0.5, 1.0], [3], True, 8) == []  # widths 1/2/4 and 3/4/8: distinct
    problems = space_problems([8, 4, 8], 1, [0.3, 0.4, 1.0], [3], True, 8)
    assert any("conv_block2 (full width 4) the widths [1, 1, 4]; each must be >= 1 and distinct" in m for _, m in problems)
    problems = space_problems(CNN10, 1, [0.5, 1.0], [1, 4, 4], True, 512)
    assert ("elastic_depth_blocks[0]", "got 1; elastic depth needs a dynamic block: 2, 3, 4 (conv_block numbers)") in problems
    assert any(key == "elastic_depth_blocks" and "each block may appear once" in m for key, m in problems)
    with pytest.raises(KaudioError, match="invalid once-for-all space: static_blocks"):
        OfaSpace(CNN10, static_blocks=4)


def test_scaled_width_is_the_floor_without_float_error():
    assert scaled_width(0.29, 100) == 29 and scaled_width(0.4, 128) == 51 and scaled_width(0.6, 5) == 3


def test_load_config_from_files_and_inline(tmp_path):
    (tmp_path / "c.yaml").write_text("widths: [0.4, 0.6, 1.0]\ndepths: [2, 2, 1]\nfc_width: 0.4\n")
    (tmp_path / "c.json").write_text(json.dumps({"widths": [1, 1, 1], "depths": [2, 2, 2], "fc_width": 1}))
    assert load_config(tmp_path / "c.yaml") == ({"widths": [0.4, 0.6, 1.0], "depths": [2, 2, 1], "fc_width": 0.4},
                                                str(tmp_path / "c.yaml"))
    assert load_config(str(tmp_path / "c.json"))[0]["depths"] == [2, 2, 2]
    assert load_config('{"widths": [1, 1, 1]}') == ({"widths": [1, 1, 1]}, "inline configuration")
    with pytest.raises(KaudioError, match="no such configuration file 'nope.yaml'"):
        load_config("nope.yaml")
    (tmp_path / "bad.yaml").write_text("widths: [0.4\n")
    with pytest.raises(KaudioError, match="bad.yaml: not YAML/JSON"):
        load_config(tmp_path / "bad.yaml")
