"""Downstream reports: the JSON file :func:`~kaudio.downstream.protocol.run_downstream` returns,
written atomically next to a markdown table (``REPORT.json`` → ``REPORT.md``), and read back for
``kaudio downstream compare``."""
from __future__ import annotations

import json
import os
from pathlib import Path

from kaudio.errors import InputError

#: Keys every report has (checked when one is read back).
REQUIRED = ("dataset", "features", "protocol", "folds", "accuracy")


def markdown_path(path: "str | os.PathLike") -> Path:
    return Path(path).with_suffix(".md")


def write_report(report: dict, path: "str | os.PathLike") -> tuple[Path, Path]:
    """Write ``report`` to ``path`` (JSON) and its table to ``path`` with ``.md``, each atomically
    (:func:`kaudio.atomic.write_text_atomic`). Returns both paths."""
    from kaudio.atomic import write_text_atomic

    path = Path(path)
    write_text_atomic(path, json.dumps(report, indent=2) + "\n")
    return path, write_text_atomic(markdown_path(path), report_markdown(report))


def _rate(value: float) -> str:
    return f"{value:.0e}".replace("e-0", "e-")


def describe_features(features: dict) -> str:
    """``openl3_mel256_music 6144-d (weights …)`` or ``logmel 256-d``."""
    text = f"{features['model']} {features['dimension']}-d"
    if features["model"] != "logmel":
        text += f", weights {features['weights']}"
    return text + f", hop {features['hop_size']:g} s"


def report_markdown(report: dict) -> str:
    """The report as markdown: a summary line, then one row per fold."""
    dataset, features, accuracy = report["dataset"], report["features"], report["accuracy"]
    lines = [f"# Downstream evaluation: {features['model']} on {Path(dataset['root']).name} ({dataset['layout']})", "",
             f"Features: {describe_features(features)}; framing: {features['framing']}.",
             f"Dataset: {dataset['clips']} clips, {len(dataset['classes'])} classes, {len(dataset['folds'])} folds.",
             "", f"**Clip accuracy: {100 * accuracy['mean']:.2f} ± {100 * accuracy['std']:.2f} %** "
                 f"(mean ± sample std over {accuracy['folds']} test folds)", "",
             "| Test fold | Clips | Accuracy | lr | wd | Epochs (best) | Val. window accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for fold in report["folds"]:
        lines.append(f"| {fold['fold']} | {fold['test_clips']} | {100 * fold['accuracy']:.2f} | "
                     f"{_rate(fold['learning_rate'])} | {_rate(fold['weight_decay'])} | "
                     f"{fold['epochs']} ({fold['best_epoch']}) | {100 * fold['val_accuracy']:.2f} |")
    return "\n".join(lines) + "\n"


def load_report(path: "str | os.PathLike") -> dict:
    """Read a report written by :func:`write_report`.

    Raises:
        InputError: missing, not JSON, or not a downstream report (the missing keys named).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: report not found")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: not a readable JSON report ({err})") from err
    missing = [key for key in REQUIRED if not isinstance(report, dict) or key not in report]
    if missing:
        raise InputError(f"{path}: not a kaudio downstream report (no {', '.join(missing)}); "
                         "write one with `kaudio downstream DATASET --out REPORT.json`")
    return report
