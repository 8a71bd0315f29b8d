"""The kd trainer: spec rules (a teacher, a tagger, a teacher that fits), the supervised optimizer as
the paper's Adam, an end-to-end run through the CLI, resume, and teacher weight errors."""
import json

import keras
import numpy as np
import pytest
import yaml

import kaudio
from kaudio import registry
from kaudio.cli.main import main
from kaudio.errors import KaudioError, SpecError
from kaudio.spec import load_spec
from kaudio.training.fit import fit, read_history, training_spec
from kaudio.training.kd import KDTrainer
from kaudio.training.trainer import trainer_for
from tests.training import HIERARCHY, flat_spec, save_teacher, write_flat_folder
from tests.training.test_fit import Interrupt, InterruptAfterEpoch


FINE = [name for names in HIERARCHY.values() for name in names]  # tone300, tone700, tone1800, tone3000


def write_teacher(folder, classes=None, weights=True, **head):
    """A tiny tagger teacher over the student's clips: ``teacher.yaml`` and (random) ``teacher.keras``."""
    spec = flat_spec("tagger", classes=classes)
    spec.update(name="tiny_teacher", backbone={**spec["backbone"], "units": 8})
    spec["head"].update(head)
    return save_teacher(folder, spec, weights)


def kd_spec(teacher=None, classes=None, **train):
    spec = flat_spec("tagger", classes=classes, **train)
    spec["train"]["type"] = "kd"
    if teacher is not None:
        spec["teacher"] = teacher
    return spec


def problems_of(spec) -> dict:
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    return {p.path: p.message for p in info.value.problems}


# --- spec ---------------------------------------------------------------------------------------


def test_registered_with_the_supervised_keys_and_the_distillation_weight(tmp_path):
    assert registry.get("train", "kd") is KDTrainer
    spec = training_spec(kd_spec(write_teacher(tmp_path)))
    assert spec.train["distillation_weight"] == 1.0 and spec.train["weight_decay"] == 1e-4  # supervised default
    assert spec.loss["type"] == "bce"  # the label term: the tagger's loss
    trainer = trainer_for(training_spec(spec, {"train.monitor": "val_map"}))
    assert trainer.monitor == ("val_map", "max")
    assert problems_of(kd_spec(write_teacher(tmp_path), distillation_weight=1.5))["train.distillation_weight"]
    message = problems_of(kd_spec(write_teacher(tmp_path), monitor="val_mAP"))["train.monitor"]
    assert "this training logs val_loss, val_kd_bce, val_bce, val_map" in message


def test_a_missing_teacher_is_named_with_an_example(tmp_path):
    message = problems_of(kd_spec())["train.type"]
    assert "kd training learns from a teacher; add a `teacher:` section, e.g. teacher: {spec: " in message
    problems = problems_of(kd_spec({"spec": "no_such_teacher", "weights": None}))
    assert "teacher.spec" in problems and "train.type" not in problems  # the given teacher's own problem only


def test_a_teacher_whose_class_count_differs(tmp_path):
    message = problems_of(kd_spec(write_teacher(tmp_path, weights=False, num_classes=6)))["teacher.spec"]
    assert "the teacher predicts 6 classes, the student 4" in message
    assert "head.num_classes: 6" in message and "a teacher trained on the student's classes" in message


def test_teacher_class_names_must_match_in_order(tmp_path):
    teacher = write_teacher(tmp_path, classes=FINE[::-1], weights=False)
    message = problems_of(kd_spec(teacher, classes=FINE))["train.type"]
    assert "the same classes in another order" in message and "head.classes in the teacher's order" in message
    assert load_spec(kd_spec(write_teacher(tmp_path, classes=FINE, weights=False), classes=FINE)).teacher


def write_hierarchical_teacher(folder):
    """A tiny hierarchical (gmp) teacher whose ``fine`` output has the student's four tone classes."""
    spec = flat_spec("tagger")
    spec.update(name="tiny_hierarchical_teacher", head={"type": "gmp", "hierarchy": HIERARCHY})
    (folder / "hierarchical.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return {"spec": str(folder / "hierarchical.yaml"), "weights": None}


def test_teacher_and_student_kinds_and_inputs(tmp_path):
    classifier = write_teacher(tmp_path, weights=False, type="classifier")
    assert "kd learns per-class sigmoid probabilities" in problems_of(kd_spec(classifier))["train.type"]
    other_clips = {**write_teacher(tmp_path, weights=False), "overrides": ["input.samples=4000"]}
    message = problems_of(kd_spec(other_clips))["train.type"]
    assert "reads other clips than the student (teacher: sample_rate 8000, samples 4000" in message
    student = kd_spec({**write_hierarchical_teacher(tmp_path), "output": "fine"})
    student["head"] = {"type": "gmp", "hierarchy": HIERARCHY}
    assert "use head: {type: tagger}" in problems_of(student)["train.type"]


def test_a_hierarchical_teacher_output_is_selected(tmp_path):
    from kaudio.models.teacher import build_teacher

    teacher = {**write_hierarchical_teacher(tmp_path), "output": "fine"}
    model = build_teacher(load_spec(kd_spec(teacher, classes=FINE)))
    assert tuple(model.output.shape) == (None, 4) and not model.trainable
    message = problems_of(kd_spec(teacher, classes=FINE[::-1]))["train.type"]
    assert "'tiny_hierarchical_teacher' predicts the classes (tone300, tone700, tone1800, tone3000)" in message


def test_weight_decay_0_and_no_warmup_is_adam(tmp_path):
    spec = training_spec(kd_spec(write_teacher(tmp_path, weights=False), learning_rate=1e-3, weight_decay=0.0,
                                 warmup_epochs=0))
    ours, adam = trainer_for(spec).optimizer(steps_per_epoch=10), keras.optimizers.Adam(1e-3)
    start = np.random.default_rng(0).standard_normal((3, 5)).astype("float32")
    a, b = keras.Variable(start), keras.Variable(start)
    for step in range(5):
        gradient = keras.ops.convert_to_tensor(np.random.default_rng(step).standard_normal((3, 5)).astype("float32"))
        ours.apply_gradients([(gradient, a)])
        adam.apply_gradients([(gradient, b)])
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert not np.allclose(np.asarray(a), start)


# --- runs ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory):
    return write_flat_folder(tmp_path_factory.mktemp("kd") / "data", n=20)


def test_kaudio_train_distils_and_evaluates(tmp_path, tone_folder, capsys):
    teacher = write_teacher(tmp_path)
    spec_path = tmp_path / "student.yaml"
    spec_path.write_text(yaml.safe_dump(kd_spec({"spec": "teacher.yaml", "weights": "teacher.keras"},
                                                spec_augment=True, monitor="val_map"), sort_keys=False))
    out = tmp_path / "run"
    assert main(["train", str(spec_path), "--data", str(tone_folder), "--out", str(out), "--epochs", "2", "-q"]) == 0
    text = capsys.readouterr().out
    assert "teacher teacher_tiny_teacher (" in text and f"frozen) from {teacher['weights']}" in text
    assert "| Method | Runs | ROC-AUC | PR-AUC | F1 |" in text and "| tagger | 1 |" in text
    history = read_history(out / "history.csv")
    for key in ("loss", "kd_bce", "bce", "val_loss", "val_kd_bce", "val_bce", "val_map"):
        assert len(history[key]) == 2, key
    np.testing.assert_allclose(history["val_loss"], history["val_kd_bce"], rtol=1e-5)  # w = 1: pure distillation
    best = json.loads((out / "best.json").read_text())
    assert best["monitor"] == "val_map" and best["mode"] == "max" and best["value"] == max(history["val_map"])
    saved = keras.models.load_model(out / "best.keras")
    assert isinstance(saved, kaudio.KaudioModel) and not any("teacher" in layer.name for layer in saved.layers)
    assert yaml.safe_load((out / "spec.yaml").read_text())["teacher"]["weights"] == teacher["weights"]
    assert (out / "thresholds.json").is_file()
    assert main(["evaluate", str(out), "--data", str(tone_folder), "--split", "val"]) == 0  # no teacher needed
    assert "| tagger | 1 |" in capsys.readouterr().out


def test_resume_continues_an_interrupted_run(tmp_path, tone_folder):
    """Interrupted after epoch 1 of 2, the same call continues with epoch 2 and ends where an uninterrupted
    run ends — with the training clips reshuffled and re-cropped each epoch (crop: random)."""
    spec = training_spec(kd_spec(write_teacher(tmp_path), classes=FINE, spec_augment=True, epochs=2,
                                 distillation_weight=0.5, crop="random"))
    data = trainer_for(spec).load_data(tone_folder)
    full = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "full", verbose=0)
    with pytest.raises(Interrupt):
        fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "cut", verbose=0,
            callbacks=[InterruptAfterEpoch(0)])
    assert len(read_history(tmp_path / "cut" / "history.csv")["loss"]) == 1
    resumed = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "cut", verbose=0)
    assert len(resumed.history["loss"]) == 2
    assert resumed.history == full.history
    for a, b in zip(full.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_teacher_weights_that_cannot_be_used(tmp_path, tone_folder, capsys):
    spec = kd_spec(write_teacher(tmp_path), classes=FINE, epochs=1)
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip archive")
    (tmp_path / "corrupt.weights.h5").write_bytes(b"not an HDF5 file")
    for name, message in (("corrupt.keras", "teacher.weights: .*corrupt.keras is not a Keras archive"),
                          ("corrupt.weights.h5", "teacher.weights: .*corrupt.weights.h5 does not fit the teacher")):
        broken = training_spec({**spec, "teacher": {**spec["teacher"], "weights": str(tmp_path / name)}})
        data = trainer_for(broken).load_data(tone_folder)
        with pytest.raises(KaudioError, match=message):
            fit(broken, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "run", verbose=0)
    spec_path = tmp_path / "broken.yaml"
    spec_path.write_text(yaml.safe_dump({**spec, "teacher": {**spec["teacher"], "weights": "corrupt.keras"}}))
    assert main(["train", str(spec_path), "--data", str(tone_folder), "--out", str(tmp_path / "cli"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "corrupt.keras" in err and len(err.strip().splitlines()) == 1
    spec_path.write_text(yaml.safe_dump({**spec, "teacher": {**spec["teacher"], "weights": "missing.keras"}}))
    assert main(["train", str(spec_path), "--data", str(tone_folder), "-q"]) == 2
    assert "teacher.weights" in capsys.readouterr().err


def test_a_random_or_removed_teacher_is_announced(tmp_path, capsys):
    spec = training_spec(kd_spec(write_teacher(tmp_path, weights=False), classes=FINE))
    trainer = trainer_for(spec)
    with pytest.warns(kaudio.errors.KaudioWarning, match="randomly initialised teacher"):
        trainer.prepare(trainer.build_model(), tmp_path, resuming=False)
    assert "from random weights" in capsys.readouterr().out
    saved = training_spec(trainer.build_model().get_config()["spec"])  # a saved student's spec: teacher: null
    assert saved.teacher is None and saved.train["type"] == "kd"
    with pytest.raises(KaudioError, match="the spec's teacher is null \\(a saved model's spec records none\\)"):
        trainer_for(saved).teacher()
