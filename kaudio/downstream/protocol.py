"""The downstream evaluation protocol of Cramer et al. ("Look, Listen and Learn More", ICASSP 2019,
§3.2–3.3; ``marl/l3embedding`` ``classifier/train.py``), for any embedding.

For every predefined fold (each is the test fold once):

1. the other folds are the training clips; 10 % of them, stratified by class, are held out for
   validation **at clip level** (:func:`split_validation_clips`). The reference's jobs split
   *windows* (a window-level ``StratifiedShuffleSplit``), so windows of one clip — overlapping by
   0.9 s — could land on both sides and make the validation accuracy optimistic; kaudio keeps every
   clip on one side;
2. every window gets its clip's label; a ``StandardScaler`` is fit on the training windows (not
   the validation ones) and applied to all; the training windows are shuffled;
3. for every (learning rate, weight decay) of the grid ({1e-5, 1e-4, 1e-3}², §3.3) an MLP is
   trained (:mod:`kaudio.downstream.mlp`); the one with the best validation window accuracy is kept
   (ties: lower validation loss, then grid order); there is no retraining on train + validation;
4. each test clip is predicted from its windows' summed softmax outputs; the fold's score is the
   clip accuracy.

The grid is a plain loop: keras-tuner's ``GridSearch`` would keep per-trial checkpoints of the
best epoch by the objective, whereas the protocol scores each grid point with the weights early
stopping restored (best validation *loss*).

Folds run in worker processes when ``jobs > 1`` (``spawn``; each worker limits TensorFlow to its
share of the cores and reads the features from the cache once). Results depend only on the seed:
the tests check that two worker processes reproduce the serial run's every grid point.
"""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kaudio.errors import KaudioError

FULL_GRID = (1e-5, 1e-4, 1e-3)
#: ``--grid``: ``full`` is the paper's 3 × 3 grid; ``quick`` one point (lr 1e-3, the fastest to converge; wd 1e-4)
#: for trial runs.
GRIDS = {"full": (FULL_GRID, FULL_GRID), "quick": ((1e-3,), (1e-4,))}
#: Measured in benchmarks/README.md: on 2 cores two fold processes are not faster than one.
DEFAULT_JOBS = 1


@dataclass(frozen=True)
class ProtocolSettings:
    """Classifier training settings (defaults: the paper's)."""

    learning_rates: tuple[float, ...] = FULL_GRID
    weight_decays: tuple[float, ...] = FULL_GRID
    epochs: int = 50
    patience: int = 20
    batch_size: int = 32
    validation_fraction: float = 0.1
    seed: int = 0

    @classmethod
    def from_grid(cls, grid: str = "full", **overrides) -> "ProtocolSettings":
        if grid not in GRIDS:
            raise KaudioError(f"grid must be one of {', '.join(GRIDS)}, got {grid!r}")
        learning_rates, weight_decays = GRIDS[grid]
        return cls(learning_rates=learning_rates, weight_decays=weight_decays, **overrides)

    def __post_init__(self):
        for name in ("learning_rates", "weight_decays"):
            values = getattr(self, name)
            if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in values):
                raise KaudioError(f"{name} must be a non-empty list of positive numbers, got {values!r}")
        for name in ("epochs", "patience", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "patience" else 1):
                raise KaudioError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.validation_fraction < 1:
            raise KaudioError(f"validation_fraction must be between 0 and 1, got {self.validation_fraction!r}")

    @property
    def grid(self) -> list[tuple[float, float]]:
        return list(itertools.product(self.learning_rates, self.weight_decays))

    def describe(self) -> dict:
        out = asdict(self)
        out.update(learning_rates=list(self.learning_rates), weight_decays=list(self.weight_decays),
                   selection="validation window accuracy", validation_split="clip level, stratified by class",
                   clip_prediction="argmax of summed window softmax outputs")
        return out


# ----------------------------------------------------------------------------------------------
# One fold


def split_validation_clips(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split training clips (their class indices ``labels``) into (train, validation) clip indices.

    scikit-learn's ``StratifiedShuffleSplit`` (class proportions kept on both sides as nearly as
    whole clips allow) on the clips of classes with at least two training clips; the validation set
    has round(fraction · clips) clips, raised to the number of such classes where that is larger
    (scikit-learn needs as many on each side). A class with a single training clip keeps it in
    training.
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    labels = np.asarray(labels)
    counts = np.bincount(labels)
    splittable = np.flatnonzero(counts[labels] >= 2)
    alone = np.flatnonzero(counts[labels] < 2)
    n_classes = int(np.count_nonzero(counts >= 2))
    if n_classes == 0:
        raise KaudioError("no class has two training clips, so no validation clip can be held out")
    n_val = min(max(int(round(fraction * len(splittable))), n_classes), len(splittable) - n_classes)
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    train, val = next(splitter.split(np.zeros(len(splittable)), labels[splittable]))
    return np.sort(np.concatenate([splittable[train], alone])), np.sort(splittable[val])


def _windows(features: Sequence[np.ndarray], clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stacked windows of ``clips`` and the position (in ``clips``) of each window's clip."""
    stacked = np.concatenate([features[c] for c in clips]).astype(np.float32, copy=False)
    owner = np.repeat(np.arange(len(clips)), [len(features[c]) for c in clips])
    return stacked, owner


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def evaluate_fold(features: Sequence[np.ndarray], labels: np.ndarray, test: np.ndarray, n_classes: int,
                  protocol: ProtocolSettings, fold_index: int, fold: str = "") -> dict:
    """Train on the clips outside ``test`` (bool mask), pick the grid point, score the test clips.

    Returns the report's entry of the fold (see :func:`run_downstream`).
    """
    from sklearn.preprocessing import StandardScaler

    from kaudio.downstream.mlp import clip_predictions, train_classifier

    start = time.perf_counter()
    labels = np.asarray(labels)
    training, testing = np.flatnonzero(~test), np.flatnonzero(test)
    train_part, val_part = split_validation_clips(labels[training], protocol.validation_fraction,
                                                  _seed(protocol.seed, fold_index))
    train_clips, val_clips = training[train_part], training[val_part]
    x_train, train_owner = _windows(features, train_clips)
    x_val, val_owner = _windows(features, val_clips)
    x_test, test_owner = _windows(features, testing)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val, x_test = (scaler.transform(x).astype(np.float32) for x in (x_train, x_val, x_test))
    order = np.random.default_rng(_seed(protocol.seed, fold_index, 1)).permutation(len(x_train))
    x_train, y_train = x_train[order], labels[train_clips][train_owner][order]
    y_val = labels[val_clips][val_owner]

    grid, best, best_key = [], None, None
    for index, (lr, wd) in enumerate(protocol.grid):
        trained = train_classifier(x_train, y_train, x_val, y_val, n_classes, lr, wd, protocol.epochs,
                                   protocol.patience, protocol.batch_size, _seed(protocol.seed, fold_index, 2, index))
        grid.append({"learning_rate": lr, "weight_decay": wd, "val_accuracy": trained.val_accuracy,
                     "val_loss": trained.val_loss, "epochs": trained.epochs, "best_epoch": trained.best_epoch})
        key = (-trained.val_accuracy, trained.val_loss, index)
        if best_key is None or key < best_key:
            best, best_key = trained, key
    chosen = grid[best_key[2]]
    probabilities = best.model.predict(x_test, batch_size=256, verbose=0)
    predicted = clip_predictions(probabilities, test_owner, len(testing))
    truth = labels[testing]
    unseen = sorted(set(truth.tolist()) - set(labels[train_clips].tolist()))
    return {"fold": fold, "accuracy": float(np.mean(predicted == truth)), "correct": int(np.sum(predicted == truth)),
            "test_clips": int(len(testing)), "train_clips": int(len(train_clips)),
            "validation_clips": int(len(val_clips)),
            "train_windows": int(len(x_train)), "test_windows": int(len(x_test)),
            "learning_rate": chosen["learning_rate"], "weight_decay": chosen["weight_decay"],
            "val_accuracy": chosen["val_accuracy"], "epochs": chosen["epochs"], "best_epoch": chosen["best_epoch"],
            "classes_without_training_clips": unseen, "grid": grid, "seconds": time.perf_counter() - start}


# ----------------------------------------------------------------------------------------------
# Worker processes


_WORKER: dict = {}


def _init_worker(cache_folder: str, settings, keys: Sequence[str], threads: int) -> None:
    """Runs once per worker process (spawned): ignore Ctrl-C (the parent stops the workers and
    reports it), limit the threads TensorFlow may use, read every clip's features from the cache. An
    error is kept and raised by the first fold, so that the parent gets it (not a broken pool)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        from kaudio.downstream.features import load_cached_features

        _WORKER["features"] = load_cached_features(cache_folder, settings, keys)
    except Exception as err:  # noqa: BLE001 - handed to the parent with the first task
        _WORKER["error"] = KaudioError(f"a fold worker could not start: {err}")


def _fold_in_worker(arguments: tuple) -> dict:
    if "error" in _WORKER:
        raise _WORKER["error"]
    return evaluate_fold(_WORKER["features"], *arguments)


def default_jobs(folds: int) -> int:
    """:data:`DEFAULT_JOBS` (see its measurement), never more than the folds."""
    return max(1, min(DEFAULT_JOBS, folds))


def _run_folds(dataset, table, cache_folder: Path, protocol: ProtocolSettings, jobs: int,
               on_fold: Callable[[dict], None] | None) -> list[dict]:
    labels = dataset.label_indices
    tasks = [(labels, dataset.in_fold(fold), len(dataset.classes), protocol, i, fold)
             for i, fold in enumerate(dataset.fold_names)]
    if jobs <= 1:
        results = []
        for task in tasks:
            results.append(evaluate_fold(table.features, *task))
            if on_fold:
                on_fold(results[-1])
        return results
    return _run_folds_in_processes(tasks, dataset, table, cache_folder, jobs, on_fold)


def _run_folds_in_processes(tasks, dataset, table, cache_folder: Path, jobs: int,
                            on_fold: Callable[[dict], None] | None) -> list[dict]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // jobs)
    executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                                   initargs=(str(cache_folder), table.settings, list(dataset.keys), threads))
    results = {}
    try:
        pending = {executor.submit(_fold_in_worker, task): task[-1] for task in tasks}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                pending.pop(future)
                result = future.result()
                results[result["fold"]] = result
                if on_fold:
                    on_fold(result)
    except BrokenProcessPool as err:
        raise KaudioError("the fold worker processes stopped before finishing (out of memory, killed, or - in a "
                          "script - run_downstream(jobs > 1) called outside `if __name__ == '__main__':`); run "
                          "with jobs=1 (--jobs 1) to see the cause") from err
    except BaseException:
        # Ctrl-C or a failed fold: stop the other workers now instead of waiting for their folds.
        for process in list(getattr(executor, "_processes", {}).values()):  # CPython's worker table
            process.terminate()
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return [results[fold] for fold in dataset.fold_names]


# ----------------------------------------------------------------------------------------------
# The whole protocol


def run_downstream(dataset, model: str = "openl3_mel256_music", embedding_size: int | None = None, weights="pretrained",
                   cache: "str | os.PathLike | None" = None, protocol: ProtocolSettings | None = None,
                   jobs: int | None = None, hop_size: float = 0.1, batch_size: int = 32, progress: bool = False,
                   on_fold: Callable[[dict], None] | None = None, extractor=None) -> dict:
    """Run the protocol on a dataset and return the report (a JSON-ready dict).

    Args:
        dataset: a :class:`~kaudio.downstream.datasets.DownstreamDataset` or its folder.
        model: an audio embedding model name, a ``.keras`` embedding model file (``kaudio avc export
            --keras-out``), or ``"logmel"`` (the baseline).
        embedding_size: the embedding size (named models; ``None``: 6144, or a ``.keras`` model's own).
        weights: ``"pretrained"`` (a ``.keras`` file: its own), a weight file (named models), or ``None``
            for random weights (a ``.keras`` file: its network re-initialised with ``protocol.seed``).
        cache: the feature cache folder (reused when run again); ``None``: a temporary folder
            removed at the end.
        protocol: :class:`ProtocolSettings` (default: the paper's).
        jobs: fold worker processes (default :func:`default_jobs`).
        hop_size: seconds between windows (0.1 in the protocol).
        batch_size: windows per embedding forward pass.
        progress: show feature progress on stderr.
        on_fold: called with each fold's entry as it finishes.
        extractor: a feature extractor object instead of ``model`` (e.g. a configured
            :class:`~kaudio.downstream.features.LogMelFeatures`).

    Returns:
        ``{"kaudio_version", "dataset", "features", "protocol", "folds": [per fold: fold,
        accuracy, correct, test_clips, learning_rate, weight_decay, epochs, grid, ...],
        "accuracy": {"mean", "std", "folds"}, "jobs", "seconds"}`` — std is the sample standard
        deviation over folds.
    """
    import tempfile

    from kaudio.downstream.datasets import DownstreamDataset, load_downstream_dataset
    from kaudio.downstream.features import LOGMEL, FeatureCache, compute_features, feature_extractor
    from kaudio.metrics import summarize_runs
    from kaudio.version import __version__

    start = time.perf_counter()
    if not isinstance(dataset, DownstreamDataset):
        dataset = load_downstream_dataset(dataset)
    protocol = protocol or ProtocolSettings()
    if extractor is None:
        if model == LOGMEL and weights not in (None, "pretrained"):
            raise KaudioError(f"the logmel baseline has no weights; drop weights={weights!r} (--weights)")
        extractor = feature_extractor(model, embedding_size, weights, hop_size, batch_size, protocol.seed)
    jobs = default_jobs(len(dataset.fold_names)) if jobs is None else _check_jobs(jobs, len(dataset.fold_names))
    settings = extractor.settings(dataset.root)
    with tempfile.TemporaryDirectory(prefix="kaudio-downstream-") as scratch:
        folder = Path(cache) if cache is not None else Path(scratch) / "features"
        table = compute_features(dataset, extractor, FeatureCache(folder, settings), progress=progress)
        folds = _run_folds(dataset, table, folder, protocol, jobs, on_fold)
    for fold in folds:
        fold["classes_without_training_clips"] = [dataset.classes[c] for c in fold["classes_without_training_clips"]]
    accuracies = [f["accuracy"] for f in folds]
    summary = summarize_runs({settings.model: [[{"level": "clip", "accuracy": a}] for a in accuracies]})[0]
    features = {**{k: v for k, v in settings.items().items() if k != "dataset"}, "dimension": table.dimension,
                "windows": table.windows, "computed_clips": table.computed, "cached_clips": table.reused,
                "seconds": table.seconds, "cache": str(cache) if cache is not None else None}
    return {"kaudio_version": __version__, "dataset": dataset.describe(), "features": features,
            "protocol": protocol.describe(), "folds": folds,
            "accuracy": {"mean": summary["clip_accuracy_mean"], "std": summary["clip_accuracy_std"],
                         "folds": len(folds)},
            "jobs": jobs, "seconds": time.perf_counter() - start}


def _check_jobs(jobs, folds: int) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise KaudioError(f"jobs must be a positive integer, got {jobs!r}")
    return min(jobs, folds)
