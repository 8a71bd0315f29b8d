"""Keras callbacks of the run machinery (:func:`kaudio.fit`) and of the trainers."""
from __future__ import annotations

import json
import math
from pathlib import Path

import keras

from kaudio.errors import KaudioError


class BestModel(keras.callbacks.Callback):
    """Saves the trained model (``self.model.model``, the plain KaudioModel inside the training
    wrapper) to ``best.keras`` when ``monitor`` improves (``mode`` ``min`` or ``max``); remembers the
    best across a resume in ``best.json``."""

    def __init__(self, run_dir: Path, monitor: str, mode: str, resuming: bool, write: bool = True):
        super().__init__()
        self.path, self.info_path, self.monitor, self.mode = run_dir / "best.keras", run_dir / "best.json", monitor, mode
        self.write = write
        self.best_value = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        if resuming and self.info_path.is_file():
            info = json.loads(self.info_path.read_text())
            self.best_value, self.best_epoch = float(info["value"]), int(info["epoch"])

    def improved(self, value: float) -> bool:
        return value < self.best_value if self.mode == "min" else value > self.best_value

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KaudioError(f"train.monitor {self.monitor!r} is not in the epoch logs ({', '.join(logs or {})})")
        if math.isfinite(float(value)) and self.improved(float(value)):
            self.best_value, self.best_epoch = float(value), epoch + 1
            if self.write:
                self.model.model.save(self.path)
                self.info_path.write_text(json.dumps({"epoch": self.best_epoch, "monitor": self.monitor,
                                                      "mode": self.mode, "value": self.best_value}))


class ReseedAugmentation(keras.callbacks.Callback):
    """Makes kapre's SpecAugment masks a function of (seed, epoch) so a resumed run draws the same ones.

    kapre draws its masks with stateful ``tf.random`` ops whose stream restarts whenever the train
    function is traced; a resumed run would replay epoch 1's masks. At each epoch start this sets
    TensorFlow's global seed to ``seed·10007 + epoch`` and retraces the train step, so epoch ``e``
    uses the same masks whether or not the run was interrupted before it.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        import tensorflow as tf

        tf.random.set_seed(self.seed * 10007 + epoch)
        self.model.make_train_function(force=True)


class EpochCheckpoints(keras.callbacks.Callback):
    """``checkpoints/epoch_NNN.keras`` (the plain KaudioModel) after every epoch; keeps the last ``keep``."""

    def __init__(self, folder: Path, keep: int):
        super().__init__()
        self.folder, self.keep = folder, keep

    def on_epoch_end(self, epoch, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.model.model.save(self.folder / f"epoch_{epoch + 1:03d}.keras")
        for old in sorted(self.folder.glob("epoch_*.keras"))[:-self.keep]:
            old.unlink()


class ValidationMetrics(keras.callbacks.Callback):
    """Adds metrics computed on the validation data to the epoch logs (before the best-checkpoint and
    learning-rate callbacks read them): ``metrics(targets, scores) -> {"val_<name>": value}`` on the
    predictions over ``val_ds`` of the network that ``network(wrapper)`` returns — by default the
    trained model inside the training wrapper (``wrapper.model``); a trainer whose wrapper trains
    several networks (sub-networks of a once-for-all supernet) returns the one to score."""

    def __init__(self, val_ds, metrics, network=None):
        super().__init__()
        self.val_ds, self.metrics = val_ds, metrics
        self.network = network if network is not None else (lambda wrapper: wrapper.model)

    def on_epoch_end(self, epoch, logs=None):
        from kaudio.training.evaluate import predict_dataset

        if self.val_ds is None or logs is None:
            return
        targets, scores = predict_dataset(self.network(self.model), self.val_ds)
        logs.update({name: float(value) for name, value in self.metrics(targets, scores).items()})
