"""``kaudio.fit``: train a spec's hierarchical tagger on ``tf.data`` datasets (Zhong et al., §4.2).

A run directory holds::

    spec.yaml        the validated spec (with the train and loss sections filled in)
    best.keras       the plain KaudioModel of the best epoch (lowest ``train.monitor``, val_loss)
    best.json        {"epoch": 1-based epoch, "monitor": name, "value": ...}
    checkpoints/     epoch_NNN.keras of the last ``train.keep_checkpoints`` epochs
    backup/          keras.callbacks.BackupAndRestore state while a run is unfinished
    logs/            TensorBoard logs
    history.csv      one row per epoch: loss, fine_bce, coarse_bce, consistency and val_* of each
    init_weights.json  with ``train.init_weights``: the source file, the backbone layers copied and
                     the front-end keys that differ from the source's

Resume: calling :func:`fit` again with the same ``run_dir`` after an interruption restores the
weights, the optimizer (moments and step count, hence the warm-up position) and the epoch from
``backup/`` and continues with the same result as an uninterrupted run (tested: weights and
history are bit-identical). Per-epoch randomness is replayed too: the training dataset's
per-iteration state (``shuffle(seed=…, reshuffle_each_iteration=True)``, ``Dataset.random``, as
``kaudio.data.make_dataset(shuffle=True)`` uses) is advanced by the finished epochs, and kapre's
SpecAugment masks are drawn from a seed of (train.seed, epoch). Build the datasets the same way
(same seeds) for the resumed call. EarlyStopping's patience counter restarts on resume.

Fine-tuning: with ``train.init_weights`` the backbone starts from the backbone weights of that
``.keras`` model (:func:`kaudio.training.init_weights.init_backbone`) — on a fresh start only; a
resumed run continues from ``backup/`` and never reloads them. The saved models (``best.keras``,
checkpoints) record ``init_weights: null`` in their spec, so they load on machines without the
pretrained file; ``spec.yaml`` and ``init_weights.json`` keep the path. ``train.freeze_backbone``
sets ``backbone.trainable = False`` before compiling (fresh and resumed runs alike).

Determinism: ``train.deterministic`` (default true) calls
``tf.config.experimental.enable_op_determinism()``, which lasts for the whole process.
"""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import yaml

from kaudio.errors import KaudioError
from kaudio.losses import loss_from_spec
from kaudio.models.kaudio_model import KaudioModel
from kaudio.spec.validate import Spec, load_spec
from kaudio.training import init_weights as _init_weights
from kaudio.training.model import HierarchicalTrainer, spec_augment_layer


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        model: the KaudioModel with the weights of the best epoch.
        history: ``{metric: [value per epoch]}`` of the whole run (resumed epochs included).
        best_epoch: the 1-based epoch whose weights are in ``model`` and ``best.keras``.
        run_dir: the run directory.
        spec: the validated spec that was trained.
    """

    model: KaudioModel
    history: dict[str, list[float]]
    best_epoch: int
    run_dir: Path
    spec: Spec | None = field(default=None, repr=False)


@keras.saving.register_keras_serializable(package="kaudio")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``learning_rate`` over ``warmup_steps`` optimizer steps, then constant
    (the paper's "5-epoch linear warm-up": ``lr(step) = lr · min(1, (step + 1) / warmup_steps)``)."""

    def __init__(self, learning_rate: float, warmup_steps: int):
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        if self.warmup_steps <= 0:
            return keras.ops.full((), self.learning_rate, "float32")
        return self.learning_rate * keras.ops.minimum(1.0, (step + 1.0) / float(self.warmup_steps))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}


def training_spec(spec, overrides=None) -> Spec:
    """Validate ``spec`` (+ ``overrides``) and fill in missing ``train``/``loss`` sections with defaults."""
    return load_spec(spec, overrides, defaults={"train": {"type": "supervised"}, "loss": {"type": "hierarchical_bce"}},
                     defaults_origin="(added by kaudio: the spec has no such section)")


def _model_spec(spec: Spec) -> Spec:
    """The spec the trained model records: ``train.init_weights`` set to null (a machine-specific path
    that validation requires to exist), so that ``best.keras`` loads anywhere."""
    if not (spec.train or {}).get("init_weights"):
        return spec
    return load_spec(spec, {"train.init_weights": None})


def count_batches(dataset) -> int:
    """Number of batches of a finite dataset (its cardinality, or one pass when it is unknown)."""
    import tensorflow as tf

    n = int(dataset.cardinality())
    if n == tf.data.INFINITE_CARDINALITY:
        raise KaudioError("the training dataset is infinite (repeat()); give one epoch of batches")
    if n < 0:
        n = int(dataset.reduce(0, lambda count, _: count + 1))
    if n == 0:
        raise KaudioError("the training dataset is empty")
    return n


def _check_dataset(dataset, model: KaudioModel, what: str) -> None:
    element = dataset.element_spec
    if not (isinstance(element, tuple) and len(element) in (2, 3) and isinstance(element[1], dict)):
        raise KaudioError(f"the {what} dataset must yield (audio, targets) with targets a dict {{'fine', 'coarse', "
                          "'fine_mask', 'coarse_mask'}} (kaudio.data.make_dataset does)")
    missing = [key for key in ("fine", "coarse") if key not in element[1]]
    if missing:
        raise KaudioError(f"the {what} dataset's targets lack {missing}; expected keys fine, coarse, fine_mask, coarse_mask")
    expected = tuple(model.input.shape[1:])
    got = tuple(element[0].shape[1:])
    if len(got) != len(expected) or any(e is not None and g is not None and e != g for e, g in zip(expected, got)):
        raise KaudioError(f"the {what} dataset yields audio of shape {got}, the model expects {expected} "
                          "(input.samples, channels); crop/pad the clips to the spec's input")


class _BestModel(keras.callbacks.Callback):
    """Saves the wrapped KaudioModel to ``best.keras`` when ``monitor`` improves; remembers the best
    across a resume in ``best.json``."""

    def __init__(self, run_dir: Path, monitor: str, resuming: bool):
        super().__init__()
        self.path, self.info_path, self.monitor = run_dir / "best.keras", run_dir / "best.json", monitor
        self.best_value, self.best_epoch = float("inf"), 0
        if resuming and self.info_path.is_file():
            info = json.loads(self.info_path.read_text())
            self.best_value, self.best_epoch = float(info["value"]), int(info["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KaudioError(f"train.monitor {self.monitor!r} is not in the epoch logs ({', '.join(logs or {})})")
        if float(value) < self.best_value:
            self.best_value, self.best_epoch = float(value), epoch + 1
            self.model.model.save(self.path)
            self.info_path.write_text(json.dumps({"epoch": self.best_epoch, "monitor": self.monitor,
                                                  "value": self.best_value}))


class _ReseedAugmentation(keras.callbacks.Callback):
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


class _EpochCheckpoints(keras.callbacks.Callback):
    """``checkpoints/epoch_NNN.keras`` (the plain KaudioModel) after every epoch; keeps the last ``keep``."""

    def __init__(self, folder: Path, keep: int):
        super().__init__()
        self.folder, self.keep = folder, keep

    def on_epoch_end(self, epoch, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.model.model.save(self.folder / f"epoch_{epoch + 1:03d}.keras")
        for old in sorted(self.folder.glob("epoch_*.keras"))[:-self.keep]:
            old.unlink()


def _backup_epoch(backup_dir: Path) -> int:
    """The number of finished epochs recorded by BackupAndRestore (0 if unknown)."""
    path = backup_dir / "training_metadata.json"
    try:
        return int(json.loads(path.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _advance_epochs(dataset, epochs: int) -> None:
    """Open ``epochs`` iterators of ``dataset`` so that a resumed run continues its per-iteration
    randomness (``shuffle(reshuffle_each_iteration=True)``, ``Dataset.random``) where the
    interrupted run stopped, instead of replaying epoch 1's order."""
    for _ in range(epochs):
        next(iter(dataset), None)


def read_history(path: Path) -> dict[str, list[float]]:
    """``history.csv`` as ``{column: [float per epoch]}`` (``epoch`` 0-based as Keras writes it)."""
    if not Path(path).is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def default_run_dir(spec: Spec) -> Path:
    return Path("runs") / f"{spec.name}_{time.strftime('%Y%m%d-%H%M%S')}"


def fit(spec: "Spec | str | os.PathLike | dict", train_ds, val_ds, run_dir: "str | os.PathLike | None" = None,
        overrides: "list[str] | dict | None" = None, verbose: int = 1, callbacks: list | None = None) -> FitResult:
    """Train the spec's model on ``train_ds``, choose the best epoch on ``val_ds``; resumable.

    Args:
        spec: a spec (path, bundled name, dict or :class:`Spec`) with a hierarchical head; missing
            ``train``/``loss`` sections get their defaults (``supervised``, ``hierarchical_bce``).
        train_ds / val_ds: finite ``tf.data`` datasets of batches ``(audio (B, samples, ch), targets)``,
            targets ``{"fine", "coarse", "fine_mask", "coarse_mask"}`` (``kaudio.data.make_dataset``).
        run_dir: the run directory (default ``runs/<name>_<time>``); if it holds an unfinished run
            (``backup/``), training resumes from it.
        overrides: ``--set``-style overrides, e.g. ``{"train.epochs": 3, "loss.fine_weight": 0.9}``.
        verbose: Keras progress output (0 silent, 1 progress bar, 2 one line per epoch).
        callbacks: extra Keras callbacks (called after kaudio's).

    Returns:
        :class:`FitResult` with the best epoch's model (also in ``run_dir/best.keras``).
    """
    import tensorflow as tf

    spec = training_spec(spec, overrides)
    settings = spec.params("train")
    if val_ds is None:
        raise KaudioError("kaudio.fit needs a validation dataset: the best epoch is chosen by validation loss")
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(spec)
    run_dir.mkdir(parents=True, exist_ok=True)
    backup_dir = run_dir / "backup"
    resuming = backup_dir.is_dir() and any(backup_dir.iterdir())
    if not resuming:
        for stale in ("history.csv", "best.json", "best.keras", "init_weights.json"):
            (run_dir / stale).unlink(missing_ok=True)
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False), encoding="utf-8")

    keras.utils.set_random_seed(settings["seed"])
    if settings["deterministic"]:
        tf.config.experimental.enable_op_determinism()

    model = KaudioModel(_model_spec(spec))
    _check_dataset(train_ds, model, "training")
    _check_dataset(val_ds, model, "validation")
    if settings["init_weights"] and not resuming:
        report = _init_weights.init_backbone(model, settings["init_weights"])
        (run_dir / "init_weights.json").write_text(json.dumps(
            {"source": str(report.source), "layers": report.layers, "n_weights": report.n_weights,
             "frontend_differences": report.frontend_differences}, indent=1), encoding="utf-8")
        if verbose:
            print(f"backbone initialised from {report.source} ({len(report.layers)} layers, "
                  f"{report.n_weights} weight tensors)")
    if settings["freeze_backbone"]:
        model.backbone.trainable = False
    feature_shape = tuple(model.frontend.compute_output_shape(tuple(model.input.shape))[1:]) if model.frontend else ()
    augment = spec_augment_layer(spec, settings["spec_augment"], feature_shape)
    trainer = HierarchicalTrainer(model, loss_from_spec(spec), augment)
    trainer(keras.ops.zeros((1,) + tuple(model.input.shape[1:])))  # built before BackupAndRestore restores

    steps = count_batches(train_ds)
    schedule = WarmupSchedule(settings["learning_rate"], round(settings["warmup_epochs"] * steps))
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=settings["weight_decay"])
    trainer.compile(optimizer=optimizer, jit_compile=settings["jit_compile"])

    best = _BestModel(run_dir, settings["monitor"], resuming)
    all_callbacks = [keras.callbacks.BackupAndRestore(str(backup_dir)), best,
                     *([_ReseedAugmentation(settings["seed"])] if augment is not None else []),
                     keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resuming),
                     keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0)]
    if settings["keep_checkpoints"]:
        all_callbacks.append(_EpochCheckpoints(run_dir / "checkpoints", settings["keep_checkpoints"]))
    if settings["early_stopping_patience"]:
        all_callbacks.append(keras.callbacks.EarlyStopping(settings["monitor"],
                                                           patience=settings["early_stopping_patience"]))
    all_callbacks += list(callbacks or [])
    if resuming:
        _advance_epochs(train_ds, _backup_epoch(backup_dir))
    trainer.fit(train_ds, validation_data=val_ds, epochs=settings["epochs"], callbacks=all_callbacks,
                verbose=verbose)

    if not (run_dir / "best.keras").is_file():
        raise KaudioError(f"no epoch produced a finite {settings['monitor']}; nothing was saved in {run_dir}")
    model.load_weights(run_dir / "best.keras")
    return FitResult(model, read_history(run_dir / "history.csv"), best.best_epoch, run_dir, spec)
