"""Evaluation metrics (masked macro ROC-AUC / PR-AUC / F1 with tuned thresholds) and Table-1 writers.

scikit-learn is imported on first use, so ``import kaudio`` stays fast.
"""
from kaudio.metrics.table import (LEVELS, METRICS, csv_columns, evaluate_levels, summarize_runs, to_markdown,
                                  write_csv, write_table)
from kaudio.metrics.classification import classification_rows
from kaudio.metrics.tagging import (DEFAULT_THRESHOLD, MacroScore, f1, macro_f1, macro_pr_auc, macro_roc_auc, pr_auc,
                                    roc_auc, tune_thresholds)

__all__ = ["DEFAULT_THRESHOLD", "LEVELS", "METRICS", "MacroScore", "classification_rows", "csv_columns", "evaluate_levels", "f1", "macro_f1",
           "macro_pr_auc", "macro_roc_auc", "pr_auc", "roc_auc", "summarize_runs", "to_markdown", "tune_thresholds",
           "write_csv", "write_table"]
