"""Train / validation / test row indices of a :class:`~kaudio.data.TaggingTable`.

* With a ``split`` column: ``test`` rows form the test set. If some rows are ``val`` they form the
  validation set and the ``train`` rows (and unassigned, empty cells) the training set. If no row is
  ``val``, the ``train`` + unassigned rows are split as below.
* Without one: every row is in the pool that is split; the test set is empty (evaluate on the
  validation split, or give test rows in ``labels.csv``).

The pool is split by *iterative stratification* (Sechidis et al., 2011; Szymański & Kajdanowicz,
2017) from scikit-multilearn, so that each tag's positives fall into the validation set in about
``val_fraction`` of the cases — for rare tags too — at both levels: the stratified label matrix is
the fine and the coarse targets side by side. Entries whose label is unknown (mask 0) count as
negatives for the stratification: an unknown label does not belong to either fold's evidence.

The stratifier draws from numpy's global random state; :func:`split_indices` seeds it with
``seed`` for the call and puts the previous state back, so a seed gives the same split every
time and the caller's random stream is untouched.
"""
from __future__ import annotations

import contextlib

import numpy as np

from kaudio.errors import InputError

SPLIT_NAMES = ("train", "val", "test")


@contextlib.contextmanager
def _numpy_seed(seed: int):
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def stratification_matrix(table, rows: np.ndarray) -> np.ndarray:
    """The 0/1 matrix the split balances: known positives of fine and coarse tags, side by side."""
    fine = (table.fine[rows] >= 0.5) & (table.fine_mask[rows] > 0)
    coarse = (table.coarse[rows] >= 0.5) & (table.coarse_mask[rows] > 0)
    return np.concatenate([fine, coarse], axis=1).astype(np.int8)


def stratified_split(y: np.ndarray, val_fraction: float, seed: int = 0,
                     order: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(train, val)`` (sorted) of an iteratively stratified split of the rows of ``y``."""
    from skmultilearn.model_selection import IterativeStratification

    n = len(y)
    if val_fraction == 0:
        return np.arange(n), np.zeros(0, np.int64)
    stratifier = IterativeStratification(n_splits=2, order=order,
                                         sample_distribution_per_fold=[val_fraction, 1.0 - val_fraction])
    with _numpy_seed(seed):
        train, val = next(stratifier.split(np.zeros((n, 1)), np.asarray(y)))
    return np.sort(np.asarray(train, np.int64)), np.sort(np.asarray(val, np.int64))


def split_indices(table, val_fraction: float = 0.15, seed: int = 0, order: int = 1) -> dict[str, np.ndarray]:
    """Row indices of the train, validation and test sets.

    Args:
        table: a :class:`~kaudio.data.TaggingTable`.
        val_fraction: the share of the pool (train + unassigned rows) moved to validation when the
            data gives no ``val`` rows; ``0`` keeps everything for training.
        seed: seed of the stratifier (same seed, same split).
        order: label-combination order of the stratification: 1 balances each tag, 2 also
            co-occurring pairs (slower on large data).

    Returns:
        ``{"train": idx, "val": idx, "test": idx}``, sorted int64 arrays (possibly empty ``test`` /
        ``val``); their union is every row, without overlap.
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise InputError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise InputError(f"order must be a positive integer (1 or 2), got {order!r}")
    n = len(table)
    rows = np.arange(n, dtype=np.int64)
    if table.split is None:
        split = np.array([""] * n, dtype=object)
    else:
        split = np.array(table.split, dtype=object)
    test = rows[split == "test"]
    given_val = rows[split == "val"]
    pool = rows[(split == "train") | (split == "")]
    if len(given_val):
        result = {"train": pool, "val": given_val, "test": test}
    else:
        if len(pool) == 0:
            raise InputError(f"no training clips: all {n} rows are in the test split")
        if val_fraction > 0 and len(pool) < 2:
            positions_train, positions_val = np.arange(len(pool)), np.zeros(0, np.int64)
        else:
            positions_train, positions_val = stratified_split(stratification_matrix(table, pool),
                                                              float(val_fraction), seed, order)
        if val_fraction > 0 and (len(positions_val) == 0 or len(positions_train) == 0):
            raise InputError(f"{len(pool)} clips are too few for a {val_fraction:.0%} validation split "
                             f"(it would leave {len(positions_train)} train / {len(positions_val)} val clips); "
                             "add clips or give `val` rows in the split column")
        result = {"train": pool[positions_train], "val": pool[positions_val], "test": test}
    if len(result["train"]) == 0:
        raise InputError("no training clips: every non-test row is marked `val`")
    return {name: np.sort(result[name]).astype(np.int64) for name in SPLIT_NAMES}
