"""DistillationLoss and DistillationModel: Eq. 2 of Lin et al. (BCE against a frozen teacher's
probabilities), optionally mixed with the label BCE; SpecAugment on the student only."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio.errors import KaudioError
from kaudio.losses import loss_from_spec
from kaudio.spec import load_spec
from kaudio.training.distillation import DistillationLoss, DistillationModel
from kaudio.training.fit import training_spec
from kaudio.training.model import SupervisedModel, spec_augment_layer
from tests.training import flat_spec, toy_arrays

AUGMENT = {"enabled": True, "time_mask_param": 8, "n_time_masks": 2, "freq_mask_param": 8, "n_freq_masks": 2}


def _student_spec():
    return training_spec(flat_spec("tagger"))


def _teacher(backbone=None):
    """A random tiny tagger over the student's clips (4 classes), with batch normalisation when
    ``backbone`` is a panns_cnn section."""
    spec = flat_spec("tagger")
    spec["name"] = "tiny_teacher"
    spec["backbone"] = backbone or {**spec["backbone"], "units": 8}
    teacher = kaudio.build(load_spec(spec))
    rng = np.random.default_rng(3)
    for variable in teacher.trainable_weights:  # sharper probabilities than a fresh initialisation
        variable.assign(rng.standard_normal(variable.shape).astype("float32") * 0.5)
    return teacher


def _batch(n=8):
    audio, targets = toy_arrays(n)
    labels, mask = targets["fine"], targets["fine_mask"]
    return audio, {"labels": labels, "labels_mask": mask}


def _numpy_bce(target, probability, mask=None, epsilon=1e-7):
    p = np.clip(np.asarray(probability, np.float64), epsilon, 1 - epsilon)
    q = np.asarray(target, np.float64)
    bce = -(q * np.log(p) + (1 - q) * np.log(1 - p))
    mask = np.ones_like(bce) if mask is None else np.asarray(mask, np.float64)
    return float(np.sum(bce * mask) / np.sum(mask))


def _wrapper(weight=1.0, augment=None, teacher=None):
    spec = _student_spec()
    student = kaudio.build(spec)
    layer = spec_augment_layer(spec, augment, tuple(spec.shapes["frontend"])) if augment else None
    loss = DistillationLoss(loss_from_spec(spec), weight)
    return DistillationModel(student, teacher or _teacher(), loss, layer), spec


@pytest.mark.parametrize("weight", [1.0, 0.3, 0.0])
def test_the_loss_is_eq_2_mixed_with_the_label_bce(weight):
    wrapper, spec = _wrapper(weight)
    audio, y = _batch()
    prediction = wrapper(audio, training=False)
    loss = float(wrapper.compute_loss(audio, y, prediction, training=False))
    student, teacher = np.asarray(prediction), np.asarray(wrapper.teacher(audio))
    kd = _numpy_bce(teacher, student)
    label = _numpy_bce(y["labels"], student, y["labels_mask"])  # the masked entries do not count
    np.testing.assert_allclose(loss, weight * kd + (1 - weight) * label, rtol=1e-5)
    logged = {m.name: float(m.result()) for m in wrapper.metrics if m.name in ("kd_bce", "bce")}
    np.testing.assert_allclose([logged["kd_bce"], logged["bce"]], [kd, label], rtol=1e-5)
    # one student forward as a once-for-all trainer runs it: targets once, the loss per forward
    parts = wrapper.task_loss.parts(wrapper.loss_targets(audio, y), prediction)
    np.testing.assert_allclose(float(parts["loss"]), loss, rtol=1e-6)
    assert set(parts) == {"loss", "kd_bce", "bce"}


def test_weight_zero_is_the_supervised_bce():
    wrapper, spec = _wrapper(0.0)
    supervised = SupervisedModel(wrapper.model, loss_from_spec(spec))
    audio, y = _batch()
    prediction = wrapper(audio, training=False)
    np.testing.assert_allclose(float(wrapper.compute_loss(audio, y, prediction, training=False)),
                               float(supervised.compute_loss(audio, y, prediction, training=False)), rtol=1e-6)


def test_spec_augment_reaches_the_student_only():
    teacher = _teacher()
    augmented, _ = _wrapper(augment=AUGMENT, teacher=teacher)
    plain, _ = _wrapper(teacher=teacher)
    audio, y = _batch(4)
    clean = np.asarray(teacher(audio, training=False))
    for wrapper in (augmented, plain):  # the teacher sees the clean clips, augmentation or not
        np.testing.assert_array_equal(np.asarray(wrapper.loss_targets(audio, y)["teacher"]), clean)
    features = np.asarray(augmented.model.frontend(audio))
    masked = np.asarray(augmented.features(audio, training=True))
    assert np.mean(masked == 0.0) > 0.05 and np.mean(features == 0.0) == 0.0  # the student's input is masked
    np.testing.assert_array_equal(np.asarray(augmented.features(audio, training=False)), features)
    # the training loss: masked student against the clean teacher
    prediction = augmented(audio, training=True)
    assert not np.allclose(np.asarray(prediction), np.asarray(augmented.model(audio)))
    loss = float(augmented.compute_loss(audio, y, prediction))
    np.testing.assert_allclose(loss, _numpy_bce(clean, np.asarray(prediction)), rtol=1e-5)


def test_the_teacher_is_frozen_in_inference_mode_and_not_saved(tmp_path):
    import tensorflow as tf

    teacher = _teacher({"type": "panns_cnn", "filters": [4, 8], "embedding_size": 8})
    wrapper, _ = _wrapper(teacher=teacher)
    before = [np.array(w) for w in teacher.weights]
    student_before = [np.array(w) for w in wrapper.model.trainable_weights]
    assert any("moving_mean" in w.path for w in teacher.weights)
    assert not set(map(id, wrapper.trainable_weights)) & set(map(id, teacher.weights))
    audio, y = _batch(8)
    wrapper.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = wrapper.fit(tf.data.Dataset.from_tensor_slices((audio, y)).batch(4), epochs=1, verbose=0).history
    assert {"loss", "kd_bce", "bce"} <= set(history)
    for a, b in zip(before, teacher.weights):  # weights and BN moving statistics untouched
        np.testing.assert_array_equal(a, np.asarray(b))
    assert any(not np.array_equal(a, np.asarray(b)) for a, b in zip(student_before, wrapper.model.trainable_weights))
    wrapper.model.save(tmp_path / "student.keras")
    saved = keras.models.load_model(tmp_path / "student.keras")
    assert isinstance(saved, kaudio.KaudioModel) and len(saved.weights) == len(wrapper.model.weights)
    assert "teacher" not in saved.get_config()["spec"]


def test_teachers_that_do_not_fit_are_refused():
    student = kaudio.build(_student_spec())
    loss = DistillationLoss(loss_from_spec(_student_spec()))
    x = keras.Input((2000, 1))
    two = keras.Model(x, {"a": keras.layers.Dense(4)(keras.layers.Flatten()(x)), "b": x})
    with pytest.raises(KaudioError, match="several outputs \\(a, b\\); name the one to learn from with teacher.output"):
        DistillationModel(student, two, loss)
    y = keras.Input((1000, 1))
    other = keras.Model(y, keras.layers.Dense(4, activation="sigmoid")(keras.layers.Flatten()(y)), name="short")
    with pytest.raises(KaudioError, match="takes inputs of shape \\(1000, 1\\), the student \\(2000, 1\\)"):
        DistillationModel(student, other, loss)
    with pytest.raises(KaudioError, match="distillation_weight must be in \\[0, 1\\], got 1.5"):
        DistillationLoss(loss_from_spec(_student_spec()), 1.5)
    with pytest.raises(KaudioError, match="teacher's probabilities under 'teacher'"):
        loss.parts({"labels": np.zeros((1, 4), np.float32)}, np.zeros((1, 4), np.float32))


def test_mixed_precision_teacher_and_student_give_a_float32_loss():
    from kaudio.dtypes import dtype_policy_scope

    audio, y = _batch()
    reference, _ = _wrapper(0.5)
    with dtype_policy_scope("mixed_bfloat16"):
        mixed, _ = _wrapper(0.5, teacher=_teacher())
    mixed.model.set_weights(reference.model.get_weights())
    mixed.teacher.set_weights(reference.teacher.get_weights())
    assert mixed.model.dtype_policy.name == mixed.teacher.dtype_policy.name == "mixed_bfloat16"
    loss = mixed.compute_loss(audio, y, mixed(audio, training=False), training=False)
    assert loss.dtype == "float32"
    expected = reference.compute_loss(audio, y, reference(audio, training=False), training=False)
    np.testing.assert_allclose(float(loss), float(expected), rtol=2e-2)  # bfloat16 activations
