"""The seven hierarchical heads (Zhong et al. Fig. 2, Eq. 1) inside full specs."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kaudio
from kaudio import registry
from kaudio.errors import SpecError
from tests.helpers import register_tiny_backbone
from kaudio.heads.hierarchical import HierarchicalHead, ResAttHead

HEADS = ["flat", "levelwise", "topdown", "gmp", "gap", "lp", "resatt"]
# non-contiguous fine order inside groups is impossible (YAML order is group by group), but groups of
# different sizes catch reshape/transposition mistakes
GROUPS = {"strings": ["violin", "cello", "guitar"], "winds": ["flute", "sax"]}
PARENT = [0, 0, 0, 1, 1]
CHILDREN = [[0, 1, 2], [3, 4]]
D = 12
TEST_BACKBONE = "kaudio_tests_pool_dense"


register_tiny_backbone(TEST_BACKBONE, "global", D)


def spec_for(head_type, backbone=None, **head):
    return {
        "name": f"tiny_{head_type}", "description": "tiny hierarchical tagger",
        "input": {"type": "audio", "sample_rate": 8000, "samples": 4000, "channels": 1},
        "frontend": {"type": "mel", "n_fft": 256, "hop_length": 128, "n_mels": 16, "padding": "same"},
        "backbone": backbone or {"type": TEST_BACKBONE, "units": D},
        "head": {"type": head_type, "hierarchy": GROUPS, **head},
    }


@pytest.fixture(scope="module")
def audio():
    return np.random.default_rng(0).normal(0, 0.3, (3, 4000, 1)).astype("float32")


def run(model, audio):
    return {k: keras.ops.convert_to_numpy(v) for k, v in model(audio, training=False).items()}


def embedding_of(model, audio):
    return keras.ops.convert_to_numpy(model.backbone(model.frontend(audio)))


def head_weights(model, layer):
    return [keras.ops.convert_to_numpy(w) for w in model.head.get_layer(layer).weights]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("head_type", HEADS)
def test_every_head_builds_in_a_full_spec(head_type, audio):
    model = kaudio.build(spec_for(head_type))
    out = run(model, audio)
    assert set(out) == {"fine", "coarse"}
    assert out["fine"].shape == (3, 5) and out["coarse"].shape == (3, 2)
    for value in out.values():
        assert np.all((value >= 0) & (value <= 1)) and np.all(np.isfinite(value))
    assert isinstance(model.head, HierarchicalHead) and model.head.hierarchy.fine_names[3] == "flute"
    assert type(model.head).trains_coarse is (head_type != "flat")
    assert registry.get("head", head_type) is type(model.head)


def test_fine_is_one_linear_sigmoid_classifier_on_the_embedding(audio):
    for head_type in ("flat", "levelwise", "gmp", "gap", "lp", "resatt"):
        model = kaudio.build(spec_for(head_type))
        kernel, bias = head_weights(model, "fine")
        assert kernel.shape == (D, 5)
        np.testing.assert_allclose(run(model, audio)["fine"], sigmoid(embedding_of(model, audio) @ kernel + bias),
                                   rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("head_type, reduce", [("gmp", np.max), ("gap", np.mean), ("flat", np.max)])
def test_pooled_heads_coarse_is_max_or_mean_of_children(head_type, reduce, audio):
    out = run(kaudio.build(spec_for(head_type)), audio)
    expected = np.stack([reduce(out["fine"][:, idx], axis=1) for idx in CHILDREN], axis=1)
    np.testing.assert_allclose(out["coarse"], expected, rtol=1e-6)


def test_levelwise_has_two_parallel_classifiers(audio):
    model = kaudio.build(spec_for("levelwise"))
    kernel, bias = head_weights(model, "coarse")
    assert kernel.shape == (D, 2)
    np.testing.assert_allclose(run(model, audio)["coarse"], sigmoid(embedding_of(model, audio) @ kernel + bias),
                               rtol=1e-4, atol=1e-6)


def test_topdown_fine_is_coarse_parent_times_leaf(audio):
    model = kaudio.build(spec_for("topdown"))
    out = run(model, audio)
    z = embedding_of(model, audio)
    kc, bc = head_weights(model, "coarse")
    kf, bf = head_weights(model, "fine_logits")
    coarse = sigmoid(z @ kc + bc)
    np.testing.assert_allclose(out["coarse"], coarse, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["fine"], coarse[:, PARENT] * sigmoid(z @ kf + bf), rtol=1e-4, atol=1e-6)
    assert np.all(out["fine"] <= out["coarse"][:, PARENT] + 1e-7)


def test_lp_coarse_is_a_learned_projection_of_fine(audio):
    model = kaudio.build(spec_for("lp"))
    out = run(model, audio)
    kernel, bias = head_weights(model, "coarse")
    assert kernel.shape == (5, 2)
    np.testing.assert_allclose(out["coarse"], sigmoid(out["fine"] @ kernel + bias), rtol=1e-4, atol=1e-6)


def gradients_of_coarse(model, audio):
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(model(audio, training=True)["coarse"])
    weights = model.trainable_weights
    return {w.path: g for w, g in zip(weights, tape.gradient(loss, weights))}


def test_flat_coarse_does_not_train_anything(audio):
    grads = gradients_of_coarse(kaudio.build(spec_for("flat")), audio)
    assert grads and all(g is None or not np.any(keras.ops.convert_to_numpy(g)) for g in grads.values())


def test_gmp_coarse_trains_the_fine_classifier_and_backbone(audio):
    grads = gradients_of_coarse(kaudio.build(spec_for("gmp")), audio)
    trained = [path for path, g in grads.items() if g is not None and np.any(keras.ops.convert_to_numpy(g))]
    assert any(p.startswith("fine/") for p in trained) and any(p.startswith("fc/") for p in trained)  # fc: backbone


def test_resatt_attention_output(audio):
    model = kaudio.build(spec_for("resatt", output_attention=True))
    out = run(model, audio)
    assert set(out) == {"fine", "coarse", "attention"} and out["attention"].shape == (3, 5, 2)
    w = out["attention"]
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out["coarse"], np.einsum("bfc,bf->bc", w, out["fine"]), rtol=1e-5)
    kernel, bias = head_weights(model, "coarse")  # the attention layer reads the embedding Z
    logits = (embedding_of(model, audio) @ kernel + bias).reshape(3, 5, 2)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(w, expected, rtol=1e-4)
    assert "attention" not in run(kaudio.build(spec_for("resatt")), audio)


def test_resatt_restrict_to_children_from_the_spec(audio):
    out = run(kaudio.build(spec_for("resatt", output_attention=True, restrict_to_children=True)), audio)
    member = np.zeros((5, 2), bool)
    member[[0, 1, 2], 0] = member[[3, 4], 1] = True
    np.testing.assert_array_equal(out["attention"][:, ~member], 0.0)


def test_dropout_applies_only_in_training(audio):
    model = kaudio.build(spec_for("gmp", dropout=0.5))
    assert isinstance(model.head.get_layer("dropout"), keras.layers.Dropout)
    first, second = run(model, audio), run(model, audio)
    np.testing.assert_array_equal(first["fine"], second["fine"])
    trained = keras.ops.convert_to_numpy(model(audio, training=True)["fine"])
    assert not np.allclose(trained, first["fine"])


@pytest.mark.parametrize("head_type, head", [("resatt", {"output_attention": True}), ("lp", {}), ("flat", {}),
                                             ("levelwise", {}), ("topdown", {}), ("gmp", {}), ("gap", {"dropout": 0.2})])
def test_kaudio_model_keras_round_trip(head_type, head, audio, tmp_path):
    model = kaudio.build(spec_for(head_type, **head))
    expected = run(model, audio)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    got = run(loaded, audio)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    assert loaded.spec.head["hierarchy"] == GROUPS and type(loaded.head) is type(model.head)


def test_head_alone_round_trips_through_its_config(tmp_path):
    head = ResAttHead(GROUPS, input_dim=D, dropout=0.1, output_attention=True, restrict_to_children=True, name="head")
    z = np.random.default_rng(3).normal(size=(2, D)).astype("float32")
    expected = head.predict(z, verbose=0)
    head.save(tmp_path / "head.keras")
    loaded = keras.models.load_model(tmp_path / "head.keras")
    assert loaded.options == {"output_attention": True, "restrict_to_children": True} and loaded.dropout == 0.1
    for key, value in loaded.predict(z, verbose=0).items():
        np.testing.assert_array_equal(value, expected[key])


def test_hierarchy_file_in_a_spec_builds(tmp_path, write_spec, audio):
    import yaml

    (tmp_path / "tree.yaml").write_text("strings: [violin, cello, guitar]\nwinds: [flute, sax]\n")
    spec = spec_for("gmp")
    spec["head"]["hierarchy"] = "tree.yaml"
    model = kaudio.build(write_spec(yaml.safe_dump(spec)))
    assert model.spec.head["hierarchy"] == GROUPS and run(model, audio)["fine"].shape == (3, 5)


# --- spec errors ------------------------------------------------------------------------------


def test_head_on_a_3d_feature_map_is_a_spec_error():
    spec = spec_for("resatt", backbone={"type": "l3_audio", "filters": [4, 8]})
    with pytest.raises(SpecError) as info:
        kaudio.build(spec)
    (problem,) = info.value.problems
    assert problem.path == "head"
    assert "resatt head needs a (batch, D) embedding" in problem.message and "the backbone gives (batch, " in problem.message


def test_unknown_hierarchy_file_is_a_spec_error():
    with pytest.raises(SpecError) as info:
        kaudio.build(spec_for("gmp") | {"head": {"type": "gmp", "hierarchy": "missing/tree.yaml"}})
    (problem,) = info.value.problems
    assert problem.path == "head.hierarchy" and "no hierarchy file 'missing/tree.yaml'" in problem.message


def test_hierarchy_problems_are_reported_with_paths():
    spec = spec_for("topdown")
    spec["head"]["hierarchy"] = {"strings": ["violin", "violin"], "winds": ["violin"], "empty": []}
    with pytest.raises(SpecError) as info:
        kaudio.build(spec)
    assert [p.path for p in info.value.problems] == ["head.hierarchy.strings[1]", "head.hierarchy.winds[0]",
                                                     "head.hierarchy.empty"]


@pytest.mark.parametrize("head, path, fragment", [
    ({"type": "gmp", "hierarchy": GROUPS, "output_attention": True}, "head.output_attention", "unknown key"),
    ({"type": "gmp", "hierarchy": GROUPS, "dropout": 1.0}, "head.dropout", "must be <= 0.95"),
    ({"type": "resat", "hierarchy": GROUPS}, "head.type", "did you mean 'resatt'"),
    ({"type": "resatt", "hierarchy": GROUPS, "output_attention": "yes"}, "head.output_attention", "true or false"),
])
def test_head_key_errors(head, path, fragment):
    with pytest.raises(SpecError) as info:
        kaudio.load_spec(spec_for("gmp") | {"head": head})
    (problem,) = info.value.problems
    assert problem.path == path and fragment in problem.message


def test_small_panns_backbone_with_a_hierarchical_head(audio):
    spec = spec_for("resatt", backbone={"type": "panns_cnn", "filters": [4, 8], "embedding_size": 8},
                    output_attention=True)
    spec["frontend"]["layout"] = "time_freq"  # PANNs reads (time, mel, 1)
    model = kaudio.build(spec)
    out = run(model, audio)
    assert out["fine"].shape == (3, 5) and out["coarse"].shape == (3, 2) and out["attention"].shape == (3, 5, 2)
    assert model.head.input_dim == 8
