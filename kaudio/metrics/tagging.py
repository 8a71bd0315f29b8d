"""Masked multi-label tagging metrics (Zhong et al., §4.3): macro ROC-AUC, PR-AUC and F1.

All functions take numpy-like ``(n, N_tags)`` arrays ``y_true`` (0/1), ``y_score`` (probabilities)
and an optional ``mask`` (1 = known, 0 = unknown; ``None`` = all known). Following OpenMIC, a tag
is scored only on its known entries; macro = the unweighted mean over the tags that could be
scored. "All metrics are calculated using the scikit-learn library" (§4.3):
``roc_auc_score`` and ``average_precision_score`` (PR-AUC, "mean average precision") per tag.

Skipped tags: ROC-AUC and PR-AUC need both classes among a tag's known entries; F1 needs at
least one known positive. Other tags are skipped (NaN in the per-tag arrays) and counted in the
:class:`MacroScore` so tables can report them; a level where every tag is skipped scores NaN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from kaudio.errors import InputError

#: Threshold used for tags that cannot be tuned (no known positive on the validation set).
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class MacroScore:
    """A macro average and what went into it.

    Attributes:
        value: mean over scored tags (NaN if none could be scored).
        per_tag: one value per tag, NaN for skipped tags.
        skipped: indices of the skipped tags.
    """

    value: float
    per_tag: np.ndarray
    skipped: tuple[int, ...]

    def __float__(self) -> float:
        return self.value


def _arrays(y_true, y_score, mask=None):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != 2:
        raise InputError(f"labels must be (n, N_tags), got shape {y_true.shape}")
    if y_score.shape != y_true.shape:
        raise InputError(f"scores have shape {y_score.shape}, labels {y_true.shape}; they must match")
    known = np.ones(y_true.shape, bool) if mask is None else np.asarray(mask) > 0
    if known.shape != y_true.shape:
        raise InputError(f"the mask has shape {known.shape}, labels {y_true.shape}; they must match")
    labels = y_true[known]
    if not np.isin(labels, (0.0, 1.0)).all():
        raise InputError("known labels must be 0 or 1 (binarise soft labels first, e.g. relevance >= 0.5)")
    if not np.isfinite(y_score[known]).all():
        raise InputError("scores of known entries must be finite (NaN or inf found)")
    return y_true, y_score, known


def _per_tag(score_fn: Callable, y_true, y_score, mask, need_negative: bool = True, extra=None) -> MacroScore:
    y_true, y_score, known = _arrays(y_true, y_score, mask)
    values = np.full(y_true.shape[1], np.nan)
    for tag in range(y_true.shape[1]):
        rows = known[:, tag]
        labels = y_true[rows, tag]
        if labels.size == 0 or labels.max() < 1 or (need_negative and labels.min() > 0):
            continue
        args = (labels, y_score[rows, tag]) + ((extra[tag],) if extra is not None else ())
        values[tag] = score_fn(*args)
    skipped = tuple(int(i) for i in np.flatnonzero(np.isnan(values)))
    value = float(np.nanmean(values)) if len(skipped) < values.size else float("nan")
    return MacroScore(value, values, skipped)


def roc_auc(y_true, y_score, mask=None) -> MacroScore:
    """Per-tag ROC-AUC on known entries and their macro mean (tags with one class skipped)."""
    from sklearn.metrics import roc_auc_score

    return _per_tag(roc_auc_score, y_true, y_score, mask)


def pr_auc(y_true, y_score, mask=None) -> MacroScore:
    """Per-tag average precision (PR-AUC) on known entries and their macro mean."""
    from sklearn.metrics import average_precision_score

    return _per_tag(average_precision_score, y_true, y_score, mask)


def f1(y_true, y_score, mask, thresholds) -> MacroScore:
    """Per-tag F1 of ``score >= threshold`` on known entries (tags without a known positive skipped)."""
    from sklearn.metrics import f1_score

    thresholds = per_class_thresholds(thresholds, np.shape(y_true)[1])
    return _per_tag(lambda labels, scores, t: f1_score(labels, scores >= t, zero_division=0.0),
                    y_true, y_score, mask, need_negative=False, extra=thresholds)


def macro_roc_auc(y_true, y_score, mask=None) -> float:
    """Macro ROC-AUC over the tags with both classes among their known entries."""
    return roc_auc(y_true, y_score, mask).value


def macro_pr_auc(y_true, y_score, mask=None) -> float:
    """Macro PR-AUC (mean average precision) over the tags with both classes among their known entries."""
    return pr_auc(y_true, y_score, mask).value


def macro_f1(y_true, y_score, mask, thresholds) -> float:
    """Macro F1 of binary predictions ``score >= thresholds[tag]`` (thresholds from :func:`tune_thresholds`)."""
    return f1(y_true, y_score, mask, thresholds).value


def per_class_thresholds(thresholds, n: int, what: str = "tag") -> np.ndarray:
    """``(n,)`` float64 thresholds from one number (the same for every ``what``) or one per ``what``."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(n, float(t))
    if t.shape != (n,):
        raise InputError(f"expected one threshold per {what} ({n}), got shape {t.shape}")
    return t


def tune_thresholds(y_true, y_score, mask=None) -> np.ndarray:
    """Per-tag thresholds maximising F1 of ``score >= threshold`` on known entries (validation set, §4.3).

    The candidates are the tag's known scores (``sklearn.metrics.precision_recall_curve``); on a tie
    the lowest threshold wins. A tag with no known positive gets :data:`DEFAULT_THRESHOLD`.

    Returns:
        ``(N_tags,)`` float64 thresholds.
    """
    from sklearn.metrics import precision_recall_curve

    y_true, y_score, known = _arrays(y_true, y_score, mask)
    out = np.full(y_true.shape[1], DEFAULT_THRESHOLD)
    for tag in range(y_true.shape[1]):
        rows = known[:, tag]
        labels, scores = y_true[rows, tag], y_score[rows, tag]
        if labels.size == 0 or labels.max() < 1:
            continue
        precision, recall, candidates = precision_recall_curve(labels, scores)
        precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
        denominator = precision + recall
        f1_values = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
        out[tag] = candidates[int(np.argmax(f1_values))]
    return out
