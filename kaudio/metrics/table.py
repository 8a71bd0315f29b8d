"""Fine/coarse evaluation rows and the Table-1-style comparison (Zhong et al., Table 1).

``evaluate_levels`` scores one run at both levels; ``summarize_runs`` aggregates runs (seeds) per
method into mean ± std; ``to_markdown`` / ``write_csv`` / ``write_table`` render the table with
rows = methods and columns = {fine, coarse} × {ROC-AUC, PR-AUC, F1}, in percent like the paper.
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
METRIC_TITLES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "f1": "F1"}


def evaluate_levels(y_true: Mapping[str, np.ndarray], y_score: Mapping[str, np.ndarray],
                    thresholds: Mapping[str, np.ndarray]) -> list[dict]:
    """Score one run at each level.

    Args:
        y_true: targets ``{"fine", "coarse", "fine_mask", "coarse_mask"}`` (masks optional).
        y_score: predictions ``{"fine", "coarse"}`` (other keys ignored).
        thresholds: per-tag thresholds ``{"fine": (N_fine,), "coarse": (N_coarse,)}``, tuned on the
            validation set with :func:`~kaudio.metrics.tune_thresholds`.

    Returns:
        One row per level: ``{"level", "roc_auc", "pr_auc", "f1", "tags", "skipped_roc_auc",
        "skipped_pr_auc", "skipped_f1"}`` (metrics as fractions in [0, 1]; skipped = number of
        tags that could not be scored).
    """
    rows = []
    for level in LEVELS:
        for name, source in (("targets", y_true), ("predictions", y_score), ("thresholds", thresholds)):
            if level not in source:
                raise InputError(f"the {name} lack the {level!r} level (expected keys 'fine' and 'coarse')")
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
            :func:`evaluate_levels`; a single run may be given as its rows directly.

    Returns:
        One row per method, in the given order: ``{"method", "runs", "<level>_<metric>_mean",
        "<level>_<metric>_std", "<level>_skipped_<metric>"}``; std is the sample standard deviation
        (ddof 1), 0 for a single run; skipped is the largest count over the runs.
    """
    table = []
    for method, method_runs in runs.items():
        if method_runs and isinstance(method_runs[0], Mapping):
            method_runs = [method_runs]
        if not method_runs:
            raise InputError(f"method {method!r} has no runs")
        row: dict = {"method": str(method), "runs": len(method_runs)}
        for level in LEVELS:
            level_rows = [_level_row(run, level, method) for run in method_runs]
            for metric in METRICS:
                values = np.array([r[metric] for r in level_rows], dtype=np.float64)
                row[f"{level}_{metric}_mean"] = float(np.mean(values))
                row[f"{level}_{metric}_std"] = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
            for metric in METRICS:
                row[f"{level}_skipped_{metric}"] = max(int(r.get(f"skipped_{metric}", 0)) for r in level_rows)
        table.append(row)
    return table


def _level_row(run: Sequence[dict], level: str, method: str) -> dict:
    for row in run:
        if row.get("level") == level:
            return row
    raise InputError(f"a run of {method!r} has no {level!r} row (use evaluate_levels' output)")


def _cell(row: dict, level: str, metric: str, digits: int) -> str:
    mean, std = row[f"{level}_{metric}_mean"], row[f"{level}_{metric}_std"]
    if math.isnan(mean):
        return "n/a"
    text = f"{100 * mean:.{digits}f}"
    return text + (f" ± {100 * std:.{digits}f}" if row["runs"] > 1 else "")


def to_markdown(summary: Sequence[dict], digits: int = 1, title: str | None = None) -> str:
    """The summary as a markdown table in percent (``mean ± std`` when a method has several runs),
    followed by a note on skipped tags when any tag could not be scored."""
    columns = [f"{level.capitalize()} {METRIC_TITLES[m]}" for level in LEVELS for m in METRICS]
    lines = [f"**{title}**", ""] if title else []
    lines += ["| Method | Runs | " + " | ".join(columns) + " |", "|---|---:|" + "---:|" * len(columns)]
    notes = []
    for row in summary:
        cells = [_cell(row, level, m, digits) for level in LEVELS for m in METRICS]
        lines.append(f"| {row['method']} | {row['runs']} | " + " | ".join(cells) + " |")
        skipped = [f"{level} {METRIC_TITLES[m]} {row[f'{level}_skipped_{m}']}" for level in LEVELS for m in METRICS
                   if row.get(f"{level}_skipped_{m}", 0)]
        if skipped:
            notes.append(f"{row['method']}: " + ", ".join(skipped))
    if notes:
        lines += ["", "Tags left out (a single class among their known entries, or no known positive for F1): "
                  + "; ".join(notes) + "."]
    return "\n".join(lines) + "\n"


def csv_columns() -> list[str]:
    """Column order of :func:`write_csv`."""
    columns = ["method", "runs"]
    for level in LEVELS:
        for metric in METRICS:
            columns += [f"{level}_{metric}_mean", f"{level}_{metric}_std"]
    columns += [f"{level}_skipped_{m}" for level in LEVELS for m in METRICS]
    return columns


def write_csv(summary: Sequence[dict], path: "str | os.PathLike") -> Path:
    """Write the summary as CSV (fractions in [0, 1], full precision, one row per method)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=csv_columns(), extrasaction="ignore")
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
