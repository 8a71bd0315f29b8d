"""The supervised training wrapper: a built :class:`~kaudio.models.KaudioModel` + the spec's loss +
SpecAugment (:class:`SupervisedModel`).

The model to save and ship is ``wrapper.model`` — the plain ``KaudioModel`` (``best.keras``).
"""
from __future__ import annotations

import keras
from keras import ops

from kaudio.errors import KaudioError
from kaudio.models.kaudio_model import KaudioModel

def spec_augment_layer(spec, settings: dict, feature_shape: tuple):
    """The SpecAugment layer (:class:`~kaudio.layers.SeededSpecAugment`) for the front-end output of ``spec``, or
    ``None`` when disabled.

    The layer masks ``(time, freq, channels)`` examples; for the ``freq_time`` layout the time and frequency parameters
    are swapped so that each still masks its own axis. Mask widths that do not fit the front end are refused when
    the spec is validated. Its seed generator is seeded by the run's ``keras.utils.set_random_seed``.
    """
    if not settings.get("enabled"):
        return None
    if spec.frontend is None:
        raise KaudioError("train.spec_augment needs a front end; set train.spec_augment.enabled: false")
    from kaudio.layers import SeededSpecAugment

    layout = spec.frontend.get("layout", "freq_time")
    first, second = ("time", "freq") if layout == "time_freq" else ("freq", "time")
    # the layer masks its "time" parameter on axis 1 and its "freq" parameter on axis 2 of (batch, ., ., channels).
    return SeededSpecAugment(time_mask_param=max(1, settings[f"{first}_mask_param"]),
                             n_time_masks=settings[f"n_{first}_masks"],
                             freq_mask_param=max(1, settings[f"{second}_mask_param"]),
                             n_freq_masks=settings[f"n_{second}_masks"], name="spec_augment")


class SupervisedModel(keras.Model):
    """Trains ``model`` (a :class:`KaudioModel` with a head that predicts labels) with ``loss``.

    Runs ``frontend → augment (training only) → backbone → head`` of the wrapped model, so the
    augmentation never becomes part of the saved model, and computes the spec's loss on the dict
    targets by overriding ``compute_loss`` (Keras' compiled losses cannot see mask entries of a
    dict target). Every part the loss reports (``loss.part_names``: ``fine_bce``, ``coarse_bce``,
    ``consistency``; ``bce``; ``cce``) is logged next to ``loss`` (``val_*`` on validation data).

    Args:
        model: the spec's model.
        loss: a loss object with ``parts(y_true, y_pred) -> {"loss", <part>: ...}`` and ``part_names``
            (``kaudio.losses.loss_from_spec(spec)``).
        augment: a layer applied to the front-end output in training only (``SeededSpecAugment``), or None.
        targets: ``(x, y) -> loss targets`` when the loss reads other targets than the dataset yields
            (e.g. the SED loss's ``features``, the model's own standardised front-end output);
            default: the dataset's targets as they are.
    """

    def __init__(self, model: KaudioModel, loss, augment=None, targets=None, **kwargs):
        kwargs.setdefault("name", f"{model.name}_trainer")
        super().__init__(**kwargs)
        if augment is not None and model.frontend is None:
            raise KaudioError("SpecAugment needs a front end; the model has none")
        self.model = model
        self.task_loss = loss
        self.augment = augment
        self.targets = targets
        self.part_trackers = {name: keras.metrics.Mean(name=name) for name in getattr(loss, "part_names", ())}

    def call(self, inputs, training=None):
        if self.augment is None:
            return self.model(inputs, training=training)
        embedding = self.model.backbone(self.features(inputs, training=training), training=training)
        return self.model.head(embedding, training=training)

    def features(self, inputs, training=None):
        """The front-end output the backbone sees: augmented in training (when there is an augmentation)."""
        features = self.model.frontend(inputs, training=training)
        return features if self.augment is None else self.augment(features, training=training)

    def loss_targets(self, x, y):
        """What the loss reads as ``y_true``: ``targets(x, y)`` when given, else the dataset's targets."""
        return self.targets(x, y) if self.targets is not None else y

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y, dict):
            raise KaudioError("targets must be a dict ({'fine', 'coarse', 'fine_mask', 'coarse_mask'} for a hierarchy, "
                              f"{{'labels', 'labels_mask'}} for classes; kaudio.data.make_dataset yields them), got "
                              f"{type(y).__name__}")
        parts = self.task_loss.parts(self.loss_targets(x, y), y_pred)
        batch = ops.shape(next(iter(y.values())))[0]
        for name, tracker in self.part_trackers.items():
            tracker.update_state(parts[name], sample_weight=batch)
        loss = parts["loss"]
        if self.losses:  # regularisers of the wrapped model's layers
            loss = loss + ops.sum(ops.stack([ops.cast(value, "float32") for value in self.losses]))
        return scale_for_replicas(loss)


def scale_for_replicas(loss):
    """``loss / replicas`` under a ``tf.distribute`` strategy: Keras sums the replicas' gradients and
    multiplies the logged loss back by the number of replicas (its compiled losses are scaled the
    same way), so a ``compute_loss`` override must return the per-replica share. A no-op on one device."""
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)
