"""Evaluation metrics (masked macro ROC-AUC / PR-AUC / F1 with tuned thresholds)."""
