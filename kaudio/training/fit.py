"""``kaudio.fit``: the run machinery of every trainer (``train.type``, :mod:`kaudio.training.trainer`).

What is trained, with which loss, optimizer and callbacks comes from the trainer class of the
spec's ``train.type``; this module gives every kind of training the same run folder, seeds,
determinism, resume, best checkpoint, early stopping, logs, dtype policy and distribution.

A run directory holds::

    spec.yaml        the validated spec (with the train and loss sections filled in)
    best.keras       the plain KaudioModel of the best epoch (``train.monitor``: lowest val_loss by
                     default; trainers declare which logged values may be monitored and whether
                     lower or higher is better)
    best.json        {"epoch": 1-based epoch, "monitor": name, "mode": "min" | "max", "value": ...}
    checkpoints/     epoch_NNN.keras of the last ``train.keep_checkpoints`` epochs
    backup/          keras.callbacks.BackupAndRestore state while a run is unfinished
    final_state/     with ``train.extendable``: that state (weights, optimizer, epoch, seeds) of a run
                     that reached ``train.epochs`` without stopping early
    logs/            TensorBoard logs
    history.csv      one row per epoch: loss, the loss's parts (fine_bce, coarse_bce, consistency; bce;
                     cce) and val_* of each
    init_weights.json  with ``train.init_weights``: the source file, the backbone layers copied and
                     the front-end keys that differ from the source's

Resume: calling :func:`fit` again with the same ``run_dir`` after an interruption restores the
weights, the optimizer (moments and step count, hence the warm-up position) and the epoch from
``backup/`` and continues with the same result as an uninterrupted run (tested: weights and
history are bit-identical). Per-epoch randomness is replayed too: dropout masks continue from
the seed-generator states saved with the backup (Keras's backup leaves them out;
:class:`~kaudio.training.callbacks.SeedStateBackup`), the training dataset's per-iteration state
(``shuffle(seed=…, reshuffle_each_iteration=True)``, ``Dataset.random``, as
``kaudio.data.make_dataset(shuffle=True)`` uses) is advanced by the finished epochs, and SpecAugment's
masks come from a seed generator whose state is saved too (:class:`~kaudio.layers.SeededSpecAugment`).
Build the datasets the same way (same seeds) for the resumed call. Early stopping's count of epochs
without improvement is replayed from ``history.csv``
(:class:`~kaudio.training.callbacks.ResumableEarlyStopping`).

Extending: with ``train.extendable: true`` a run that trains all ``train.epochs`` epochs keeps its
final state in ``final_state/``; calling :func:`fit` again on its folder with the same spec but a
larger ``train.epochs`` continues it exactly where it ended, with the result of a run that had the
larger budget from the start (tested). A run that early stopping ended is finished for good (its
state is removed); any other spec, or a ``train.epochs`` not above the epochs run, starts over.

Fine-tuning: with ``train.init_weights`` the backbone starts from the backbone weights of that
``.keras`` model (:func:`kaudio.training.init_weights.init_backbone`) — on a fresh start only; a
resumed run continues from ``backup/`` and never reloads them. The saved models (``best.keras``,
checkpoints) record ``init_weights: null`` in their spec, so they load on machines without the
pretrained file; ``spec.yaml`` and ``init_weights.json`` keep the path. ``train.freeze_backbone``
sets ``backbone.trainable = False`` before compiling (fresh and resumed runs alike).

Determinism: ``train.deterministic`` (default true) calls
``tf.config.experimental.enable_op_determinism()``, which lasts for the whole process.

Precision and devices: ``train.dtype_policy`` (e.g. ``mixed_bfloat16``) builds the model under that
Keras dtype policy (:mod:`kaudio.dtypes`); ``train.distribution`` runs the trainer under a
``tf.distribute`` strategy (:mod:`kaudio.training.distribution`). With ``multi_worker`` only the
chief writes ``run_dir``; the other workers keep their own backup in a private temporary folder
(:func:`worker_run_dir`), and the strategy must be started with
:func:`kaudio.training.distribution.make_strategy` before the datasets are built.
"""
from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import yaml

from kaudio.errors import KaudioError
from kaudio.spec.validate import Spec, load_spec
from kaudio.training.callbacks import BestModel, EpochCheckpoints, ResumableEarlyStopping, SeedStateBackup
from kaudio.training.trainer import trainer_for


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

    model: "keras.Model"
    history: dict[str, list[float]]
    best_epoch: int
    run_dir: Path
    spec: Spec | None = field(default=None, repr=False)


def training_spec(spec, overrides=None) -> Spec:
    """Validate ``spec`` (+ ``overrides``) and add the sections training needs when it lacks them:
    ``train: {type: supervised}`` and the loss its trainer trains the head with."""
    from kaudio import registry

    origin = "(added by kaudio: the spec has no such section)"
    defaults = {"train": {"type": "supervised"}}  # added only where the spec has no train section
    base = load_spec(spec, overrides, defaults=defaults, defaults_origin=origin)  # overrides may be what makes it valid
    if base.loss is not None:
        return base
    defaults.update(registry.get("train", base.train["type"]).default_sections(base))
    return load_spec(spec, overrides, defaults=defaults, defaults_origin=origin)


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


def _backup_epoch(backup_dir: Path) -> int:
    """The number of finished epochs recorded by BackupAndRestore (0 if unknown)."""
    import json

    path = backup_dir / "training_metadata.json"
    try:
        return int(json.loads(path.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


#: The folder of an extendable run's final training state (``train.extendable``).
FINAL_STATE = "final_state"


def _extends(run_dir: Path, spec: Spec) -> bool:
    """Whether fitting ``spec`` in ``run_dir`` continues the run kept in ``run_dir/final_state``: the same spec as
    ``run_dir/spec.yaml`` apart from ``train.epochs``, which must be above the epochs that run trained."""
    try:
        saved = yaml.safe_load((run_dir / "spec.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    new = spec.to_dict()
    if not isinstance(saved, dict) or not isinstance(saved.get("train"), dict):
        return False
    without_epochs = lambda d: {**d, "train": {k: v for k, v in d["train"].items() if k != "epochs"}}  # noqa: E731
    return (without_epochs(saved) == without_epochs(new)
            and new["train"]["epochs"] > _backup_epoch(run_dir / FINAL_STATE) > 0)


def finished_run(run_dir: "str | os.PathLike", spec: Spec) -> bool:
    """Whether ``run_dir`` holds a run of exactly ``spec`` whose training finished: its ``spec.yaml`` is ``spec``,
    ``best.keras`` and ``history.csv`` exist, and no ``backup/`` is left (:func:`fit` removes it, or keeps it as
    ``final_state/`` with ``train.extendable``, only after the last epoch). Fitting such a folder again would
    train the run from the start; callers that can reuse it read it back instead."""
    run_dir = Path(run_dir)
    backup = run_dir / "backup"
    if (backup.is_dir() and any(backup.iterdir())) or not all(
            (run_dir / name).is_file() for name in ("best.keras", "history.csv", "spec.yaml")):
        return False
    try:
        recorded = yaml.safe_load((run_dir / "spec.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return recorded == yaml.safe_load(yaml.safe_dump(spec.to_dict(), sort_keys=False))


def skip_passes(dataset, passes: int) -> None:
    """Open ``passes`` iterators of ``dataset`` and drop them.

    A ``tf.data`` dataset reshuffled each pass (``shuffle(reshuffle_each_iteration=True)``,
    ``Dataset.random(rerandomize_each_iteration=True)``, as :func:`kaudio.data.make_dataset` with
    ``shuffle=True``) draws pass *k*'s order from a seed generator that advances each time an
    iterator is created — on the dataset or on anything built from it (``repeat()``, a distributed
    copy). A resumed run opens as many iterators as the interrupted one did, so that its next pass
    is the one the interrupted run would have made next. Only the first element is produced."""
    for _ in range(passes):
        next(iter(dataset), None)


def load_best_model(run_dir: "str | os.PathLike"):
    """``RUN_DIR/best.keras`` (the model a finished or running training run chose), loaded with kaudio's
    classes registered; KaudioError for a corrupt or foreign archive."""
    import zipfile

    from kaudio import registry

    registry.load_components()
    path = Path(run_dir) / "best.keras"
    try:
        return keras.models.load_model(path)
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as err:  # a corrupt or foreign archive
        raise KaudioError(f"cannot load {path}: {err}") from err


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
    """Train the spec's model with its trainer on ``train_ds``, choose the best epoch on ``val_ds``; resumable.

    Args:
        spec: a spec (path, bundled name, dict or :class:`Spec`); missing ``train``/``loss`` sections get
            their defaults (``supervised`` and the loss of the head's kind).
        train_ds / val_ds: finite ``tf.data`` datasets of batches the trainer accepts — for
            ``supervised``: ``(audio (B, samples, ch), targets dict)`` (``kaudio.data.make_dataset``).
        run_dir: the run directory (default ``runs/<name>_<time>``); if it holds an unfinished run
            (``backup/``), training resumes from it.
        overrides: ``--set``-style overrides, e.g. ``{"train.epochs": 3, "loss.fine_weight": 0.9}``.
        verbose: Keras progress output (0 silent, 1 progress bar, 2 one line per epoch).
        callbacks: extra Keras callbacks (called after kaudio's).

    Returns:
        :class:`FitResult` with the best epoch's model (also in ``run_dir/best.keras``).
    """
    import tensorflow as tf

    from kaudio.dtypes import dtype_policy_scope
    from kaudio.training.distribution import is_chief, make_strategy
    from kaudio.writable import ensure_writable_folder

    spec = training_spec(spec, overrides)
    trainer = trainer_for(spec)
    settings = trainer.settings
    if val_ds is None:
        raise KaudioError("kaudio.fit needs a validation dataset: the best epoch is chosen on it")
    strategy = make_strategy(settings.get("distribution"), spec.source)
    chief = is_chief(strategy)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(spec)
    chief_run_dir = run_dir
    if not chief:  # a non-chief multi-worker process writes nothing the chief also writes
        run_dir = worker_run_dir(run_dir, strategy)
    ensure_writable_folder(run_dir, "run folder")
    backup_dir, final_dir = run_dir / "backup", run_dir / FINAL_STATE
    resuming = backup_dir.is_dir() and any(backup_dir.iterdir())
    if final_dir.is_dir():
        if not resuming and _extends(run_dir, spec):
            final_dir.rename(backup_dir)
            resuming = True
        else:
            shutil.rmtree(final_dir)
    if not resuming:
        for stale in ("history.csv", "best.json", "best.keras", "init_weights.json"):
            (run_dir / stale).unlink(missing_ok=True)
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False), encoding="utf-8")

    keras.utils.set_random_seed(settings["seed"])
    if settings["deterministic"]:
        tf.config.experimental.enable_op_determinism()

    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope, dtype_policy_scope(settings.get("dtype_policy")):
        model = trainer.build_model()
        trainer.check_dataset(train_ds, model, "training")
        trainer.check_dataset(val_ds, model, "validation")
        trainer.prepare(model, run_dir, resuming, verbose, train_ds=train_ds)
        wrapper = trainer.training_model(model)
        wrapper(_zeros_like_input(model))  # built before BackupAndRestore restores
        steps = count_batches(train_ds)
        wrapper.compile(optimizer=trainer.optimizer(steps), jit_compile=settings["jit_compile"])
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _multi_worker_keras_fixes(wrapper, train_ds.element_spec)
        _check_same_start(strategy, _backup_epoch(backup_dir) if resuming else 0, run_dir)

    monitor, mode = trainer.monitor
    best = BestModel(run_dir, monitor, mode, resuming)
    epochs_done = _backup_epoch(backup_dir) if resuming else 0
    all_callbacks = [keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=not settings["extendable"]),
                     SeedStateBackup(backup_dir),
                     *trainer.callbacks(run_dir, val_ds), best,
                     keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resuming),
                     keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False, profile_batch=0)]
    if settings["keep_checkpoints"]:
        all_callbacks.append(EpochCheckpoints(run_dir / "checkpoints", settings["keep_checkpoints"]))
    early_stopping = None
    if settings["early_stopping_patience"]:
        early_stopping = ResumableEarlyStopping(monitor, mode, settings["early_stopping_patience"],
                                                run_dir / "history.csv", epochs_done)
        all_callbacks.append(early_stopping)
    all_callbacks += list(callbacks or [])
    # One Keras iterator over the repeated dataset for the whole run: pass k of train_ds is epoch k
    # (Keras would otherwise open two iterators per epoch of a finite dataset), so a resumed run
    # skips exactly its finished epochs and continues with the order the interrupted run had next.
    if resuming:
        skip_passes(train_ds, epochs_done)
    wrapper.fit(train_ds.repeat(), steps_per_epoch=steps, validation_data=val_ds, epochs=settings["epochs"],
                callbacks=all_callbacks, verbose=verbose)
    if settings["extendable"] and backup_dir.is_dir():  # Keras kept the backup: it is the final state
        if early_stopping is not None and early_stopping.stopped_epoch > 0:
            shutil.rmtree(backup_dir)  # stopped early: finished for good
        else:
            backup_dir.rename(final_dir)

    if not (run_dir / "best.keras").is_file():
        raise KaudioError(f"no epoch produced a finite {monitor}; nothing was saved in {run_dir}")
    model.load_weights(run_dir / "best.keras")
    history = read_history(run_dir / "history.csv")
    if not chief:  # finished: nothing left to resume from
        shutil.rmtree(run_dir, ignore_errors=True)
    return FitResult(model, history, best.best_epoch, chief_run_dir, spec)


def worker_run_dir(run_dir: Path, strategy) -> Path:
    """The private folder of a non-chief multi-worker process for the run ``run_dir``.

    Every worker runs the same callbacks, so each needs its own backup (BackupAndRestore) to
    resume from; only the chief's goes to ``run_dir``. The others use a folder in the system's
    temporary directory named after the run and the task, so the same command on the same machine
    finds it again after an interruption (a resumed worker that started over would run more steps
    than the chief and wait for it forever). It is removed when the run finishes.
    """
    import hashlib

    resolver = strategy.cluster_resolver
    digest = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"kaudio_worker_{resolver.task_type}{resolver.task_id}_{digest}"


def _multi_worker_keras_fixes(wrapper, element_spec) -> None:
    """Let Keras 3's TensorFlow trainer run ``wrapper.fit`` under a multi-worker strategy.

    Two steps of Keras 3's ``fit`` fail as soon as a MultiWorkerMirroredStrategy spans several
    workers (Keras 3.13, TensorFlow 2.17):

    * before training and before each validation pass it averages the first distributed batch
      over the replicas (``strategy.reduce(MEAN, batch, axis=None)``) only to learn its shapes,
      which fails on a nested ``(audio, targets dict)`` batch ("Attempt to convert a value
      (PerReplica…) … to a Tensor"). The shapes are those of the undistributed dataset's
      ``element_spec``, so the symbolic build is given those: no data is read, nothing is reduced.
    * after each step it averages every logged value over the replicas with
      ``strategy.reduce(MEAN, value, axis=0)``, which fails on the scalar metric results
      ("Invalid reduction dimension 0 for input with 0 dimensions"). The steps therefore return
      each value as a vector of one; the average over axis 0 gives back the scalar, as with one
      worker. (These per-step values only feed the progress bar: the epoch values of the
      callbacks and ``history.csv`` are read from the metric variables after the epoch, summed
      over all replicas.)

    Distributing the datasets, the all-reduced gradient steps and the metrics stay Keras's own.
    """
    import tensorflow as tf

    specs = keras.tree.map_structure(lambda s: keras.KerasTensor(tuple(s.shape), s.dtype.name), element_spec)

    def maybe_symbolic_build(iterator=None, data_batch=None):
        with wrapper.distribute_strategy.scope():
            wrapper._symbolic_build(data_batch=specs if data_batch is None else data_batch)

    def vectors(step):
        def run(data):
            return {name: tf.reshape(value, (1,)) if value.shape.rank == 0 else value
                    for name, value in step(data).items()}
        return run

    wrapper._maybe_symbolic_build = maybe_symbolic_build
    wrapper.train_step, wrapper.test_step = vectors(wrapper.train_step), vectors(wrapper.test_step)


def _check_same_start(strategy, epoch: int, run_dir: Path) -> None:
    """Raise on every worker when the workers would start from different epochs.

    Workers that resume from different backups would run different numbers of steps, and the
    ones with more steps would wait for the others' all-reduce forever; this compares the
    workers' starting epochs (one all-gather) so that all of them stop with the same message.
    """
    import tensorflow as tf

    starts = strategy.gather(strategy.run(lambda: tf.constant([epoch], tf.int64)), axis=0).numpy().tolist()
    if len(set(starts)) > 1:
        raise KaudioError(f"the workers would resume from different epochs (finished epochs by replica: {starts}; "
                          f"this worker's backup: {run_dir / 'backup'}, {epoch} epochs): a worker lost its backup. "
                          "Delete the run's backup/ folders (the chief's is RUN_DIR/backup, the other workers' "
                          "are in their temporary directory) to start the run over on every worker")


def _zeros_like_input(model):
    """A batch of one zero example for each of the model's inputs (a tensor, or a dict for towers)."""
    inputs = model.input
    if isinstance(inputs, dict):
        return {name: keras.ops.zeros((1,) + tuple(t.shape[1:])) for name, t in inputs.items()}
    return keras.ops.zeros((1,) + tuple(inputs.shape[1:]))
