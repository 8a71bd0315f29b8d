"""Evaluation metrics (masked macro ROC-AUC / PR-AUC / F1 with tuned thresholds; sound event detection:
clip micro/macro AP, segment- and event-based F1 / ER) and Table-1 writers.

scikit-learn is imported on first use, so ``import kaudio`` stays fast.
"""
from kaudio.metrics.table import (LEVELS, METRICS, csv_columns, evaluate_levels, summarize_runs, to_markdown,
                                  write_csv, write_table)
from kaudio.metrics.classification import classification_rows
from kaudio.metrics.sed import (CLIP_METRICS, FRAME_METRICS, SED_METRICS, EventScores, SegmentScores,
                                activity_to_events, clip_metrics, event_based, sed_rows, sed_scores, segment_based)
from kaudio.metrics.tagging import (DEFAULT_THRESHOLD, MacroScore, f1, macro_f1, macro_pr_auc, macro_roc_auc, pr_auc,
                                    roc_auc, tune_thresholds)

__all__ = ["CLIP_METRICS", "DEFAULT_THRESHOLD", "FRAME_METRICS", "LEVELS", "METRICS", "SED_METRICS", "EventScores",
           "MacroScore", "SegmentScores", "activity_to_events", "classification_rows", "clip_metrics", "csv_columns",
           "evaluate_levels", "event_based", "f1", "macro_f1", "macro_pr_auc", "macro_roc_auc", "pr_auc", "roc_auc",
           "sed_rows", "sed_scores", "segment_based", "summarize_runs", "to_markdown", "tune_thresholds", "write_csv",
           "write_table"]
