"""The AVC training wrapper: :class:`~kaudio.training.model.SupervisedModel` plus the AVC accuracy."""
from __future__ import annotations

import keras

from kaudio.training.model import SupervisedModel


class AVCModel(SupervisedModel):
    """Trains a two-tower AVC model with the spec's loss (+ its L2 regularisers) and logs ``accuracy``
    (``val_accuracy`` on validation data): the share of pairs whose argmax of the 2-way softmax is the
    true ``[mismatch, match]`` label — the AVC accuracy of Cramer et al., Table 1."""

    def __init__(self, model, loss, targets=None, **kwargs):
        super().__init__(model, loss, targets=targets, **kwargs)
        self.accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        self.accuracy.update_state(self.loss_targets(x, y)["labels"], y_pred)
        return loss
