"""The spec's train section (type supervised): defaults, spec_augment keys, cross checks."""
import copy

import pytest

from kaudio import registry
from kaudio.errors import SpecError
from kaudio.spec import load_spec
from kaudio.training.supervised import SPEC_AUGMENT_DEFAULTS, SupervisedTrainer
from tests.training import tiny_spec


def _spec(**train):
    spec = tiny_spec()
    spec["input"]["samples"] = 9000  # 71 frames: room for the default 64-frame time masks
    spec["train"] = {"type": "supervised", **train}
    return spec


def test_registered_with_paper_defaults():
    assert registry.get("train", "supervised") is SupervisedTrainer
    train = load_spec(_spec()).train
    assert train["batch_size"] == 16 and train["learning_rate"] == 1e-4 and train["weight_decay"] == 1e-4
    assert train["warmup_epochs"] == 5.0 and train["val_fraction"] == 0.15 and "optimizer" not in train
    assert train["monitor"] == "val_loss" and train["early_stopping_patience"] is None
    assert train["spec_augment"] == SPEC_AUGMENT_DEFAULTS


def test_partial_spec_augment_gets_defaults():
    train = load_spec(_spec(spec_augment={"time_mask_param": 5})).train
    assert train["spec_augment"] == {**SPEC_AUGMENT_DEFAULTS, "time_mask_param": 5}


@pytest.mark.parametrize("augment, message", [
    ({"time_mask": 3}, "spec_augment.time_mask: unknown key"),
    ({"enabled": "yes"}, "expected true or false"),
    ({"freq_mask_param": 0}, "must be >= 1"),
    ({"n_time_masks": 1.5}, "expected an integer"),
])
def test_bad_spec_augment(augment, message):
    with pytest.raises(SpecError, match=message):
        load_spec(_spec(spec_augment=augment))


def test_bad_fields_are_reported_together():
    with pytest.raises(SpecError) as info:
        load_spec(_spec(monitor="val_acc", batch_size=0, optimizer="sgd", warmup_epochs=-1))
    text = str(info.value)
    for key in ("train.batch_size", "train.optimizer", "train.warmup_epochs"):
        assert key in text
    with pytest.raises(SpecError, match="train.monitor: got 'val_fine'; did you mean 'val_fine_bce'.*this training logs "
                                        "val_loss, val_fine_bce, val_coarse_bce, val_consistency"):
        load_spec(_spec(monitor="val_fine"))


def test_spec_augment_needs_a_frontend():
    spec = _spec()
    del spec["frontend"]
    with pytest.raises(SpecError, match="no frontend"):
        load_spec(spec)
    spec["train"]["spec_augment"] = {"enabled": False}
    assert load_spec(spec).train["spec_augment"]["enabled"] is False


def test_cache_none_and_overrides():
    spec = load_spec(_spec(cache="none"), ["train.epochs=3", "train.spec_augment.enabled=false"])
    assert spec.train["cache"] is None and spec.train["epochs"] == 3
    assert spec.train["spec_augment"]["enabled"] is False
    again = load_spec(copy.deepcopy(spec.to_dict()))  # the normalised section validates again
    assert again.train == spec.train


# --- the three target kinds ---------------------------------------------------------------------


def test_target_kind_follows_the_head_and_picks_the_loss():
    from kaudio.training.fit import training_spec
    from tests.training import flat_spec

    assert training_spec(flat_spec("tagger")).loss["type"] == "bce"
    assert training_spec(flat_spec("classifier")).loss["type"] == "categorical_crossentropy"
    assert training_spec(tiny_spec()).loss["type"] == "hierarchical_bce"
    spec = flat_spec("tagger")
    spec["loss"] = {"type": "categorical_crossentropy"}
    with pytest.raises(SpecError, match="a tagger head \\(multilabel targets\\) is trained with loss 'bce'"):
        load_spec(spec)


@pytest.mark.parametrize("head_type, metrics", [("tagger", ("roc_auc", "pr_auc", "f1")),
                                                ("classifier", ("accuracy", "macro_f1"))])
def test_flat_heads_train_and_evaluate(tmp_path, head_type, metrics):
    from kaudio.training.data import with_data_classes
    from kaudio.training.fit import fit, training_spec
    from kaudio.training.trainer import trainer_for
    from tests.training import flat_spec, write_flat_folder

    folder = write_flat_folder(tmp_path / "data", n=20, single=head_type == "classifier")
    spec = with_data_classes(training_spec(flat_spec(head_type, epochs=3)), folder, announce=lambda line: None)
    assert spec.head["classes"] == ["tone1800", "tone300", "tone3000", "tone700"] and spec.head["num_classes"] == 4
    trainer = trainer_for(spec)
    data = trainer.load_data(folder)
    result = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "run", verbose=0)
    assert result.history["loss"][-1] < result.history["loss"][0]
    evaluation = trainer.evaluate(result.model, data.dataset("val"), data.dataset("test"), tmp_path / "run")
    (row,) = evaluation["rows"]
    assert tuple(k for k in row if k in metrics) == metrics
    assert (tmp_path / "run" / "thresholds.json").is_file() == (head_type == "tagger")


def test_a_classifier_needs_one_class_per_clip(tmp_path):
    from kaudio.data.labels_csv import LabelsError
    from kaudio.training.trainer import trainer_for
    from kaudio.training.fit import training_spec
    from tests.training import flat_spec, write_flat_folder

    folder = write_flat_folder(tmp_path / "data", n=10)  # 1-2 tones per clip
    spec = training_spec(flat_spec("classifier", classes=["tone300", "tone700", "tone1800", "tone3000"]))
    with pytest.raises(LabelsError, match="needs exactly one class per clip"):
        trainer_for(spec).load_data(folder)
