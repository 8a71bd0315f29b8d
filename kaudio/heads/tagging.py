"""Flat multi-label tagger: one linear layer with a sigmoid per class on the backbone embedding.

This is PANNs' ``fc_audioset`` (Kong et al. 2020, §2.2; reference sheet §3.2):
``clipwise_output = σ(W·z + b)`` on the fc1 embedding ``z``; the bundled ``panns_cnn14`` /
``panns_cnn10`` specs use it with 527 AudioSet classes, so a converted checkpoint
(``kaudio convert panns``) reproduces the released tagger.

Spec: ``head: {type: tagger, num_classes: 527}`` (``dropout`` optional). The model output is the
plain ``(batch, num_classes)`` probability tensor.

Using the embedding instead of the tags: build the same spec without the ``head`` section (the
model then outputs the ``(batch, embedding_size)`` fc1 embedding), or, from a tagger model,
``embedding = model.backbone(model.frontend(waveforms))`` (same weights, no second model). For
hierarchical tagging swap the head for one of the hierarchical heads (``flat``, ``gmp``,
``resatt``, …) in the spec; they read the same embedding.
"""
from __future__ import annotations

import keras

from kaudio.registry import register
from kaudio.spec.schema import Field, Schema


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "tagger")
class TaggerHead(keras.Model):
    """``(batch, D)`` embedding → optional dropout → ``Dense(num_classes, sigmoid)`` named ``classifier``.

    Args:
        num_classes: number of tags (527 for AudioSet).
        input_dim: the embedding width ``D``.
        dropout: dropout rate on the embedding before the classifier (0 = none; PANNs' released
            tagger reads the embedding without dropout).
    """

    spec_schema = Schema((
        Field("num_classes", int, doc="number of tags (527 for AudioSet)", minimum=1),
        Field("dropout", float, 0.0, "dropout rate on the embedding before the classifier", minimum=0.0, maximum=0.95),
    ))

    def __init__(self, num_classes: int, input_dim: int, dropout: float = 0.0, **kwargs):
        # === Layers === (inline) / === Functional Model ===
        z = keras.Input((int(input_dim),), name="embedding")
        h = keras.layers.Dropout(dropout, name="dropout")(z) if dropout > 0 else z
        outputs = keras.layers.Dense(int(num_classes), activation="sigmoid", kernel_initializer="glorot_uniform",
                                     bias_initializer="zeros", name="classifier")(h)
        super().__init__(inputs=z, outputs=outputs, **kwargs)
        # === Config ===
        self.num_classes = int(num_classes)
        self.input_dim = int(input_dim)
        self.dropout = float(dropout)

    def get_config(self):
        return {"num_classes": self.num_classes, "input_dim": self.input_dim, "dropout": self.dropout,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- spec component -----------------------------------------------------------------------

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape) -> tuple[tuple | None, list[tuple[str, str]]]:
        if len(feature_shape) != 1 or feature_shape[0] is None:
            return None, [("", f"tagger head needs a (batch, D) embedding from the backbone (e.g. panns_cnn's fc1 "
                               f"output), the backbone gives (batch, {', '.join(map(str, feature_shape))})")]
        return (params["num_classes"],), []

    @classmethod
    def from_spec(cls, params: dict, feature_shape, name: str = "head"):
        return cls(input_dim=feature_shape[-1], name=name, **params)
