"""The spec's train section (type supervised): defaults, spec_augment keys, cross checks."""
import copy

import pytest

from kaudio import registry
from kaudio.errors import SpecError
from kaudio.spec import load_spec
from kaudio.training.spec_section import SPEC_AUGMENT_DEFAULTS, SupervisedTraining
from tests.training import tiny_spec


def _spec(**train):
    spec = tiny_spec()
    spec["train"] = {"type": "supervised", **train}
    return spec


def test_registered_with_paper_defaults():
    assert registry.get("train", "supervised") is SupervisedTraining
    train = load_spec(_spec()).train
    assert train["batch_size"] == 16 and train["learning_rate"] == 1e-4 and train["weight_decay"] == 1e-4
    assert train["warmup_epochs"] == 5.0 and train["optimizer"] == "adamw" and train["val_fraction"] == 0.15
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
    for key in ("train.monitor", "train.batch_size", "train.optimizer", "train.warmup_epochs"):
        assert key in text


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
