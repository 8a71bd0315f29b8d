"""The avc trainer: spec rules, Adam + the L2 regularisers in the loss, accuracy, fit/resume/evaluate on videos."""
import keras
import numpy as np
import pytest

from kaudio.errors import SpecError
from kaudio.training.fit import fit, read_history, training_spec
from kaudio.training.trainer import trainer_for
from tests.training.avc_data import tiny_avc_spec, write_avc_videos
from tests.training.test_fit import Interrupt, InterruptAfterEpoch

pytestmark = pytest.mark.filterwarnings("ignore:Your input ran out of data")


@pytest.fixture(scope="module")
def avc_videos(tmp_path_factory):
    return write_avc_videos(tmp_path_factory.mktemp("avc_train") / "videos")


def test_reference_defaults_on_the_bundled_spec():
    spec = training_spec("l3_avc_m256")
    train = spec.train
    assert (train["learning_rate"], train["batch_size"], train["steps_per_epoch"], train["epochs"]) == (1e-5, 64, 4096,
                                                                                                        300)
    assert (train["monitor"], train["val_samples"], train["frame"], train["negatives"]) == (
        "val_accuracy", 65536, "window", "fixed_partner")
    assert spec.loss["type"] == "categorical_crossentropy"
    assert trainer_for(spec).monitor == ("val_accuracy", "max")


@pytest.mark.parametrize("change, message", [
    ({"fusion": {"activation": "sigmoid"}}, "needs a 2-way softmax fusion"),
    ({"loss": {"type": "bce"}}, "avc training uses loss 'categorical_crossentropy'"),
    ({"train": {"monitor": "val_map"}}, "this training logs val_loss, val_cce, val_accuracy"),
    ({"train": {"negatives": "balanced", "batch_size": 5}}, "balanced needs an even batch size"),
    ({"train": {"val_fraction": 0.5, "test_fraction": 0.5}}, "leaves no training videos"),
])
def test_bad_avc_specs_are_refused(change, message):
    spec = tiny_avc_spec()
    for section, values in change.items():
        spec[section] = {**spec.get(section, {}), **values}
    with pytest.raises(SpecError, match=message):
        training_spec(spec)


def test_a_chain_spec_is_refused():
    with pytest.raises(SpecError, match="avc training takes a two-tower spec"):
        training_spec("l3_m256", {"train.type": "avc"})


def test_adam_and_the_l2_regularisers_are_the_loss():
    """Constant-lr Adam (no AdamW decay); the loss is the cross-entropy plus the L2 1e-5 of every conv and dense
    kernel (8 convs in the two tiny towers, 2 dense layers in the fusion); accuracy is logged."""
    spec = training_spec(tiny_avc_spec())
    trainer = trainer_for(spec)
    optimizer = trainer.optimizer(10)
    assert type(optimizer) is keras.optimizers.Adam and float(optimizer.learning_rate) == pytest.approx(1e-3)
    model = trainer.build_model()
    wrapper = trainer.training_model(model)
    assert len(model.losses) == 10
    rng = np.random.default_rng(0)
    x = {"vision": rng.uniform(-1, 1, (4, 32, 32, 3)).astype("float32"),
         "audio": rng.uniform(-0.5, 0.5, (4, 8000, 1)).astype("float32")}
    labels = np.eye(2, dtype="float32")[[0, 1, 1, 0]]
    y_pred = wrapper(x)
    loss = float(wrapper.compute_loss(x, {"correspondence": labels}, y_pred))
    p = np.clip(np.asarray(y_pred), 1e-7, 1)
    cce = float(np.mean(-np.sum(labels * np.log(p), axis=-1)))
    l2 = sum(1e-5 * float(np.sum(np.square(w))) for layer in _kernel_layers(model) for w in [layer.kernel])
    assert loss == pytest.approx(cce + l2, rel=1e-5)
    assert float(wrapper.accuracy.result()) == pytest.approx(np.mean(np.argmax(p, -1) == np.argmax(labels, -1)))


def _kernel_layers(model):
    layers = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layers.append(layer)
    return layers


def test_train_resume_and_evaluate(avc_videos, tmp_path):
    """Epoch 2 trains on new pairs; a run interrupted after epoch 1 resumes to the weights and history of an
    uninterrupted run; the best epoch is chosen by val_accuracy; evaluate writes accuracy + confusion counts."""
    spec = training_spec(tiny_avc_spec())
    trainer = trainer_for(spec)
    data = trainer.load_data(avc_videos)
    assert [len(data.splits[k]) for k in ("train", "val", "test")] == [4, 2, 0]
    full = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "full", verbose=0)
    assert set(full.history) >= {"accuracy", "val_accuracy", "val_cce", "loss"}
    best = int(np.argmax(full.history["val_accuracy"])) + 1
    assert full.best_epoch == best
    with pytest.raises(Interrupt):
        fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "cut", verbose=0,
            callbacks=[InterruptAfterEpoch(0)])
    assert len(read_history(tmp_path / "cut" / "history.csv")["loss"]) == 1
    resumed = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "cut", verbose=0)
    assert resumed.history == full.history
    for a, b in zip(full.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)

    result = trainer.evaluate(full.model, None, data.dataset("val"), tmp_path / "full", split="val")
    confusion = result["confusion"]
    assert sum(confusion.values()) == 8
    accuracy = (confusion["match_as_match"] + confusion["mismatch_as_mismatch"]) / 8
    assert result["rows"][0]["accuracy"] == pytest.approx(accuracy)
    assert accuracy == pytest.approx(full.history["val_accuracy"][full.best_epoch - 1])
    written = (tmp_path / "full" / "metrics.md").read_text()
    assert "| true \\ predicted | mismatch | match |" in written and "Accuracy" in written


def test_split_is_saved_and_reused(avc_videos, tmp_path):
    spec = training_spec(tiny_avc_spec())
    trainer = trainer_for(spec)
    data = trainer.load_data(avc_videos)
    path = data.save_split(tmp_path / "run" / "split.json")
    again = trainer.load_data(avc_videos, split_file=path)
    assert again.splits == data.splits
    val = [x["audio"].numpy() for x, _ in data.dataset("val")]
    assert [v.shape[0] for v in val] == [4, 4]  # val_samples 8 in batches of 4, the same every time
    np.testing.assert_array_equal(np.concatenate(val), np.concatenate([x["audio"].numpy()
                                                                       for x, _ in again.dataset("val", seed=3)]))


def test_mirrored_on_two_devices(avc_videos, tmp_path):
    """train.distribution works with the AVC datasets: the batch of 4 is split over two virtual CPU replicas
    (as the reference split 64 over 4 GPUs: batch-norm statistics per replica) and the run logs the AVC metrics."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-m", "tests.training.avc_mirrored_worker", str(avc_videos),
                           str(tmp_path / "run")], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert len(result["history"]["val_accuracy"]) == 1 and np.isfinite(result["history"]["loss"][0])
    assert (tmp_path / "run" / "best.keras").is_file()


def test_train_from_shards(avc_videos, tmp_path):
    """A `kaudio avc prepare` folder trains like the videos: its split, its shards, the fixed validation shards."""
    from kaudio.data.avc import prepare_shards

    spec = training_spec(tiny_avc_spec(epochs=1, steps_per_epoch=2, val_samples=4))
    trainer = trainer_for(spec)
    for split, samples in (("train", 16), ("val", 8)):
        prepare_shards(avc_videos, tmp_path / "shards", split=split, samples=samples, shard_size=8,
                       settings=trainer.avc_settings(), progress=False, val_fraction=0.34, test_fraction=0.0)
    data = trainer.load_data(tmp_path / "shards")
    videos = trainer.load_data(avc_videos)
    assert data.splits == videos.splits
    assert data.save_split(tmp_path / "run" / "split.json").read_text() == (tmp_path / "shards" / "split.json").read_text()
    result = fit(spec, data.dataset("train", 0), data.dataset("val", 0), run_dir=tmp_path / "run", verbose=0)
    assert len(result.history["val_accuracy"]) == 1
    assert sum(int(x["audio"].shape[0]) for x, _ in data.dataset("val")) == 4
