"""Keras callbacks of the run machinery (:func:`kaudio.fit`) and of the trainers."""
from __future__ import annotations

import json
import math
import time
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


#: The name Keras gives the state variable of every ``keras.random.SeedGenerator`` (dropout layers own one).
SEED_STATE_NAME = "seed_generator_state"


def seed_states(model) -> list:
    """The state variables of the seed generators of ``model`` and its layers (dropout masks come from them).
    Keras saves them with neither ``save_weights`` nor ``BackupAndRestore``."""
    return [variable for variable in model.variables if variable.name == SEED_STATE_NAME]


class SeedStateBackup(keras.callbacks.Callback):
    """Saves the model's seed-generator states beside ``BackupAndRestore``'s backup after every epoch and
    restores them when a run resumes, so that a resumed run draws the dropout masks an uninterrupted one
    draws (Keras's backup holds the weights and the optimizer, not these states: without this, a resumed
    run replays the masks of its first epoch). The file lives in the backup folder, which Keras removes when
    the run finishes."""

    FILE = "seed_states.npz"

    def __init__(self, backup_dir: Path):
        super().__init__()
        self.path = Path(backup_dir) / self.FILE

    def on_train_begin(self, logs=None):
        import numpy as np

        if not self.path.is_file():
            return
        states = seed_states(self.model)
        with np.load(self.path) as saved:
            if len(saved.files) != len(states):
                raise KaudioError(f"{self.path} holds {len(saved.files)} random-seed states, the model has "
                                  f"{len(states)}: the backup was written by another model; delete the run's "
                                  "backup/ folder to start over")
            for i, variable in enumerate(states):
                variable.assign(saved[f"state_{i}"])

    def on_epoch_end(self, epoch, logs=None):
        import numpy as np

        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp.npz")
        np.savez(temporary, **{f"state_{i}": np.asarray(keras.ops.convert_to_numpy(variable))
                                for i, variable in enumerate(seed_states(self.model))})
        temporary.replace(self.path)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's ``EarlyStopping`` whose patience survives a resume: before training it replays the monitored
    value of every epoch already trained (``epochs_done`` rows of ``history.csv``), so the epochs without
    improvement counted before an interruption still count after it (Keras's callback restarts its count and
    would let a resumed run train up to ``patience`` epochs longer than an uninterrupted one)."""

    def __init__(self, monitor: str, mode: str, patience: int, history_path: "Path | None" = None,
                 epochs_done: int = 0):
        super().__init__(monitor=monitor, mode=mode, patience=patience)
        self.history_path, self.epochs_done = history_path, int(epochs_done)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not self.epochs_done or self.history_path is None or not Path(self.history_path).is_file():
            return
        from kaudio.training.fit import read_history

        values = read_history(Path(self.history_path)).get(self.monitor, [])[:self.epochs_done]
        if self.monitor_op is None:
            self._set_monitor_op()
        for epoch, value in enumerate(values):  # the counting of EarlyStopping.on_epoch_end (no baseline)
            self.wait += 1
            if self._is_improvement(value, self.best):
                self.best, self.best_epoch, self.wait = value, epoch, 0


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


class EpochSeconds(keras.callbacks.Callback):
    """Each epoch's wall-clock seconds (training and validation) in the JSON list at ``path``, indexed by
    epoch: a resumed run (whose epochs continue from the backup) replaces the entries from the epoch it
    repeats on, so the list keeps one entry per finished epoch across interruptions."""

    def __init__(self, path: "str | Path"):
        super().__init__()
        self.path = Path(path)

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = json.loads(self.path.read_text()) if self.path.is_file() else []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(seconds[:epoch] + [round(time.perf_counter() - self.started, 2)]))
