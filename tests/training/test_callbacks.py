"""ValidationMetrics: metrics of the validation predictions added to the epoch logs, for the trained
model or the network a trainer chooses. SeedStateBackup: dropout's seed states saved and restored.
ResumableEarlyStopping: the count of epochs without improvement survives a resume."""
import keras
import numpy as np
import tensorflow as tf

import pytest

from kaudio.errors import KaudioError
from kaudio.training.callbacks import (EpochSeconds, ResumableEarlyStopping, SeedStateBackup, ValidationMetrics,
                                      seed_states)


def _dense(seed):
    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Dense(2, activation="sigmoid",
                                              kernel_initializer=keras.initializers.RandomNormal(seed=seed))(x))
    return model


def test_metrics_of_the_trained_model_or_of_the_chosen_network():
    trained, other = _dense(1), _dense(2)
    wrapper = keras.Model(trained.input, trained.output)
    wrapper.model = trained
    x = np.random.default_rng(0).standard_normal((6, 3)).astype("float32")
    val = tf.data.Dataset.from_tensor_slices((x, {"labels": np.zeros((6, 2), np.float32)})).batch(4)

    def mean_score(targets, scores):
        assert targets["labels"].shape == (6, 2)
        return {"val_mean": scores["labels"].mean()}

    for callback, network in ((ValidationMetrics(val, mean_score), trained),
                              (ValidationMetrics(val, mean_score, network=lambda w: other), other)):
        callback.set_model(wrapper)
        logs = {"loss": 1.0}
        callback.on_epoch_end(0, logs)
        np.testing.assert_allclose(logs["val_mean"], float(np.mean(network(x))), rtol=1e-6)
        assert logs["loss"] == 1.0
    assert not np.allclose(trained(x), other(x))


def _with_dropout(units=3):
    x = keras.Input((4,))
    return keras.Model(x, keras.layers.Dropout(0.5)(keras.layers.Dense(units)(x)))


def test_seed_states_are_saved_and_restored(tmp_path):
    model = _with_dropout()
    states = seed_states(model)
    assert len(states) == 1 and not any(state is weight for state in states for weight in model.weights)
    backup = SeedStateBackup(tmp_path / "backup")
    backup.set_model(model)
    backup.on_train_begin()  # nothing saved yet: nothing changes
    x = np.ones((2, 4), np.float32)
    model(x, training=True)
    backup.on_epoch_end(0)
    saved = np.asarray(states[0])
    first = np.asarray(model(x, training=True))  # the masks an uninterrupted run draws next
    restarted = _with_dropout()
    restarted.set_weights(model.get_weights())  # what BackupAndRestore restores
    assert not np.array_equal(np.asarray(seed_states(restarted)[0]), saved)
    resumed = SeedStateBackup(tmp_path / "backup")
    resumed.set_model(restarted)
    resumed.on_train_begin()
    np.testing.assert_array_equal(np.asarray(seed_states(restarted)[0]), saved)
    np.testing.assert_array_equal(np.asarray(restarted(x, training=True)), first)
    other = keras.Model(restarted.input, keras.layers.Dropout(0.2)(restarted.output))
    mismatch = SeedStateBackup(tmp_path / "backup")
    mismatch.set_model(other)
    with pytest.raises(KaudioError, match="holds 1 random-seed states, the model has 2"):
        mismatch.on_train_begin()


def test_epoch_seconds_keep_one_entry_per_epoch_across_a_resume(tmp_path):
    import json

    path = tmp_path / "run" / "epoch_seconds.json"
    first = EpochSeconds(path)
    for epoch in range(3):
        first.on_epoch_begin(epoch)
        first.on_epoch_end(epoch)
    resumed = EpochSeconds(path)  # a new process repeats epoch 2 (its backup was of epoch 1) and goes on
    for epoch in (2, 3):
        resumed.on_epoch_begin(epoch)
        resumed.on_epoch_end(epoch)
    seconds = json.loads(path.read_text())
    assert len(seconds) == 4 and all(0 <= s < 5 for s in seconds)


def _write_history(path, values):
    path.write_text("epoch,val_loss\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))


@pytest.mark.parametrize("epochs_done, stops_after", [(4, 1), (2, 3), (0, 4)])
def test_early_stopping_replays_the_epochs_trained_before_a_resume(tmp_path, epochs_done, stops_after):
    """val_loss 1.0, 0.5, 0.6, 0.7 with patience 3: after all four epochs one more without improvement stops the
    run (as it would have uninterrupted); after two, three more are needed; a fresh start counts from nothing
    (its first epoch is an improvement)."""
    _write_history(tmp_path / "history.csv", [1.0, 0.5, 0.6, 0.7])
    callback = ResumableEarlyStopping("val_loss", "min", 3, tmp_path / "history.csv", epochs_done)
    callback.set_model(_dense(0))
    callback.on_train_begin()
    assert callback.wait == {4: 2, 2: 0, 0: 0}[epochs_done]
    assert callback.best == {4: 0.5, 2: 0.5, 0: None}[epochs_done]
    stopped = None
    for k, epoch in enumerate(range(epochs_done, epochs_done + 4)):
        callback.on_epoch_end(epoch, {"val_loss": 0.9})
        if getattr(callback.model, "stop_training", False):
            stopped = k + 1
            break
    assert stopped == stops_after
