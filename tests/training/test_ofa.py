"""The ofa trainer: spec rules, the paper's defaults, init_from, the largest network as the scored one, and an
interrupted run that resumes exactly (warm phase, dropout and per-size logs included)."""
import keras
import numpy as np
import pytest

import kaudio
from kaudio import registry
from kaudio.errors import KaudioError, SpecError
from kaudio.models.ofa import active_config, extract_subnet
from kaudio.spec import load_spec
from kaudio.training.fit import fit, read_history, training_spec
from kaudio.training.ofa import OfaTrainer
from kaudio.training.trainer import trainer_for
from tests.models.ofa import randomize_statistics, tiny_ofa_spec
from tests.training import HIERARCHY, TEST_BACKBONE, save_teacher, write_flat_folder
from tests.training.test_fit import Interrupt, InterruptAfterEpoch

CLASSES = [name for names in HIERARCHY.values() for name in names]  # the tone folder's four tags


def write_tiny_teacher(folder, classes=CLASSES, weights=True):
    """A tiny tagger teacher reading the tiny supernet's clips (1 s at 16 kHz, 16 mel bins)."""
    spec = tiny_ofa_spec()
    spec.update(name="tiny_teacher", backbone={"type": TEST_BACKBONE, "units": 8},
                head={"type": "tagger", "classes": list(classes)})
    return save_teacher(folder, spec, weights)


def ofa_train_spec(teacher, dropout=True, spec_augment=False, **train) -> dict:
    """The tiny supernet (filters 8/16/16/32, 512 sub-networks) trained by the ofa trainer on the tone tags."""
    spec = tiny_ofa_spec()
    spec["head"] = {"type": "tagger", "classes": list(CLASSES)}
    if not dropout:
        spec["backbone"].update(dropout=0.0, embedding_dropout=0.0)
    spec["teacher"] = teacher
    spec["train"] = {"type": "ofa", "epochs": 1, "batch_size": 4, "subnets_per_step": 3, "keep_checkpoints": 0,
                     "spec_augment": {"enabled": spec_augment, "time_mask_param": 8, "freq_mask_param": 4}, **train}
    return spec


def problems_of(spec) -> dict:
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    return {p.path: p.message for p in info.value.problems}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return write_tiny_teacher(tmp_path_factory.mktemp("ofa_teacher"))


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory):
    return write_flat_folder(tmp_path_factory.mktemp("ofa") / "data", n=20)


# --- spec ---------------------------------------------------------------------------------------


def test_registered_with_the_papers_defaults(teacher):
    assert registry.get("train", "ofa") is OfaTrainer
    settings = training_spec(ofa_train_spec(teacher, subnets_per_step=4) | {"train": {"type": "ofa"}}).train
    assert (settings["learning_rate"], settings["weight_decay"], settings["warmup_epochs"]) == (1e-3, 0.0, 0.0)
    assert settings["subnets_per_step"] == 4 and settings["sandwich"] is False and settings["monitor"] == "val_map"
    assert settings["warmup_largest_steps"] is None and settings["init_from"] is None
    trainer = trainer_for(training_spec(ofa_train_spec(teacher, epochs=6)))
    assert trainer.warmup_largest_steps(steps_per_epoch=5) == 10  # a third of 30 steps
    assert trainer_for(training_spec(ofa_train_spec(teacher, warmup_largest_steps=0))).warmup_largest_steps(5) == 0


def test_spec_rules(teacher, tmp_path):
    assert "must be >= 1" in problems_of(ofa_train_spec(teacher, subnets_per_step=0))["train.subnets_per_step"]
    plain = ofa_train_spec(teacher)
    plain["backbone"] = {"type": "panns_cnn", "filters": [8, 16, 16, 32], "embedding_size": 32}
    assert "use backbone: {type: ofa_cnn}" in problems_of(plain)["train.type"]
    missing = ofa_train_spec(None)
    del missing["teacher"]
    assert "learns from a teacher; add a `teacher:` section" in problems_of(missing)["train.type"]
    fewer = write_tiny_teacher(tmp_path, classes=CLASSES[:3], weights=False)  # the kd trainer's class check
    assert "the teacher predicts 3 classes, the student 4" in problems_of(ofa_train_spec(fewer))["teacher.spec"]
    assert "no such file" in problems_of(ofa_train_spec(teacher, init_from="nowhere.keras"))["train.init_from"]
    (tmp_path / "plain.keras").write_bytes(b"")
    both = ofa_train_spec(teacher, init_from=str(tmp_path / "plain.keras"), init_weights=str(tmp_path / "plain.keras"))
    assert "not both" in problems_of(both)["train.init_from"]
    assert "set it to false" in problems_of(ofa_train_spec(teacher, freeze_backbone=True))["train.freeze_backbone"]


# --- runs ---------------------------------------------------------------------------------------


def test_init_from_a_plain_full_size_model(teacher, tmp_path, capsys):
    source = kaudio.build(ofa_train_spec(teacher))
    randomize_statistics(source, seed=3)
    plain = extract_subnet(source, source.backbone.space.largest())
    plain.save(tmp_path / "plain.keras")
    trainer = trainer_for(training_spec(ofa_train_spec(teacher, init_from=str(tmp_path / "plain.keras"))))
    model = trainer.build_model()
    trainer.prepare(model, tmp_path, resuming=False)
    assert f"supernet initialised from {tmp_path / 'plain.keras'}" in capsys.readouterr().out
    for a, b in zip(source.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.get_config()["spec"]["train"]["init_from"] is None  # a saved supernet names no machine path
    fresh = trainer.build_model()
    trainer.prepare(fresh, tmp_path, resuming=True)  # a resumed run restores its own weights instead
    assert not np.array_equal(fresh.get_weights()[0], source.get_weights()[0])
    other = kaudio.build(tiny_ofa_spec(filters=[8, 16, 16, 16]) | {"head": {"type": "tagger", "classes": CLASSES}})
    extract_subnet(other, other.backbone.space.largest()).save(tmp_path / "narrow.keras")
    trainer = trainer_for(training_spec(ofa_train_spec(teacher, init_from=str(tmp_path / "narrow.keras"))))
    with pytest.raises(KaudioError, match="train.init_from: .*narrow.keras does not fit the supernet's full sizes"):
        trainer.prepare(trainer.build_model(), tmp_path, resuming=False)


def test_an_interrupted_run_resumes_exactly(teacher, tone_folder, tmp_path):
    """Dropout on, 2 epochs whose first trains the largest only: interrupted after epoch 1, the same call continues
    and ends with the weights and logs of an uninterrupted run (the sampled configurations come from (seed, step),
    dropout's seed states from the backup)."""
    spec = training_spec(ofa_train_spec(teacher, epochs=2, subnets_per_step=2, warmup_largest_steps=3))
    data = trainer_for(spec).load_data(tone_folder)
    full = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "full", verbose=0)
    history = read_history(tmp_path / "full" / "history.csv")
    names = [key for key in history if key.startswith("kd_bce_q")]
    assert len(names) == 4 and all(np.isnan(history[name][0]) for name in names[:3])  # epoch 1 (3 steps): warm phase
    assert sum(np.isfinite(history[name][1]) for name in names) >= 1  # epoch 2: sampled sub-networks (retraced)
    assert all(len(history[key]) == 2 for key in ("loss", "val_loss", "val_map", *names))
    with pytest.raises(Interrupt):
        fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "cut", verbose=0,
            callbacks=[InterruptAfterEpoch(0)])
    resumed = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "cut", verbose=0)
    np.testing.assert_array_equal(np.array(list(resumed.history.values())), np.array(list(full.history.values())))
    for a, b in zip(full.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    saved = keras.models.load_model(tmp_path / "full" / "best.keras")
    assert active_config(saved) == saved.backbone.space.largest()  # best.keras holds the full network
