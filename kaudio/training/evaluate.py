"""Evaluation of a trained supervised run (Zhong et al. §4.3, Table 1; PANNs' mAP; accuracy).

By what the model predicts (the targets a dataset yields):

* hierarchical (``{"fine", "coarse", …}`` targets): per-tag thresholds tuned on the validation set
  (F1-optimal, :func:`kaudio.metrics.tune_thresholds`) at each level, then the test set is scored
  with masked macro ROC-AUC, PR-AUC and F1 at the fine and coarse levels;
* multi-label classes (``{"labels", "labels_mask"}`` targets, a sigmoid tagger): the same three
  metrics at one level — PR-AUC is the mean average precision (mAP) PANNs reports;
* single-label classes (a softmax classifier): accuracy and macro F1 of the arg-max class.

Thresholds can also be given (``thresholds=``, a run's ``thresholds.json``): then the validation
set is not needed, which is how ``kaudio evaluate RUN --test-data OTHER`` scores an out-of-domain
folder with the run's validation-tuned thresholds. The run directory receives ``thresholds.json``
and ``metrics.md``/``metrics.csv``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from kaudio.errors import KaudioError
from kaudio.metrics import LEVELS, evaluate_levels, summarize_runs, to_markdown, tune_thresholds, write_table
from kaudio.metrics.classification import classification_rows

#: The level name of flat (one-level) labels in thresholds and metric tables.
FLAT_LEVEL = "labels"


def predict_dataset(model, dataset) -> tuple[dict, dict]:
    """Run ``model`` over a dataset of ``(audio, targets)`` batches.

    Returns:
        ``(targets, scores)``: concatenated numpy dicts — the dataset's target keys, and the model's
        outputs by name (a single-output model's under ``"labels"``).
    """
    targets: dict[str, list] = {}
    scores: dict[str, list] = {}
    for batch in dataset:
        audio, y = batch[0], batch[1]
        out = model(audio, training=False)
        outputs = dict(out) if isinstance(out, Mapping) else {FLAT_LEVEL: out}
        for key, value in outputs.items():
            scores.setdefault(key, []).append(np.asarray(value, dtype=np.float32))
        for key, value in y.items():
            targets.setdefault(key, []).append(np.asarray(value))
    if not scores:
        raise KaudioError("the dataset to evaluate is empty")
    return ({k: np.concatenate(v) for k, v in targets.items()}, {k: np.concatenate(v) for k, v in scores.items()})


def levels_of(targets: Mapping) -> tuple[str, ...]:
    """``("fine", "coarse")`` for hierarchical targets, ``("labels",)`` for flat ones."""
    if all(level in targets for level in LEVELS):
        return LEVELS
    if FLAT_LEVEL in targets:
        return (FLAT_LEVEL,)
    raise KaudioError(f"cannot tell the labels of targets with keys {sorted(targets)}; expected fine/coarse or labels")


def tune_level_thresholds(targets: Mapping, scores: Mapping, levels=None) -> dict[str, np.ndarray]:
    """F1-optimal per-tag thresholds at each level (masked entries ignored)."""
    levels = levels or levels_of(targets)
    for level in levels:
        if level not in scores:
            raise KaudioError(f"evaluation needs the model output {level!r} (outputs: {', '.join(scores)})")
    return {level: tune_thresholds(targets[level], scores[level], targets.get(f"{level}_mask")) for level in levels}


def save_thresholds(path: "str | os.PathLike", thresholds: Mapping, names: Mapping | None = None) -> Path:
    """``thresholds.json``: ``{level: {tag: t}}`` when tag names are known, else ``{level: [t, ...]}``."""
    out = {}
    for level, values in thresholds.items():
        values = [float(t) for t in values]
        level_names = (names or {}).get(level)
        out[level] = dict(zip(level_names, values)) if level_names is not None else values
    Path(path).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return Path(path)


def load_thresholds(path: "str | os.PathLike", names: Mapping | None = None) -> dict[str, np.ndarray]:
    """Read ``thresholds.json`` back as ``{level: (N,) array}`` in the order of ``names[level]``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise KaudioError(f"cannot read the thresholds {path}: {err}") from err
    out = {}
    for level, values in data.items():
        if isinstance(values, dict):
            level_names = (names or {}).get(level) or list(values)
            missing = [n for n in level_names if n not in values]
            if missing:
                raise KaudioError(f"{path}: no {level} threshold for {missing}; was the run trained on other labels?")
            values = [values[n] for n in level_names]
        out[level] = np.asarray(values, np.float64)
    return out


def label_names(model) -> dict[str, list[str]] | None:
    """``{level: tag names}`` of a model's spec (its hierarchy or its head's classes), or ``None``."""
    spec = getattr(model, "spec", None)
    head = (spec.head or {}) if spec is not None else {}
    if "hierarchy" in head:
        from kaudio.hierarchy import Hierarchy

        hierarchy = Hierarchy.from_mapping(head["hierarchy"])
        return {"fine": list(hierarchy.fine_names), "coarse": list(hierarchy.coarse_names)}
    if head.get("classes"):
        return {FLAT_LEVEL: list(head["classes"])}
    return None


def evaluate_model(model, val_ds, test_ds, run_dir: "str | os.PathLike | None" = None, method: str | None = None,
                   thresholds: Mapping | None = None, stem: str = "metrics") -> dict:
    """Score ``test_ds`` (thresholds tuned on ``val_ds`` unless given); write the files into ``run_dir`` if given:
    ``<stem>.md`` / ``<stem>.csv``, and ``thresholds.json`` when they were tuned here.

    Returns:
        ``{"rows": metric rows, "thresholds": {level: array} (tagging only), "markdown": table text}``.
    """
    test_targets, test_scores = predict_dataset(model, test_ds)
    method = method or _method_name(model)
    tuned = False
    if _single_label(model):
        rows = classification_rows(test_targets[FLAT_LEVEL], test_scores[FLAT_LEVEL])
        thresholds = None
    else:
        levels = levels_of(test_targets)
        if thresholds is None:
            if val_ds is None:
                raise KaudioError("tuning the F1 thresholds needs the validation data (or the run's thresholds.json)")
            thresholds, tuned = tune_level_thresholds(*predict_dataset(model, val_ds), levels), True
        rows = evaluate_levels(test_targets, test_scores, thresholds, levels)
    markdown = to_markdown(summarize_runs({method: rows}))
    if run_dir is not None:
        run_dir = Path(run_dir)
        if tuned:
            save_thresholds(run_dir / "thresholds.json", thresholds, label_names(model))
        write_table({method: rows}, run_dir / stem)
    return {"rows": rows, "thresholds": thresholds, "markdown": markdown}


def _single_label(model) -> bool:
    from kaudio import registry

    spec = getattr(model, "spec", None)
    head = (spec.head or {}) if spec is not None else {}
    return getattr(registry.lookup("head", head.get("type", "")), "target_kind", None) == "singlelabel"


def _method_name(model) -> str:
    spec = getattr(model, "spec", None)
    return spec.head["type"] if spec is not None and spec.head else model.name
