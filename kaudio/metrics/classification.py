"""Single-label classification metrics: accuracy and macro F1 of the arg-max class (scikit-learn).

Rows follow :func:`kaudio.metrics.evaluate_levels`'s layout (``{"level", <metric>: value}``) so
:func:`kaudio.metrics.summarize_runs` and the table writers serve them unchanged.
"""
from __future__ import annotations

import numpy as np

from kaudio.errors import InputError


def classification_rows(y_true, y_score, level: str = "labels") -> list[dict]:
    """``[{"level", "accuracy", "macro_f1", "tags"}]`` for one-hot (or probability) labels and scores.

    Macro F1 averages the per-class F1 over the classes that occur in the labels or predictions
    (scikit-learn's ``f1_score(average="macro")``).
    """
    from sklearn.metrics import accuracy_score, f1_score

    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise InputError(f"labels {y_true.shape} and scores {y_score.shape} must both be (n, classes)")
    if len(y_true) == 0:
        raise InputError("no examples to score")
    truth, predicted = y_true.argmax(axis=1), y_score.argmax(axis=1)
    return [{"level": level, "accuracy": float(accuracy_score(truth, predicted)),
             "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
             "tags": int(y_true.shape[1])}]
