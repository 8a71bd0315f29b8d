"""The trainer protocol: train.type selects a registered class; kaudio.fit runs any of them."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kaudio import registry
from kaudio.errors import KaudioError, SpecError
from kaudio.spec import load_spec
from kaudio.spec.schema import Field, Schema
from kaudio.training import COMMON_FIELDS, Trainer, fit, trainer_for
from kaudio.training.supervised import SupervisedTrainer
from tests.conftest import tiny_audio_spec


class RegressionWrapper(keras.Model):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def call(self, x, training=None):
        return self.model(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return keras.ops.mean(keras.ops.square(y_pred - y))


if registry.lookup("train", "kaudio_tests_regression") is None:
    @registry.register("train", "kaudio_tests_regression")
    class RegressionTrainer(Trainer):
        """A test trainer: the embedding regresses onto fixed targets (one class, no edit of kaudio.fit)."""

        spec_schema = Schema(COMMON_FIELDS + (Field("learning_rate", float, 1e-2, "Adam's rate", minimum=0.0),))

        @classmethod
        def monitors_for(cls, context):
            return {"val_loss": "min", "val_gain": "max"}

        def training_model(self, model):
            return RegressionWrapper(model)

        def optimizer(self, steps_per_epoch):
            return keras.optimizers.Adam(self.settings["learning_rate"])

        def callbacks(self, run_dir, val_ds=None):
            class Gain(keras.callbacks.Callback):  # a metric the trainer adds to the epoch logs
                def on_epoch_end(self, epoch, logs=None):
                    logs["val_gain"] = -logs["val_loss"]
            return [Gain()]


def regression_data():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 4000, 1)) * 0.1).astype("float32")
    y = rng.uniform(size=(16, 8)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def test_fit_dispatches_on_train_type(tmp_path):
    spec = tiny_audio_spec(head={"type": "embedding_pool", "embedding_size": 8, "pool_sizes": {8: [16, 16]}},
                           train={"type": "kaudio_tests_regression", "epochs": 3, "monitor": "val_gain"})
    trainer = trainer_for(load_spec(spec))
    assert type(trainer).__name__ == "RegressionTrainer" and trainer.monitor == ("val_gain", "max")
    result = fit(spec, regression_data(), regression_data(), run_dir=tmp_path / "run", verbose=0)
    losses = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(losses)) + 1  # best by max val_gain = min val_loss
    assert (tmp_path / "run" / "best.keras").is_file()
    import json

    assert json.loads((tmp_path / "run" / "best.json").read_text())["mode"] == "max"


def test_a_monitor_the_trainer_does_not_log_is_refused():
    spec = tiny_audio_spec(train={"type": "kaudio_tests_regression", "monitor": "val_acc"})
    with pytest.raises(SpecError, match="train.monitor: got 'val_acc'.*this training logs val_loss, val_gain"):
        load_spec(spec)


def test_trainers_are_listed_and_unknown_ones_named():
    assert {"supervised", "kaudio_tests_regression"} <= set(registry.names("train"))
    assert registry.get("train", "supervised") is SupervisedTrainer
    with pytest.raises(SpecError, match="unknown train type 'supervise'; did you mean 'supervised'"):
        load_spec(tiny_audio_spec(train={"type": "supervise"}))
    with pytest.raises(KaudioError, match="has no train section"):
        trainer_for(load_spec(tiny_audio_spec()))


def test_common_keys_are_validated():
    spec = tiny_audio_spec(train={"type": "kaudio_tests_regression", "dtype_policy": "mixed_bfloat61",
                                  "distribution": {"strategy": "mirored"}})
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    text = str(info.value)
    assert "train.dtype_policy: unknown dtype policy 'mixed_bfloat61'; did you mean 'mixed_bfloat16'" in text
    assert "train.distribution.strategy: got 'mirored', expected one of mirrored, multi_worker; did you mean 'mirrored'" in text
