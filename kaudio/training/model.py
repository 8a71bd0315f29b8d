"""The training wrapper: a built :class:`~kaudio.models.KaudioModel` + the masked λ-BCE + SpecAugment.

:class:`HierarchicalTrainer` is a thin ``keras.Model`` around the spec's model. It

* runs ``frontend → SpecAugment (training only) → backbone → head`` of the wrapped model, so the
  augmentation never becomes part of the saved model;
* computes the masked loss of Zhong et al., Eq. 2 (:class:`~kaudio.losses.HierarchicalBCE`) on the
  dict targets ``{"fine", "coarse", "fine_mask", "coarse_mask"}`` by overriding
  ``compute_loss`` (Keras' compiled losses cannot see the mask entries of a dict target);
* logs the loss parts ``fine_bce``, ``coarse_bce`` and ``consistency`` (``val_*`` on the
  validation data) next to ``loss``.

The model to save and ship is ``trainer.model`` — the plain ``KaudioModel`` (``best.keras``).
"""
from __future__ import annotations

import keras
from keras import ops

from kaudio.errors import KaudioError
from kaudio.models.kaudio_model import KaudioModel

LOSS_PARTS = ("fine_bce", "coarse_bce", "consistency")


def spec_augment_layer(spec, settings: dict, feature_shape: tuple):
    """kapre's ``SpecAugment`` for the front-end output of ``spec``, or ``None`` when disabled.

    kapre expects ``(time, freq, 1)`` examples (``channels_last``); for the ``freq_time`` layout
    the time and frequency parameters are swapped so that each still masks its own axis.

    Raises:
        KaudioError: when a mask is wider than its axis (kapre cannot draw it).
    """
    if not settings.get("enabled"):
        return None
    if spec.frontend is None:
        raise KaudioError("train.spec_augment needs a front end; set train.spec_augment.enabled: false")
    from kapre.augmentation import SpecAugment

    layout = spec.frontend.get("layout", "freq_time")
    time_axis, freq_axis = (0, 1) if layout == "time_freq" else (1, 0)
    sizes = {"time": feature_shape[time_axis], "freq": feature_shape[freq_axis]}
    for axis in ("time", "freq"):
        width = settings[f"{axis}_mask_param"]
        if settings[f"n_{axis}_masks"] and sizes[axis] is not None and width > sizes[axis]:
            raise KaudioError(f"train.spec_augment.{axis}_mask_param is {width} but the front end gives only "
                              f"{sizes[axis]} {'frames' if axis == 'time' else 'bins'}; lower it to at most "
                              f"{sizes[axis]}")
    if feature_shape[-1] != 1:
        raise KaudioError(f"kapre's SpecAugment needs a one-channel spectrogram, the front end gives "
                          f"{feature_shape[-1]} channels; set train.spec_augment.enabled: false")
    first, second = ("time", "freq") if layout == "time_freq" else ("freq", "time")
    # kapre masks its "time" parameter on axis 0 and its "freq" parameter on axis 1.
    return SpecAugment(time_mask_param=max(1, settings[f"{first}_mask_param"]),
                       n_time_masks=settings[f"n_{first}_masks"],
                       freq_mask_param=max(1, settings[f"{second}_mask_param"]),
                       n_freq_masks=settings[f"n_{second}_masks"],
                       data_format="channels_last", name="spec_augment")


class HierarchicalTrainer(keras.Model):
    """Trains ``model`` (a hierarchical-head :class:`KaudioModel`) with ``loss`` (module docstring).

    Args:
        model: the spec's model; its outputs must include ``"fine"`` and ``"coarse"``.
        loss: a :class:`~kaudio.losses.HierarchicalBCE` (``kaudio.losses.loss_from_spec(spec)``).
        augment: a layer applied to the front-end output in training only (kapre ``SpecAugment``), or None.
    """

    def __init__(self, model: KaudioModel, loss, augment=None, **kwargs):
        kwargs.setdefault("name", f"{model.name}_trainer")
        super().__init__(**kwargs)
        if not isinstance(model.output, dict) or not {"fine", "coarse"} <= set(model.output):
            raise KaudioError("training needs a hierarchical head (outputs 'fine' and 'coarse'); the model "
                              f"{model.name!r} outputs {type(model.output).__name__}")
        if augment is not None and model.frontend is None:
            raise KaudioError("SpecAugment needs a front end; the model has none")
        self.model = model
        self.hierarchical_loss = loss
        self.augment = augment
        self.fine_bce_tracker = keras.metrics.Mean(name="fine_bce")
        self.coarse_bce_tracker = keras.metrics.Mean(name="coarse_bce")
        self.consistency_tracker = keras.metrics.Mean(name="consistency")

    def call(self, inputs, training=None):
        if self.augment is None:
            return self.model(inputs, training=training)
        features = self.model.frontend(inputs, training=training)
        features = self.augment(features, training=training)
        embedding = self.model.backbone(features, training=training)
        return self.model.head(embedding, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y, dict):
            raise KaudioError("targets must be a dict {'fine', 'coarse', 'fine_mask', 'coarse_mask'} "
                              f"(kaudio.data.make_dataset yields them), got {type(y).__name__}")
        parts = self.hierarchical_loss.parts(y, y_pred)
        batch = ops.shape(y_pred["fine"])[0]
        for name in LOSS_PARTS:
            getattr(self, f"{name}_tracker").update_state(parts[name], sample_weight=batch)
        loss = parts["loss"]
        if self.losses:  # regularisers of the wrapped model's layers
            loss = loss + ops.sum(ops.stack([ops.cast(value, "float32") for value in self.losses]))
        return loss
