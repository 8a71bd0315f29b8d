"""Spec-driven training losses (registry kind 'loss')."""
from __future__ import annotations

import os
from typing import Any, Mapping

from kaudio import registry
from kaudio.errors import KaudioError
from kaudio.losses.hierarchical_bce import CONSISTENCY_TERMS, HierarchicalBCE, masked_bce
from kaudio.losses.classification import CategoricalCrossentropy, MaskedBCE
from kaudio.losses.sed import SEDReconstructionLoss


def loss_from_spec(spec: "Any | str | os.PathLike | Mapping[str, Any]"):
    """The loss object of a spec's ``loss`` section (a :class:`~kaudio.spec.Spec`, path, name or dict).

    The returned object is called as ``loss(y_true: dict, y_pred: dict) -> scalar`` and offers
    ``loss.parts(y_true, y_pred) -> dict`` for logging.
    """
    from kaudio.spec import load_spec

    spec = load_spec(spec)
    if not spec.loss:
        valid = ", ".join(registry.names("loss"))
        raise KaudioError(f"the spec {spec.name!r} has no loss section; add `loss: {{type: ...}}` (types: {valid})")
    return spec.component("loss").from_spec(spec.params("loss"), spec)


__all__ = ["CONSISTENCY_TERMS", "CategoricalCrossentropy", "HierarchicalBCE", "MaskedBCE", "SEDReconstructionLoss",
           "loss_from_spec", "masked_bce"]
