"""Evaluation rows and the Table-1-style comparison (Zhong et al., Table 1).

``evaluate_levels`` scores one run at each label level (``fine`` and ``coarse`` for hierarchical
tagging, one level for flat multi-label tagging); ``summarize_runs`` aggregates runs (seeds) per
method into mean ± std; ``to_markdown`` / ``write_csv`` / ``write_table`` render the table with
rows = methods and columns = levels × metrics (ROC-AUC, PR-AUC, F1 for tagging; accuracy and macro
F1 for single-label classification), in percent like the paper. A row of ``evaluate_levels`` is
``{"level": name, <metric>: value, ...}``; any metric names work, the table follows the rows.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from kaudio.errors import InputError
from kaudio.metrics.tagging import f1, pr_auc, roc_auc

LEVELS = ("fine", "coarse")
METRICS = ("roc_auc", "pr_auc", "f1")
METRIC_TITLES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "f1": "F1", "accuracy": "Accuracy",
                 "macro_f1": "Macro F1"}
METRIC_TITLES.update(micro_ap="Micro-AP", macro_ap="Macro-AP", segment_f1="Segment F1", segment_er="Segment ER", event_f1="Event F1")


def evaluate_levels(y_true: Mapping[str, np.ndarray], y_score: Mapping[str, np.ndarray],
                    thresholds: Mapping[str, np.ndarray], levels: Sequence[str] = LEVELS) -> list[dict]:
    """Score one run at each level.

    Args:
        y_true: targets ``{level, level_mask, ...}``, e.g. ``{"fine", "coarse", "fine_mask",
            "coarse_mask"}`` (masks optional).
        y_score: predictions ``{level: scores}`` (other keys ignored).
        thresholds: per-tag thresholds ``{level: (N,)}``, tuned on the validation set with
            :func:`~kaudio.metrics.tune_thresholds`.
        levels: the levels to score (``("fine", "coarse")`` by default).

    Returns:
        One row per level: ``{"level", "roc_auc", "pr_auc", "f1", "tags", "skipped_roc_auc",
        "skipped_pr_auc", "skipped_f1"}`` (metrics as fractions in [0, 1]; skipped = number of
        tags that could not be scored).
    """
    rows = []
    for level in levels:
        for name, source in (("targets", y_true), ("predictions", y_score), ("thresholds", thresholds)):
            if level not in source:
                raise InputError(f"the {name} lack the {level!r} level (expected keys {', '.join(map(repr, levels))})")
        labels, scores, mask = y_true[level], y_score[level], y_true.get(f"{level}_mask")
        scores_ = {"roc_auc": roc_auc(labels, scores, mask), "pr_auc": pr_auc(labels, scores, mask),
                   "f1": f1(labels, scores, mask, thresholds[level])}
        row = {"level": level, **{k: v.value for k, v in scores_.items()}, "tags": int(np.shape(labels)[1])}
        row.update({f"skipped_{k}": len(v.skipped) for k, v in scores_.items()})
        rows.append(row)
    return rows


def summarize_runs(runs: Mapping[str, Sequence[Sequence[dict]] | Sequence[dict]]) -> list[dict]:
    """Mean and standard deviation across runs (seeds) of each method.

    Args:
        runs: ``{method: [rows_of_run_1, rows_of_run_2, ...]}`` where each ``rows`` is the output of
            :func:`evaluate_levels` (or any rows ``{"level", <metric>: value}``); a single run may be
            given as its rows directly.

    Returns:
        One row per method, in the given order: ``{"method", "runs", "levels", "metrics",
        "<level>_<metric>_mean", "<level>_<metric>_std", "<level>_skipped_<metric>"}``; std is the
        sample standard deviation (ddof 1), 0 for a single run; skipped is the largest count over the
        runs. The levels and metrics are those of the first run's rows.
    """
    table = []
    for method, method_runs in runs.items():
        if method_runs and isinstance(method_runs[0], Mapping):
            method_runs = [method_runs]
        if not method_runs:
            raise InputError(f"method {method!r} has no runs")
        levels, metrics = _levels_and_metrics(method_runs[0])
        row: dict = {"method": str(method), "runs": len(method_runs), "levels": levels, "metrics": metrics}
        for level in levels:
            level_rows = [_level_row(run, level, method) for run in method_runs]
            for metric in metrics:
                values = np.array([r[metric] for r in level_rows], dtype=np.float64)
                row[f"{level}_{metric}_mean"] = float(np.mean(values))
                row[f"{level}_{metric}_std"] = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
            for metric in metrics:
                row[f"{level}_skipped_{metric}"] = max(int(r.get(f"skipped_{metric}", 0)) for r in level_rows)
        table.append(row)
    return table


def _levels_and_metrics(run: Sequence[dict]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    levels = tuple(row["level"] for row in run)
    metrics = tuple(key for key in run[0] if key in METRIC_TITLES)
    return levels, metrics


def _level_row(run: Sequence[dict], level: str, method: str) -> dict:
    for row in run:
        if row.get("level") == level:
            return row
    raise InputError(f"a run of {method!r} has no {level!r} row (use evaluate_levels' output)")


#: Metrics shown as plain ratios (an error rate can exceed 1), not in percent.
RATIO_METRICS = frozenset({"segment_er", "event_er"})


def _cell(row: dict, level: str, metric: str, digits: int) -> str:
    mean, std = row[f"{level}_{metric}_mean"], row[f"{level}_{metric}_std"]
    if math.isnan(mean):
        return "n/a"
    scale, places = (1, digits + 1) if metric in RATIO_METRICS else (100, digits)
    text = f"{scale * mean:.{places}f}"
    return text + (f" ± {scale * std:.{places}f}" if row["runs"] > 1 else "")


def _title(level: str) -> str:
    return level[:1].upper() + level[1:]


def to_markdown(summary: Sequence[dict], digits: int = 1, title: str | None = None) -> str:
    """The summary as a markdown table in percent (``mean ± std`` when a method has several runs;
    error rates as ratios), followed by a note on skipped tags when any tag could not be scored.
    A single level is not named in the column titles; with more than two levels (e.g. a breakdown
    per SNR) each (method, level) gets its own row, like the paper tables of sound event detection."""
    levels, metrics = _summary_layout(summary)
    lines = [f"**{title}**", ""] if title else []
    if len(levels) > 2:
        columns = [METRIC_TITLES[m] for m in metrics]
        lines += ["| Method | Clips | Runs | " + " | ".join(columns) + " |", "|---|---|---:|" + "---:|" * len(columns)]
        for row in summary:
            for level in levels:
                cells = [_cell(row, level, m, digits) for m in metrics]
                lines.append(f"| {row['method']} | {level} | {row['runs']} | " + " | ".join(cells) + " |")
    else:
        columns = [METRIC_TITLES[m] if len(levels) == 1 else f"{_title(level)} {METRIC_TITLES[m]}"
                   for level in levels for m in metrics]
        lines += ["| Method | Runs | " + " | ".join(columns) + " |", "|---|---:|" + "---:|" * len(columns)]
        for row in summary:
            cells = [_cell(row, level, m, digits) for level in levels for m in metrics]
            lines.append(f"| {row['method']} | {row['runs']} | " + " | ".join(cells) + " |")
    notes = []
    for row in summary:
        skipped = [f"{level} {METRIC_TITLES[m]} {row[f'{level}_skipped_{m}']}" for level in levels for m in metrics
                   if row.get(f"{level}_skipped_{m}", 0)]
        if skipped:
            notes.append(f"{row['method']}: " + ", ".join(skipped))
    if notes:
        lines += ["", "Tags left out (a single class among their known entries, or no known positive for F1): "
                  + "; ".join(notes) + "."]
    return "\n".join(lines) + "\n"


def _summary_layout(summary: Sequence[dict]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not summary:
        return LEVELS, METRICS
    return tuple(summary[0].get("levels", LEVELS)), tuple(summary[0].get("metrics", METRICS))


def csv_columns(levels: Sequence[str] = LEVELS, metrics: Sequence[str] = METRICS) -> list[str]:
    """Column order of :func:`write_csv`."""
    columns = ["method", "runs"]
    for level in levels:
        for metric in metrics:
            columns += [f"{level}_{metric}_mean", f"{level}_{metric}_std"]
    columns += [f"{level}_skipped_{m}" for level in levels for m in metrics]
    return columns


def write_csv(summary: Sequence[dict], path: "str | os.PathLike") -> Path:
    """Write the summary as CSV (fractions in [0, 1], full precision, one row per method)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=csv_columns(*_summary_layout(summary)), extrasaction="ignore")
        writer.writeheader()
        for row in summary:
            writer.writerow(row)
    return path


def write_table(runs: Mapping, stem: "str | os.PathLike", digits: int = 1, title: str | None = None) -> tuple[Path, Path]:
    """Summarise ``runs`` (see :func:`summarize_runs`) and write ``<stem>.md`` and ``<stem>.csv``."""
    summary = summarize_runs(runs)
    stem = Path(stem)
    markdown = stem.parent / f"{stem.name}.md"
    markdown.write_text(to_markdown(summary, digits, title), encoding="utf-8")
    return markdown, write_csv(summary, stem.parent / f"{stem.name}.csv")
