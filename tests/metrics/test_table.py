"""Fine/coarse evaluation rows and the Table-1-style summary (Zhong et al. Table 1)."""
import csv

import numpy as np
import pytest

from kaudio.errors import InputError
from kaudio.metrics import (csv_columns, evaluate_levels, macro_f1, macro_pr_auc, macro_roc_auc, summarize_runs,
                            to_markdown, tune_thresholds, write_csv, write_table)


def level_data(seed, n=30, tags=3):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=(n, tags)) > 0.5).astype(float)
    score = np.clip(0.4 * y + rng.uniform(0, 0.6, (n, tags)), 0, 1)
    mask = (rng.uniform(size=(n, tags)) > 0.2).astype(float)
    return y, score, mask


def run_data(seed=0):
    yf, sf, mf = level_data(seed, tags=4)
    yc, sc, mc = level_data(seed + 100, tags=2)
    return {"fine": yf, "coarse": yc, "fine_mask": mf, "coarse_mask": mc}, {"fine": sf, "coarse": sc, "attention": None}


def test_evaluate_levels_rows():
    y_true, y_score = run_data()
    thresholds = {level: tune_thresholds(y_true[level], y_score[level], y_true[f"{level}_mask"])
                  for level in ("fine", "coarse")}
    rows = evaluate_levels(y_true, y_score, thresholds)
    assert [r["level"] for r in rows] == ["fine", "coarse"]
    for row, level, tags in zip(rows, ("fine", "coarse"), (4, 2)):
        y, s, m = y_true[level], y_score[level], y_true[f"{level}_mask"]
        assert row["roc_auc"] == macro_roc_auc(y, s, m) and row["pr_auc"] == macro_pr_auc(y, s, m)
        assert row["f1"] == macro_f1(y, s, m, thresholds[level])
        assert row["tags"] == tags and row["skipped_roc_auc"] == row["skipped_pr_auc"] == row["skipped_f1"] == 0
        assert set(row) == {"level", "roc_auc", "pr_auc", "f1", "tags", "skipped_roc_auc", "skipped_pr_auc", "skipped_f1"}


def test_evaluate_levels_counts_skipped_tags_and_masks_are_optional():
    y_true, y_score = run_data(1)
    y_true["coarse"][:, 0] = 0  # one coarse tag with no positive
    del y_true["fine_mask"]
    rows = evaluate_levels(y_true, y_score, {"fine": 0.5, "coarse": [0.5, 0.5]})
    assert rows[0]["roc_auc"] == macro_roc_auc(y_true["fine"], y_score["fine"])
    assert (rows[1]["skipped_roc_auc"], rows[1]["skipped_pr_auc"], rows[1]["skipped_f1"]) == (1, 1, 1)


@pytest.mark.parametrize("drop", ["targets", "predictions", "thresholds"])
def test_evaluate_levels_needs_both_levels(drop):
    y_true, y_score = run_data()
    thresholds = {"fine": 0.5, "coarse": 0.5}
    sources = {"targets": y_true, "predictions": y_score, "thresholds": thresholds}
    del sources[drop]["coarse"]
    with pytest.raises(InputError, match=f"the {drop} lack the 'coarse' level"):
        evaluate_levels(y_true, y_score, thresholds)


def fake_rows(fine, coarse, skipped=0):
    return [{"level": "fine", "roc_auc": fine[0], "pr_auc": fine[1], "f1": fine[2], "tags": 4,
             "skipped_roc_auc": 0, "skipped_pr_auc": 0, "skipped_f1": 0},
            {"level": "coarse", "roc_auc": coarse[0], "pr_auc": coarse[1], "f1": coarse[2], "tags": 2,
             "skipped_roc_auc": skipped, "skipped_pr_auc": 0, "skipped_f1": 0}]


RUNS = {
    "flat": [fake_rows((0.91, 0.85, 0.83), (0.92, 0.89, 0.84)), fake_rows((0.93, 0.86, 0.84), (0.94, 0.91, 0.85), 1)],
    "resatt": fake_rows((0.920, 0.860, 0.837), (0.931, 0.907, 0.855)),  # a single run given as its rows
}


def test_summarize_runs_mean_and_sample_std():
    flat, resatt = summarize_runs(RUNS)
    assert (flat["method"], flat["runs"], resatt["method"], resatt["runs"]) == ("flat", 2, "resatt", 1)
    assert flat["fine_roc_auc_mean"] == pytest.approx(0.92)
    assert flat["fine_roc_auc_std"] == pytest.approx(np.std([0.91, 0.93], ddof=1))
    assert flat["coarse_f1_mean"] == pytest.approx(0.845) and flat["coarse_f1_std"] == pytest.approx(np.sqrt(5e-5))
    assert flat["coarse_skipped_roc_auc"] == 1 and flat["fine_skipped_roc_auc"] == 0  # largest over runs
    assert resatt["coarse_pr_auc_mean"] == 0.907 and resatt["coarse_pr_auc_std"] == 0.0
    assert set(flat) - {"levels", "metrics"} == set(csv_columns())
    assert flat["levels"] == ("fine", "coarse") and flat["metrics"] == ("roc_auc", "pr_auc", "f1")


def test_summarize_runs_errors():
    with pytest.raises(InputError, match="method 'gmp' has no runs"):
        summarize_runs({"gmp": []})
    with pytest.raises(InputError, match="a run of 'gmp' has no 'coarse' row"):
        summarize_runs({"gmp": [fake_rows((1, 1, 1), (1, 1, 1)), fake_rows((1, 1, 1), (1, 1, 1))[:1]]})


def test_one_level_and_other_metrics():
    runs = {"cnn10": [[{"level": "classes", "accuracy": 0.8, "macro_f1": 0.7, "tags": 5}],
                      [{"level": "classes", "accuracy": 0.9, "macro_f1": 0.75, "tags": 5}]]}
    summary = summarize_runs(runs)
    assert summary[0]["levels"] == ("classes",) and summary[0]["metrics"] == ("accuracy", "macro_f1")
    lines = to_markdown(summary).splitlines()
    assert lines[0] == "| Method | Runs | Accuracy | Macro F1 |"
    assert lines[2] == "| cnn10 | 2 | 85.0 ± 7.1 | 72.5 ± 3.5 |"


def test_markdown_is_table1_style_in_percent():
    text = to_markdown(summarize_runs(RUNS), title="Results (%)")
    lines = text.splitlines()
    assert lines[0] == "**Results (%)**" and lines[1] == ""
    assert lines[2] == ("| Method | Runs | Fine ROC-AUC | Fine PR-AUC | Fine F1 | Coarse ROC-AUC | Coarse PR-AUC "
                        "| Coarse F1 |")
    assert lines[3] == "|---|---:|---:|---:|---:|---:|---:|---:|"
    assert lines[4] == "| flat | 2 | 92.0 ± 1.4 | 85.5 ± 0.7 | 83.5 ± 0.7 | 93.0 ± 1.4 | 90.0 ± 1.4 | 84.5 ± 0.7 |"
    assert lines[5] == "| resatt | 1 | 92.0 | 86.0 | 83.7 | 93.1 | 90.7 | 85.5 |"
    assert lines[-1] == ("Tags left out (a single class among their known entries, or no known positive for F1): "
                         "flat: coarse ROC-AUC 1.")
    assert text.endswith("\n")


def test_markdown_digits_nan_and_no_notes():
    summary = summarize_runs({"lp": fake_rows((0.9183, float("nan"), 0.5), (0.75, 0.709, 0.676))})
    text = to_markdown(summary, digits=2)
    assert "| lp | 1 | 91.83 | n/a | 50.00 | 75.00 | 70.90 | 67.60 |" in text
    assert "Tags left out" not in text and not text.startswith("**")


def test_csv_and_write_table(tmp_path):
    md, csv_path = write_table(RUNS, tmp_path / "metrics", title="Table 1")
    assert md == tmp_path / "metrics.md" and csv_path == tmp_path / "metrics.csv"
    assert md.read_text() == to_markdown(summarize_runs(RUNS), title="Table 1")
    with csv_path.open() as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == csv_columns()
        rows = list(reader)
    assert [r["method"] for r in rows] == ["flat", "resatt"]
    assert float(rows[0]["fine_roc_auc_mean"]) == pytest.approx(0.92)  # fractions, full precision
    assert float(rows[1]["coarse_f1_mean"]) == 0.855 and rows[0]["coarse_skipped_roc_auc"] == "1"
    assert csv_columns()[:4] == ["method", "runs", "fine_roc_auc_mean", "fine_roc_auc_std"]
    assert write_csv(summarize_runs(RUNS), tmp_path / "x.csv").read_text().startswith("method,runs,")


def test_end_to_end_from_predictions(tmp_path):
    runs = {}
    for method, seeds in (("flat", (0, 1)), ("gmp", (2, 3))):
        method_runs = []
        for seed in seeds:
            y_true, y_score = run_data(seed)
            thresholds = {lv: tune_thresholds(y_true[lv], y_score[lv], y_true[f"{lv}_mask"]) for lv in ("fine", "coarse")}
            method_runs.append(evaluate_levels(y_true, y_score, thresholds))
        runs[method] = method_runs
    md, _ = write_table(runs, tmp_path / "t")
    body = md.read_text().splitlines()
    assert body[2].startswith("| flat | 2 | ") and body[3].startswith("| gmp | 2 | ") and body[2].count("±") == 6
