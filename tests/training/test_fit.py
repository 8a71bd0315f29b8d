"""kaudio.fit: run directory, best epoch, learning, determinism and resume with identical state."""
import json

import keras
import numpy as np
import pytest
import yaml

import kaudio
from kaudio.errors import KaudioError
from kaudio.training import fit
from kaudio.training.fit import finished_run, read_history, training_spec
from kaudio.training.schedules import WarmupSchedule
from tests.training import tiny_spec, toy_dataset


class Interrupt(Exception):
    pass


class InterruptAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt()


def _weights(path):
    return keras.models.load_model(path).get_weights()


def test_run_dir_contents_and_best_model(tmp_path):
    result = fit(tiny_spec(epochs=2), toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    for name in ("spec.yaml", "best.keras", "best.json", "history.csv"):
        assert (run / name).is_file(), name
    assert list((run / "logs").rglob("events.out.tfevents*"))
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["epoch_002.keras"]  # keep_checkpoints 1
    assert not (run / "backup").exists()  # removed once the run finished
    assert finished_run(run, training_spec(tiny_spec(epochs=2)))
    assert not finished_run(run, training_spec(tiny_spec(epochs=3)))  # another spec
    spec = yaml.safe_load((run / "spec.yaml").read_text())
    assert spec["train"]["type"] == "supervised" and spec["head"]["hierarchy"]["low"] == ["tone300", "tone700"]
    history = result.history
    for key in ("loss", "fine_bce", "coarse_bce", "consistency", "val_loss", "val_fine_bce", "val_coarse_bce"):
        assert len(history[key]) == 2, key
    assert result.best_epoch == int(np.argmin(history["val_loss"])) + 1
    assert json.loads((run / "best.json").read_text())["epoch"] == result.best_epoch
    best = keras.models.load_model(run / "best.keras")
    assert isinstance(best, kaudio.KaudioModel)
    x = np.zeros((2, 2000, 1), np.float32)
    np.testing.assert_allclose(best.predict(x, verbose=0)["fine"], result.model.predict(x, verbose=0)["fine"], atol=1e-6)


@pytest.mark.slow
def test_loss_decreases_on_learnable_toy_task(tmp_path):
    result = fit(tiny_spec(epochs=8, spec_augment=True), toy_dataset(64, 0), toy_dataset(32, 1),
                 run_dir=tmp_path / "run", verbose=0)
    val_fine = result.history["val_fine_bce"]
    # chance level is ln 2 ≈ 0.69 for balanced tags; the toy task must be learnt well below it
    assert min(val_fine) < 0.45, val_fine
    assert min(val_fine) < 0.7 * val_fine[0], val_fine
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_same_seed_gives_identical_weights(tmp_path):
    spec = tiny_spec(epochs=1, spec_augment=True)
    a = fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "a", verbose=0)
    b = fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "b", verbose=0)
    c = fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "c", verbose=0,
            overrides={"train.seed": 1})
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a.model.get_weights(), c.model.get_weights()))


@pytest.mark.parametrize("spec_augment", [False, True])
def test_resume_after_interruption_is_identical(tmp_path, spec_augment):
    spec = tiny_spec(epochs=2, spec_augment=spec_augment, warmup_epochs=1.5, keep_checkpoints=2)
    full = fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "full", verbose=0)
    with pytest.raises(Interrupt):
        fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "cut", verbose=0,
            callbacks=[InterruptAfterEpoch(0)])
    assert (tmp_path / "cut" / "backup").is_dir()
    assert len(read_history(tmp_path / "cut" / "history.csv")["loss"]) == 1
    assert not finished_run(tmp_path / "cut", training_spec(spec))  # half trained: resume it, don't read it back
    resumed = fit(spec, toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "cut", verbose=0)
    assert resumed.history == full.history
    assert resumed.best_epoch == full.best_epoch
    assert finished_run(tmp_path / "cut", training_spec(spec))
    for epoch in ("epoch_001", "epoch_002"):
        for wa, wb in zip(_weights(tmp_path / "full" / "checkpoints" / f"{epoch}.keras"),
                          _weights(tmp_path / "cut" / "checkpoints" / f"{epoch}.keras")):
            np.testing.assert_array_equal(wa, wb)


def test_an_extendable_run_continues_like_a_longer_run(tmp_path):
    """train.extendable: a run that reached train.epochs keeps its state, and a larger train.epochs continues it
    to the result of a run that had the larger budget from the start; any other change starts over."""
    spec = lambda epochs, **train: tiny_spec(epochs=epochs, spec_augment=True, keep_checkpoints=3,  # noqa: E731
                                             early_stopping_patience=5, **train)
    longer = fit(spec(3), toy_dataset(16, 0), toy_dataset(8, 1), run_dir=tmp_path / "longer", verbose=0)
    run = tmp_path / "run"
    fit(spec(2, extendable=True), toy_dataset(16, 0), toy_dataset(8, 1), run_dir=run, verbose=0)
    assert (run / "final_state").is_dir() and not (run / "backup").exists()
    assert not (tmp_path / "longer" / "final_state").exists()  # not extendable: nothing kept
    trained = []
    counter = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: trained.append(epoch))
    extended = fit(spec(3, extendable=True), toy_dataset(16, 0), toy_dataset(8, 1), run_dir=run, verbose=0,
                   callbacks=[counter])
    assert trained == [2]  # only the third epoch was trained
    assert extended.history == longer.history
    assert extended.best_epoch == longer.best_epoch
    for wa, wb in zip(_weights(tmp_path / "longer" / "checkpoints" / "epoch_003.keras"),
                      _weights(run / "checkpoints" / "epoch_003.keras")):
        np.testing.assert_array_equal(wa, wb)
    assert json.loads((run / "final_state" / "training_metadata.json").read_text())["epoch"] == 3
    other = fit(spec(4, extendable=True, learning_rate=1e-3), toy_dataset(16, 0), toy_dataset(8, 1), run_dir=run,
                verbose=0)
    assert len(other.history["loss"]) == 4 and other.history["loss"][0] != longer.history["loss"][0]


def test_warmup_schedule_is_linear_then_constant():
    schedule = WarmupSchedule(1e-3, 4)
    values = [float(schedule(step)) for step in range(6)]
    np.testing.assert_allclose(values, [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3], rtol=1e-6)
    assert float(WarmupSchedule(1e-3, 0)(0)) == pytest.approx(1e-3)
    restored = WarmupSchedule.from_config(schedule.get_config())
    assert float(restored(1)) == pytest.approx(5e-4)


def test_missing_train_and_loss_sections_get_defaults(tmp_path):
    spec = tiny_spec(epochs=1)
    del spec["loss"]
    spec["train"] = None
    del spec["train"]
    result = fit(spec, toy_dataset(8, 0), toy_dataset(8, 1), run_dir=tmp_path / "run", verbose=0,
                 overrides={"train.epochs": 1, "train.spec_augment.enabled": False, "train.warmup_epochs": 0})
    assert result.spec.train["batch_size"] == 16 and result.spec.loss["fine_weight"] == 0.8


def test_bad_datasets_raise_clear_errors(tmp_path):
    import tensorflow as tf

    audio = np.zeros((4, 2000, 1), np.float32)
    only_fine = tf.data.Dataset.from_tensor_slices((audio, {"fine": np.zeros((4, 4), np.float32)})).batch(2)
    with pytest.raises(KaudioError, match="coarse"):
        fit(tiny_spec(epochs=1), only_fine, only_fine, run_dir=tmp_path / "a", verbose=0)
    short = tf.data.Dataset.from_tensor_slices((np.zeros((4, 1000, 1), np.float32),
                                                toy_dataset(4, 0).unbatch().map(lambda a, t: t)
                                                .batch(4).get_single_element())).batch(2)
    with pytest.raises(KaudioError, match="shape"):
        fit(tiny_spec(epochs=1), short, short, run_dir=tmp_path / "b", verbose=0)
    with pytest.raises(KaudioError, match="validation"):
        fit(tiny_spec(epochs=1), toy_dataset(8), None, run_dir=tmp_path / "c", verbose=0)


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # unbatch(): unknown cardinality
def test_resume_continues_a_reshuffled_dataset(tmp_path):
    """A dataset reshuffled each epoch (as kaudio.data.make_dataset(shuffle=True)) resumes identically."""
    def shuffled():
        keras.utils.set_random_seed(7)  # tf.data's shuffle seed also depends on the global seed
        return toy_dataset(16, 0).unbatch().shuffle(16, seed=3, reshuffle_each_iteration=True).batch(4)

    spec = tiny_spec(epochs=3, spec_augment=False)
    full = fit(spec, shuffled(), toy_dataset(8, 1), run_dir=tmp_path / "full", verbose=0)
    with pytest.raises(Interrupt):
        fit(spec, shuffled(), toy_dataset(8, 1), run_dir=tmp_path / "cut", verbose=0,
            callbacks=[InterruptAfterEpoch(1)])
    resumed = fit(spec, shuffled(), toy_dataset(8, 1), run_dir=tmp_path / "cut", verbose=0)
    assert resumed.history == full.history


def test_training_spec_applies_overrides_before_validating(tmp_path):
    """An override may be what makes a spec valid (a teacher path of another machine, epochs: 0 in a template)."""
    from kaudio.errors import SpecError
    from kaudio.training.fit import training_spec

    spec = tiny_spec(epochs=2)
    spec["train"]["epochs"] = 0
    with pytest.raises(SpecError, match="train.epochs"):
        training_spec(spec)
    assert training_spec(spec, {"train.epochs": 3}).train["epochs"] == 3
