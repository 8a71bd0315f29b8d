"""Evaluation of a trained run (Zhong et al. §4.3, Table 1).

Per-tag thresholds are tuned on the validation set (F1-optimal, :func:`kaudio.metrics.tune_thresholds`)
at each level, then the test set is scored with masked macro ROC-AUC, PR-AUC and F1 at the fine
and coarse levels. The run directory receives ``thresholds.json`` and ``metrics.md``/``metrics.csv``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from kaudio.errors import KaudioError
from kaudio.metrics import LEVELS, evaluate_levels, to_markdown, tune_thresholds, write_table


def predict_dataset(model, dataset) -> tuple[dict, dict]:
    """Run ``model`` over a dataset of ``(audio, targets)`` batches.

    Returns:
        ``(targets, scores)``: concatenated numpy dicts ``{"fine", "coarse", "fine_mask",
        "coarse_mask"}`` and ``{"fine", "coarse"}``.
    """
    targets: dict[str, list] = {}
    scores: dict[str, list] = {level: [] for level in LEVELS}
    for batch in dataset:
        audio, y = batch[0], batch[1]
        out = model(audio, training=False)
        if not isinstance(out, Mapping) or not all(level in out for level in LEVELS):
            raise KaudioError("evaluation needs a hierarchical model (outputs 'fine' and 'coarse')")
        for level in LEVELS:
            scores[level].append(np.asarray(out[level]))
        for key, value in y.items():
            targets.setdefault(key, []).append(np.asarray(value))
    if not scores["fine"]:
        raise KaudioError("the dataset to evaluate is empty")
    return ({k: np.concatenate(v) for k, v in targets.items()}, {k: np.concatenate(v) for k, v in scores.items()})


def tune_level_thresholds(targets: Mapping, scores: Mapping) -> dict[str, np.ndarray]:
    """F1-optimal per-tag thresholds at each level (masked entries ignored)."""
    return {level: tune_thresholds(targets[level], scores[level], targets.get(f"{level}_mask")) for level in LEVELS}


def save_thresholds(path: "str | os.PathLike", thresholds: Mapping, hierarchy=None) -> Path:
    """``thresholds.json``: ``{"fine": {tag: t}, "coarse": {tag: t}}`` when tag names are known, else lists."""
    out = {}
    for level in LEVELS:
        values = [float(t) for t in thresholds[level]]
        names = getattr(hierarchy, f"{level}_names", None) if hierarchy is not None else None
        out[level] = dict(zip(names, values)) if names is not None else values
    Path(path).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return Path(path)


def load_thresholds(path: "str | os.PathLike", hierarchy=None) -> dict[str, np.ndarray]:
    """Read ``thresholds.json`` back as ``{level: (N,) array}`` in the hierarchy's tag order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = {}
    for level in LEVELS:
        values = data[level]
        if isinstance(values, dict):
            names = getattr(hierarchy, f"{level}_names", None) if hierarchy is not None else list(values)
            missing = [n for n in names if n not in values]
            if missing:
                raise KaudioError(f"{path}: no {level} threshold for {missing}")
            values = [values[n] for n in names]
        out[level] = np.asarray(values, np.float64)
    return out


def evaluate_model(model, val_ds, test_ds, run_dir: "str | os.PathLike | None" = None, method: str | None = None,
                   hierarchy=None) -> dict:
    """Tune thresholds on ``val_ds``, score ``test_ds``; write the files into ``run_dir`` if given.

    Returns:
        ``{"rows": evaluate_levels rows, "thresholds": {level: array}, "markdown": table text}``.
    """
    val_targets, val_scores = predict_dataset(model, val_ds)
    thresholds = tune_level_thresholds(val_targets, val_scores)
    test_targets, test_scores = predict_dataset(model, test_ds)
    rows = evaluate_levels(test_targets, test_scores, thresholds)
    method = method or _method_name(model)
    from kaudio.metrics import summarize_runs

    markdown = to_markdown(summarize_runs({method: rows}))
    if run_dir is not None:
        run_dir = Path(run_dir)
        if hierarchy is None:
            hierarchy = _hierarchy_of(model)
        save_thresholds(run_dir / "thresholds.json", thresholds, hierarchy)
        write_table({method: rows}, run_dir / "metrics")
    return {"rows": rows, "thresholds": thresholds, "markdown": markdown}


def _method_name(model) -> str:
    spec = getattr(model, "spec", None)
    return spec.head["type"] if spec is not None and spec.head else model.name


def _hierarchy_of(model):
    spec = getattr(model, "spec", None)
    if spec is None or not spec.head or "hierarchy" not in spec.head:
        return None
    from kaudio.hierarchy import Hierarchy

    return Hierarchy.from_mapping(spec.head["hierarchy"])
