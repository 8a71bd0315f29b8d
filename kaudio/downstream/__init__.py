"""The downstream evaluation protocol of Cramer et al. ("Look, Listen and Learn More", ICASSP 2019,
§3.2–3.3; ``marl/l3embedding``) for any kaudio embedding, and the ``logmel`` baseline.

* :func:`load_downstream_dataset` — a ``labels.csv`` folder (``file,label,fold``), UrbanSound8K or
  ESC-50 as released (:mod:`kaudio.downstream.datasets`);
* :func:`run_downstream` — features once per clip (cached), an MLP per test fold with a
  learning-rate × weight-decay grid, clip accuracy per fold (:mod:`kaudio.downstream.protocol`);
* :func:`write_report` / :func:`load_report` — the JSON report and its markdown table;
* :func:`compare_reports` — Wilcoxon signed-rank test on two reports' per-fold accuracies.

The names are imported on first use, so reading datasets and comparing reports never imports
TensorFlow; computing features and training do.
"""
from __future__ import annotations

import importlib

_LAZY_ATTRIBUTES = {
    "Comparison": "compare", "compare_reports": "compare",
    "DownstreamDataset": "datasets", "load_downstream_dataset": "datasets",
    "EmbeddingFeatures": "features", "LogMelFeatures": "features",
    "GRIDS": "protocol", "ProtocolSettings": "protocol", "run_downstream": "protocol",
    "load_report": "report", "report_markdown": "report", "write_report": "report",
}
__all__ = sorted(_LAZY_ATTRIBUTES)


def __getattr__(name: str):
    if name not in _LAZY_ATTRIBUTES:
        raise AttributeError(f"module 'kaudio.downstream' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kaudio.downstream.{_LAZY_ATTRIBUTES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_ATTRIBUTES))
