"""Masked λ-weighted two-level BCE (Zhong et al. Eq. 2, §4.1) with consistency terms."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kaudio.errors import KaudioError, SpecError
from kaudio.losses import HierarchicalBCE, loss_from_spec, masked_bce
from kaudio.spec import load_spec
from tests.conftest import tiny_audio_spec, tiny_tagging_spec

GROUPS = {"a": ["x", "y", "z"], "b": ["u", "v"]}
PARENT = [0, 0, 0, 1, 1]
CHILDREN = [[0, 1, 2], [3, 4]]
EPS = 1e-7


def np_(x):
    return float(keras.ops.convert_to_numpy(x))


def ref_bce(y, p, mask):
    """numpy reference: mean BCE over the known entries (mask 1), 0 when none."""
    p = np.clip(p.astype(np.float64), EPS, 1 - EPS)
    known = mask > 0
    if not known.any():
        return 0.0
    y = np.where(known, y, 0.0)
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return float(bce[known].mean())


def batch(seed=0, n=4):
    rng = np.random.default_rng(seed)
    fine_p = rng.uniform(0.02, 0.98, (n, 5)).astype("float32")
    coarse_p = rng.uniform(0.02, 0.98, (n, 2)).astype("float32")
    y_fine = (rng.uniform(size=(n, 5)) > 0.5).astype("float32")
    y_coarse = (rng.uniform(size=(n, 2)) > 0.5).astype("float32")
    m_fine = (rng.uniform(size=(n, 5)) > 0.3).astype("float32")
    m_coarse = (rng.uniform(size=(n, 2)) > 0.3).astype("float32")
    y_fine[m_fine == 0] = np.nan  # unknown labels may be anything, even NaN
    y_coarse[m_coarse == 0] = np.nan
    targets = {"fine": y_fine, "coarse": y_coarse, "fine_mask": m_fine, "coarse_mask": m_coarse}
    return targets, {"fine": fine_p, "coarse": coarse_p}


def test_masked_bce_matches_numpy_and_ignores_nan_labels():
    t, p = batch()
    assert np.isnan(t["fine"]).any() and 0 < t["fine_mask"].sum() < t["fine_mask"].size
    got = np_(masked_bce(t["fine"], p["fine"], t["fine_mask"]))
    np.testing.assert_allclose(got, ref_bce(t["fine"], p["fine"], t["fine_mask"]), rtol=1e-5)
    # changing a masked prediction changes nothing; changing a known one does
    moved = p["fine"].copy()
    moved[t["fine_mask"] == 0] = 0.5
    np.testing.assert_allclose(np_(masked_bce(t["fine"], moved, t["fine_mask"])), got, rtol=1e-6)


def test_masked_bce_all_masked_is_zero_and_gradient_finite():
    y = np.full((2, 3), np.nan, "float32")
    p = tf.constant(np.full((2, 3), 0.3, "float32"))
    with tf.GradientTape() as tape:
        tape.watch(p)
        value = masked_bce(y, p, np.zeros((2, 3), "float32"))
    assert np_(value) == 0.0
    grad = keras.ops.convert_to_numpy(tape.gradient(value, p))
    assert np.all(np.isfinite(grad)) and not np.any(grad)


def test_masked_bce_clips_probabilities():
    value = np_(masked_bce(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.ones((1, 2))))
    upper = np.float32(1 - EPS)  # 1 - ε rounded to float32
    expected = (-np.log(np.float32(EPS)) - np.log(1 - np.float64(upper))) / 2
    assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("lam", [0.7, 0.85, 1.0, 0.0])
def test_eq2_with_masks_against_numpy(lam):
    t, p = batch(seed=1)
    loss = HierarchicalBCE(GROUPS, fine_weight=lam)
    parts = {k: np_(v) for k, v in loss.parts(t, p).items()}
    fine = ref_bce(t["fine"], p["fine"], t["fine_mask"])
    coarse = ref_bce(t["coarse"], p["coarse"], t["coarse_mask"])
    np.testing.assert_allclose([parts["fine_bce"], parts["coarse_bce"]], [fine, coarse], rtol=1e-5)
    assert parts["consistency"] == 0.0
    np.testing.assert_allclose(parts["loss"], lam * fine + (1 - lam) * coarse, rtol=1e-5)
    np.testing.assert_allclose(np_(loss(t, p)), parts["loss"], rtol=1e-6)
    assert loss.level_weights == (lam, 1 - lam)


def test_masks_default_to_all_known_and_extra_outputs_are_ignored():
    t, p = batch(seed=2)
    t = {"fine": np.nan_to_num(t["fine"]), "coarse": np.nan_to_num(t["coarse"])}
    p = {**p, "attention": np.zeros((4, 5, 2), "float32")}
    expected = 0.8 * ref_bce(t["fine"], p["fine"], np.ones((4, 5))) + 0.2 * ref_bce(t["coarse"], p["coarse"], np.ones((4, 2)))
    np.testing.assert_allclose(np_(HierarchicalBCE(GROUPS)(t, p)), expected, rtol=1e-5)


def test_all_masked_level_contributes_zero_not_nan():
    t, p = batch(seed=3)
    t["coarse_mask"] = np.zeros_like(t["coarse_mask"])
    t["coarse"] = np.full_like(t["coarse"], np.nan)
    parts = {k: np_(v) for k, v in HierarchicalBCE(GROUPS, fine_weight=0.75).parts(t, p).items()}
    assert parts["coarse_bce"] == 0.0
    np.testing.assert_allclose(parts["loss"], 0.75 * ref_bce(t["fine"], p["fine"], t["fine_mask"]), rtol=1e-5)
    t["fine_mask"] = np.zeros_like(t["fine_mask"])
    assert np_(HierarchicalBCE(GROUPS).parts(t, p)["loss"]) == 0.0


def test_gradient_is_finite_with_nan_labels_under_the_mask():
    t, p = batch(seed=4)
    fine, coarse = tf.constant(p["fine"]), tf.constant(p["coarse"])
    with tf.GradientTape() as tape:
        tape.watch([fine, coarse])
        value = HierarchicalBCE(GROUPS, consistency={"fine_above_parent": 1.0})(t, {"fine": fine, "coarse": coarse})
    g_fine, g_coarse = (keras.ops.convert_to_numpy(g) for g in tape.gradient(value, [fine, coarse]))
    assert np.all(np.isfinite(g_fine)) and np.all(np.isfinite(g_coarse))
    # masked coarse entries get no BCE gradient (consistency only touches fine/coarse pairs that violate)
    plain = HierarchicalBCE(GROUPS)
    with tf.GradientTape() as tape:
        tape.watch(coarse)
        value = plain(t, {"fine": p["fine"], "coarse": coarse})
    g = keras.ops.convert_to_numpy(tape.gradient(value, coarse))
    assert np.all(g[t["coarse_mask"] == 0] == 0) and np.all(g[t["coarse_mask"] == 1] != 0)


def consistency_ref(fine, coarse, w1, w2, squared):
    h = (lambda x: np.maximum(x, 0) ** 2) if squared else (lambda x: np.maximum(x, 0))
    fine_above = h(fine - coarse[:, PARENT]).mean()
    child_max = np.stack([fine[:, idx].max(axis=1) for idx in CHILDREN], axis=1)
    coarse_above = h(coarse - child_max).mean()
    return w1 * fine_above + w2 * coarse_above, fine_above, coarse_above


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("w1, w2", [(0.3, 0.0), (0.0, 0.5), (0.3, 0.5)])
def test_consistency_terms(w1, w2, squared):
    t, p = batch(seed=5)
    expected, fine_above, coarse_above = consistency_ref(p["fine"], p["coarse"], w1, w2, squared)
    assert fine_above > 0 and coarse_above > 0  # random predictions violate both
    loss = HierarchicalBCE(GROUPS, fine_weight=0.8, consistency={"fine_above_parent": w1, "coarse_above_children": w2},
                           consistency_squared=squared)
    parts = {k: np_(v) for k, v in loss.parts(t, p).items()}
    np.testing.assert_allclose(parts["consistency"], expected, rtol=1e-5)
    np.testing.assert_allclose(parts["loss"], 0.8 * parts["fine_bce"] + 0.2 * parts["coarse_bce"] + expected, rtol=1e-5)


def test_consistency_is_zero_for_gmp_outputs():
    _, p = batch(seed=6)
    coarse = np.stack([p["fine"][:, idx].max(axis=1) for idx in CHILDREN], axis=1)
    loss = HierarchicalBCE(GROUPS, consistency={"fine_above_parent": 1.0, "coarse_above_children": 1.0})
    assert np_(loss.consistency_penalty(p["fine"], coarse)) == 0.0


def test_flat_head_uses_fine_bce_only():
    t, p = batch(seed=7)
    loss = HierarchicalBCE(GROUPS, fine_weight=0.7, trains_coarse=False)
    assert loss.level_weights == (1.0, 0.0)
    parts = loss.parts(t, p)
    np.testing.assert_allclose(np_(parts["loss"]), np_(parts["fine_bce"]), rtol=1e-6)
    assert np_(parts["coarse_bce"]) > 0  # still reported for logging


@pytest.mark.parametrize("kwargs, fragment", [
    ({"consistency": {"fine_above_parnt": 1.0}}, "unknown consistency term; did you mean 'fine_above_parent'"),
    ({"consistency": {"coarse_above_children": -1.0}}, "weight must be a number >= 0"),
    ({"fine_weight": 1.5}, r"fine_weight must be in \[0, 1\]"),
])
def test_constructor_errors(kwargs, fragment):
    with pytest.raises(KaudioError, match=fragment):
        HierarchicalBCE(GROUPS, **kwargs)


def test_bad_outputs_or_targets():
    t, p = batch()
    loss = HierarchicalBCE(GROUPS)
    with pytest.raises(KaudioError, match="the model output lacks 'coarse'; hierarchical_bce needs a hierarchical head"):
        loss(t, {"fine": p["fine"]})
    with pytest.raises(KaudioError, match="the targets lack 'coarse'.*coarse_from_fine"):
        loss({"fine": t["fine"]}, p)
    with pytest.raises(KaudioError, match="fine has 4 columns, the hierarchy has 5"):
        loss(t, {"fine": p["fine"][:, :4], "coarse": p["coarse"]})
    with pytest.raises(KaudioError, match="coarse target has 3 columns"):
        loss({**t, "coarse": np.zeros((4, 3), "float32")}, p)


# --- spec -------------------------------------------------------------------------------------


def hierarchical_spec(head_type="resatt", **loss):
    return tiny_tagging_spec(head={"type": head_type, "hierarchy": GROUPS},
                             loss={"type": "hierarchical_bce", **loss})


def test_loss_from_spec():
    spec = hierarchical_spec(fine_weight=0.75, consistency={"coarse_above_children": 2})
    loss = loss_from_spec(spec)
    assert isinstance(loss, HierarchicalBCE) and loss.level_weights == (0.75, 0.25)
    assert loss.consistency == {"fine_above_parent": 0.0, "coarse_above_children": 2.0}
    assert loss.hierarchy.fine_names == ("x", "y", "z", "u", "v") and loss.epsilon == EPS
    t, p = batch(seed=8)
    direct = HierarchicalBCE(GROUPS, fine_weight=0.75, consistency={"coarse_above_children": 2.0})
    np.testing.assert_allclose(np_(loss(t, p)), np_(direct(t, p)), rtol=1e-6)
    # the validated spec holds the normalised loss section
    assert load_spec(spec).loss == {"type": "hierarchical_bce", "fine_weight": 0.75, "consistency_squared": False,
                                    "epsilon": EPS, "outputs": {"fine": "fine", "coarse": "coarse"},
                                    "consistency": {"fine_above_parent": 0.0, "coarse_above_children": 2.0}}


def test_outputs_name_the_model_outputs_read():
    spec = hierarchical_spec(outputs={"fine": "coarse", "coarse": "fine"})  # swapped: odd, but names exist
    assert load_spec(spec).loss["outputs"] == {"fine": "coarse", "coarse": "fine"}
    problems = dict(spec_problems(hierarchical_spec(outputs={"fine": "fien", "levels": "x"})))
    assert "the model has no output 'fien'; did you mean 'fine'?" in problems["loss.outputs.fine"]
    assert "hierarchical_bce has no role 'levels'" in problems["loss.outputs.levels"]


def test_loss_from_spec_flat_head_and_defaults():
    loss = loss_from_spec(hierarchical_spec("flat"))
    assert loss.trains_coarse is False and loss.level_weights == (1.0, 0.0) and loss.fine_weight == 0.8


def test_loss_from_spec_file_with_a_hierarchy_file(tmp_path, write_spec):
    import yaml

    (tmp_path / "tree.yaml").write_text(yaml.safe_dump(GROUPS, sort_keys=False))
    spec = hierarchical_spec("gmp")
    spec["head"]["hierarchy"] = "tree.yaml"
    assert loss_from_spec(write_spec(yaml.safe_dump(spec))).hierarchy.fine_names == ("x", "y", "z", "u", "v")


def test_spec_without_loss_section():
    with pytest.raises(KaudioError, match="has no loss section; add `loss: {type: ...}` \\(types: .*hierarchical_bce"):
        loss_from_spec(tiny_tagging_spec(head={"type": "gmp", "hierarchy": GROUPS}))


def spec_problems(spec):
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    return [(p.path, p.message) for p in info.value.problems]


def test_check_spec_unknown_consistency_term():
    ((path, message),) = spec_problems(hierarchical_spec(consistency={"coarse_above_child": 1.0}))
    assert path == "loss.consistency.coarse_above_child"
    assert "did you mean 'coarse_above_children'" in message and "valid: fine_above_parent, coarse_above_children" in message


def test_check_spec_negative_weight_and_bad_lambda():
    problems = spec_problems(hierarchical_spec(consistency={"fine_above_parent": -0.5}))
    assert problems == [("loss.consistency.fine_above_parent", "weight must be a number >= 0, got -0.5")]
    ((path, message),) = spec_problems(hierarchical_spec(fine_weight=1.2))
    assert path == "loss.fine_weight" and "<= 1.0" in message


def test_check_spec_needs_a_hierarchical_head():
    spec = tiny_audio_spec(loss={"type": "hierarchical_bce"})  # embedding_pool head
    ((path, message),) = spec_problems(spec)
    assert path == "loss" and "needs a hierarchical head" in message and "the head is 'embedding_pool'" in message
    spec = tiny_audio_spec(loss={"type": "hierarchical_bce"})
    del spec["head"]
    ((path, message),) = spec_problems(spec)
    assert path == "loss" and "the head section is missing or invalid" in message


@pytest.mark.parametrize("consistency", [{}, None])
def test_empty_consistency_mapping_means_no_terms(consistency):
    spec = hierarchical_spec()
    if consistency is not None:
        spec["loss"]["consistency"] = consistency
    assert load_spec(spec).loss["consistency"] == {"fine_above_parent": 0.0, "coarse_above_children": 0.0}


def test_consistency_weight_must_be_a_number():
    ((path, message),) = spec_problems(hierarchical_spec(consistency={"fine_above_parent": "x"}))
    assert path == "loss.consistency.fine_above_parent" and "expected a number" in message
