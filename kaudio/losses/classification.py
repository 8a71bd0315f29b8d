"""Losses of flat classifiers: masked multi-label BCE (``bce``) and categorical cross-entropy.

* ``bce`` — multi-label tagging with one sigmoid per class (PANNs' AudioSet training, Kong et al.
  2020, §2.4: binary cross-entropy between the clip-level predictions and the labels), masked like
  the hierarchical loss: the mean over the known entries (mask 1) only, so partially annotated
  data (OpenMIC-2018's convention) trains correctly. Targets ``{"labels", "labels_mask"}``.
* ``categorical_crossentropy`` — single-label classification with a softmax output (ESC-50,
  UrbanSound8K), optional label smoothing (Szegedy et al. 2016, §7). Targets ``{"labels"}``
  one-hot.

Both read one model output (``outputs: {labels: ...}``, :mod:`kaudio.losses.outputs`) and report
their parts for the training logs.
"""
from __future__ import annotations

from typing import Any, Mapping

from keras import ops

from kaudio.errors import KaudioError
from kaudio.losses.hierarchical_bce import masked_bce
from kaudio.losses.outputs import check_outputs, output_shape_of, outputs_field, select
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema

ROLES = {"labels": None}


class _ClassifierLoss:
    """Shared parts: which output it reads, the labels target, the spec hooks."""

    loss_name = ""
    part_names: tuple[str, ...] = ()

    def __init__(self, outputs: Mapping[str, str | None] | None = None, **settings):
        self.outputs = {**ROLES, **(outputs or {})}
        self.settings = settings

    def __call__(self, y_true, y_pred):
        return self.parts(y_true, y_pred)["loss"]

    def _labels(self, y_true: Mapping[str, Any]):
        if not isinstance(y_true, Mapping) or "labels" not in y_true:
            raise KaudioError(f"{self.loss_name}: the targets must be a dict with 'labels' (and optional "
                              "'labels_mask'); kaudio.data.make_dataset yields it for flat classes")
        return ops.cast(y_true["labels"], "float32")

    def _predictions(self, y_pred):
        return ops.cast(select(y_pred, self.outputs["labels"], self.loss_name), "float32")

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        problems = check_outputs(params, context, ROLES, cls.registered_name)
        shape = output_shape_of(context, (params["outputs"] or {}).get("labels"))
        if shape is not None and len(shape) != 1:
            problems.append(("outputs", f"{cls.registered_name} reads a (classes,) output, the model gives {tuple(shape)}"))
        return problems

    @classmethod
    def from_spec(cls, params: dict, spec) -> "_ClassifierLoss":
        return cls(**params)


@register("loss", "bce")
class MaskedBCE(_ClassifierLoss):
    """Multi-label binary cross-entropy over the known entries (``labels_mask`` 1; all when absent)."""

    loss_name = "bce"
    part_names = ("bce",)
    spec_schema = Schema((
        outputs_field(ROLES),
        Field("epsilon", float, 1e-7, "probabilities are clipped to [epsilon, 1 - epsilon]", minimum=0.0,
              maximum=0.1, exclusive_minimum=True),
    ))

    def __init__(self, outputs=None, epsilon: float = 1e-7):
        super().__init__(outputs, epsilon=float(epsilon))

    def parts(self, y_true, y_pred) -> dict:
        labels, probabilities = self._labels(y_true), self._predictions(y_pred)
        mask = y_true.get("labels_mask")
        mask = ops.ones_like(labels) if mask is None else ops.cast(mask, "float32")
        bce = masked_bce(labels, probabilities, mask, self.settings["epsilon"])
        return {"bce": bce, "loss": bce}


@register("loss", "categorical_crossentropy")
class CategoricalCrossentropy(_ClassifierLoss):
    """Cross-entropy between one-hot labels (optionally smoothed) and softmax probabilities."""

    loss_name = "categorical_crossentropy"
    part_names = ("cce",)
    spec_schema = Schema((
        outputs_field(ROLES),
        Field("label_smoothing", float, 0.0, "mix the one-hot labels with the uniform distribution", minimum=0.0,
              maximum=0.5),
        Field("epsilon", float, 1e-7, "probabilities are clipped to [epsilon, 1]", minimum=0.0, maximum=0.1,
              exclusive_minimum=True),
    ))

    def __init__(self, outputs=None, label_smoothing: float = 0.0, epsilon: float = 1e-7):
        super().__init__(outputs, label_smoothing=float(label_smoothing), epsilon=float(epsilon))

    def parts(self, y_true, y_pred) -> dict:
        labels, probabilities = self._labels(y_true), self._predictions(y_pred)
        smoothing = self.settings["label_smoothing"]
        if smoothing:
            labels = labels * (1.0 - smoothing) + smoothing / ops.cast(ops.shape(labels)[-1], "float32")
        probabilities = ops.clip(probabilities, self.settings["epsilon"], 1.0)
        cce = ops.mean(-ops.sum(labels * ops.log(probabilities), axis=-1))
        return {"cce": cce, "loss": cce}
