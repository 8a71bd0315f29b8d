"""Flat classifier heads: one linear layer on the backbone embedding, with a sigmoid per class
(``tagger``, multi-label) or a softmax over the classes (``classifier``, single-label).

This is PANNs' ``fc_audioset`` (Kong et al. 2020, §2.2; ``qiuqiangkong/audioset_tagging_cnn``
``pytorch/models.py``):
``clipwise_output = σ(W·z + b)`` on the fc1 embedding ``z``; the bundled ``panns_cnn14`` /
``panns_cnn10`` specs use it with 527 AudioSet classes, so a converted checkpoint
(``kaudio convert panns``) reproduces the released tagger.

Spec: ``head: {type: tagger, num_classes: 527}`` or ``{type: classifier, classes: [dog, rain, ...]}``
(``dropout`` optional). The model output is the plain ``(batch, num_classes)`` probability tensor.

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


class _DenseClassifierHead(keras.Model):
    """``(batch, D)`` embedding → optional dropout → ``Dense(num_classes, activation)`` named ``classifier``.

    Args:
        num_classes: number of classes (527 for AudioSet).
        input_dim: the embedding width ``D``.
        dropout: dropout rate on the embedding before the classifier (0 = none).
        classes: the class names in output-column order (optional; ``kaudio train`` fills them from
            the data when the spec gives none, and the run's evaluation names them).
    """

    activation = "sigmoid"
    #: What the head predicts, for the supervised trainer: one sigmoid per class (several may be
    #: present) or one softmax over classes (exactly one is).
    target_kind = "multilabel"
    default_loss = "bce"

    spec_schema = Schema((
        Field("num_classes", int, None, "number of classes (or give `classes`)", minimum=1, nullable=True),
        Field("classes", list, None, "class names in output order (default: from the data at `kaudio train`)",
              item_kind=str, nullable=True),
        Field("dropout", float, 0.0, "dropout rate on the embedding before the classifier", minimum=0.0, maximum=0.95),
    ))

    def __init__(self, num_classes: int, input_dim: int, dropout: float = 0.0, classes=None, **kwargs):
        # === Layers === (inline) / === Functional Model ===
        z = keras.Input((int(input_dim),), name="embedding")
        h = keras.layers.Dropout(dropout, name="dropout")(z) if dropout > 0 else z
        outputs = keras.layers.Dense(int(num_classes), activation=self.activation, kernel_initializer="glorot_uniform",
                                     bias_initializer="zeros", name="classifier")(h)
        super().__init__(inputs=z, outputs=outputs, **kwargs)
        # === Config ===
        self.num_classes = int(num_classes)
        self.input_dim = int(input_dim)
        self.dropout = float(dropout)
        self.classes = list(classes) if classes is not None else None

    def get_config(self):
        return {"num_classes": self.num_classes, "input_dim": self.input_dim, "dropout": self.dropout,
                "classes": self.classes, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- spec component -----------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """``num_classes`` follows from ``classes``; both given must agree; the names are checked."""
        classes, n = params["classes"], params["num_classes"]
        if classes is None:
            return [] if n is not None else [("num_classes", "give num_classes or the list of classes")]
        from kaudio.errors import SpecError
        from kaudio.hierarchy import ClassList

        try:
            ClassList(classes)
        except SpecError as err:
            return [(f"classes{p.path}", p.message) for p in err.problems]
        if n is not None and n != len(classes):
            return [("num_classes", f"got {n}, but `classes` lists {len(classes)}; give one of them")]
        params["num_classes"] = len(classes)
        return []

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape) -> tuple[tuple | None, list[tuple[str, str]]]:
        if len(feature_shape) != 1 or feature_shape[0] is None:
            return None, [("", f"{params['type']} head needs a (batch, D) embedding from the backbone (e.g. "
                               f"panns_cnn's fc1 output), the backbone gives (batch, {', '.join(map(str, feature_shape))})")]
        return (params["num_classes"],), []

    @classmethod
    def from_spec(cls, params: dict, feature_shape, name: str = "head"):
        return cls(input_dim=feature_shape[-1], name=name, **params)


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "tagger")
class TaggerHead(_DenseClassifierHead):
    """Multi-label tagger: one sigmoid per class (PANNs' ``fc_audioset``, module docstring)."""


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "classifier")
class ClassifierHead(_DenseClassifierHead):
    """Single-label classifier: a softmax over the classes (exactly one class per clip, e.g. ESC-50,
    UrbanSound8K); trained with categorical cross-entropy."""

    activation = "softmax"
    target_kind = "singlelabel"
    default_loss = "categorical_crossentropy"
