"""Masked macro ROC-AUC / PR-AUC / F1 and threshold tuning (Zhong et al. §4.3; OpenMIC masks)."""
import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from kaudio.errors import InputError
from kaudio.metrics import (DEFAULT_THRESHOLD, f1, macro_f1, macro_pr_auc, macro_roc_auc, pr_auc, roc_auc,
                            tune_thresholds)


def data(seed=0, n=40, tags=4):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=(n, tags)) > 0.6).astype(float)
    score = np.clip(0.35 * y + rng.uniform(0, 0.7, (n, tags)), 0, 1)
    mask = (rng.uniform(size=(n, tags)) > 0.25).astype(float)
    y[mask == 0] = np.nan  # unknown labels and scores may be NaN
    score[mask == 0] = np.nan
    return y, score, mask


def per_tag_reference(fn, y, score, mask):
    out = []
    for tag in range(y.shape[1]):
        rows = mask[:, tag] > 0
        out.append(fn(y[rows, tag], score[rows, tag]))
    return np.array(out)


def test_macro_auc_matches_sklearn_on_known_entries():
    y, score, mask = data()
    for macro, per, fn in ((macro_roc_auc, roc_auc, roc_auc_score), (macro_pr_auc, pr_auc, average_precision_score)):
        expected = per_tag_reference(fn, y, score, mask)
        result = per(y, score, mask)
        np.testing.assert_allclose(result.per_tag, expected, rtol=1e-12)
        assert result.skipped == () and float(result) == result.value
        assert macro(y, score, mask) == pytest.approx(expected.mean(), rel=1e-12)


def test_masked_entries_do_not_count():
    y, score, mask = data(seed=1)
    changed = score.copy()
    changed[mask == 0] = 1.0  # scores of unknown entries are irrelevant
    labels = np.nan_to_num(y, nan=1.0)
    assert macro_roc_auc(labels, changed, mask) == macro_roc_auc(y, score, mask)
    # ...but without the mask they would count
    assert macro_roc_auc(labels, changed) != macro_roc_auc(y, score, mask)


def test_without_mask_equals_sklearn_macro():
    y, score, _ = data(seed=2)
    y, score = np.nan_to_num(y), np.nan_to_num(score)
    assert macro_roc_auc(y, score) == pytest.approx(roc_auc_score(y, score, average="macro"))
    assert macro_pr_auc(y, score) == pytest.approx(average_precision_score(y, score, average="macro"))


def test_single_class_tags_are_skipped_and_counted():
    y, score, mask = data(seed=3, tags=5)
    y[:, 1] = 0  # only negatives
    y[:, 2] = 1  # only positives
    mask[:, 3] = 0  # never known
    y[mask == 0] = np.nan
    for result in (roc_auc(y, score, mask), pr_auc(y, score, mask)):
        assert result.skipped == (1, 2, 3) and np.isnan(result.per_tag[[1, 2, 3]]).all()
        assert result.value == pytest.approx(np.mean(result.per_tag[[0, 4]]))
    result = f1(y, score, mask, 0.5)
    assert result.skipped == (1, 3)  # F1 needs a known positive only
    assert result.per_tag[2] == pytest.approx(f1_score(np.ones(int(mask[:, 2].sum())), score[mask[:, 2] > 0, 2] >= 0.5))


def test_every_tag_skipped_gives_nan_without_warning():
    y = np.zeros((3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = roc_auc(y, np.full((3, 2), 0.5))
    assert np.isnan(result.value) and result.skipped == (0, 1)


def test_macro_f1_matches_sklearn_per_tag():
    y, score, mask = data(seed=4)
    thresholds = np.array([0.3, 0.5, 0.6, 0.45])
    expected = [f1_score(y[mask[:, t] > 0, t], score[mask[:, t] > 0, t] >= thresholds[t]) for t in range(4)]
    assert macro_f1(y, score, mask, thresholds) == pytest.approx(np.mean(expected))
    assert macro_f1(y, score, mask, 0.5) == macro_f1(y, score, mask, [0.5] * 4)  # scalar threshold


def test_f1_uses_score_at_or_above_threshold():
    y = np.array([[1.0], [0.0], [1.0]])
    score = np.array([[0.5], [0.4], [0.2]])
    assert macro_f1(y, score, None, [0.5]) == pytest.approx(2 / 3)  # TP 1, FN 1, FP 0
    assert macro_f1(y, score, None, [0.2]) == pytest.approx(0.8)  # TP 2, FP 1


def brute_force_best_f1(labels, scores):
    best = -1.0
    for t in np.unique(scores):
        best = max(best, f1_score(labels, scores >= t))
    return best


def test_tune_thresholds_maximises_f1_on_validation_data():
    y, score, mask = data(seed=5, n=60, tags=6)
    y[:, 5] = np.where(mask[:, 5] > 0, 0.0, np.nan)  # no known positive → default threshold
    thresholds = tune_thresholds(y, score, mask)
    assert thresholds.shape == (6,) and thresholds.dtype == np.float64
    assert thresholds[5] == DEFAULT_THRESHOLD
    for tag in range(5):
        rows = mask[:, tag] > 0
        labels, scores = y[rows, tag], score[rows, tag]
        best = brute_force_best_f1(labels, scores)
        assert f1_score(labels, scores >= thresholds[tag]) == pytest.approx(best)
        assert thresholds[tag] in scores  # a known score, never a masked one
        winners = [t for t in np.unique(scores) if f1_score(labels, scores >= t) == pytest.approx(best)]
        assert thresholds[tag] == min(winners)  # ties: the lowest threshold
    # and the tuned thresholds give the best macro F1 on the same data
    assert macro_f1(y, score, mask, thresholds) >= macro_f1(y, score, mask, 0.5)


def test_tune_thresholds_small_cases():
    y = np.array([[0, 1], [1, 1], [0, 1], [1, 1]], float)
    score = np.array([[0.9, 0.3], [0.8, 0.4], [0.1, 0.2], [0.7, 0.9]])
    t = tune_thresholds(y, score)
    # tag 0: {0.7, 0.8} positive-ish; best is >= 0.7 → TP 2, FP 1 (0.9) → F1 0.8; threshold 0.7
    assert t[0] == pytest.approx(0.7)
    assert t[1] == pytest.approx(0.2)  # all positive: predict everything


@pytest.mark.parametrize("args, fragment", [
    ((np.zeros(3), np.zeros(3)), r"labels must be \(n, N_tags\)"),
    ((np.zeros((3, 2)), np.zeros((3, 3))), "scores have shape"),
    ((np.zeros((3, 2)), np.zeros((3, 2)), np.ones((3, 3))), "the mask has shape"),
    ((np.full((3, 2), 0.5), np.zeros((3, 2))), "known labels must be 0 or 1"),
    ((np.zeros((3, 2)), np.full((3, 2), np.nan)), "scores of known entries must be finite"),
])
def test_bad_inputs(args, fragment):
    with pytest.raises(InputError, match=fragment):
        macro_roc_auc(*args)
    with pytest.raises(InputError, match=fragment):
        tune_thresholds(*args)


def test_bad_thresholds():
    with pytest.raises(InputError, match=r"one threshold per tag \(2\), got shape \(3,\)"):
        macro_f1(np.zeros((2, 2)), np.zeros((2, 2)), None, [0.5, 0.5, 0.5])
