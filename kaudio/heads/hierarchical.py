"""The seven fine → coarse heads of hierarchical multi-label tagging (Zhong et al., §3, Fig. 2, §4.2).

Every head maps the backbone embedding ``Z (batch, D)`` to a dict of probabilities
``{"fine": (batch, N_fine), "coarse": (batch, N_coarse)}`` (plus ``"attention"`` for ``resatt``
with ``output_attention: true``). The spec picks the method by ``head.type``::

    head: {type: resatt, hierarchy: openmic_tone, dropout: 0.0, output_attention: true}

| type        | paper                            | fine                      | coarse                              |
|-------------|----------------------------------|---------------------------|-------------------------------------|
| `flat`      | baseline, bottom-up at inference | σ(Dense(Z))               | GMP(fine), *not trained*            |
| `levelwise` | Fig. 2 (a)                       | σ(Dense(Z))               | σ(Dense(Z))                         |
| `topdown`   | Fig. 2 (b), SDT                  | coarse[parent]·σ(Dense(Z))| σ(Dense(Z))                         |
| `gmp`/`gap` | Fig. 2 (c)                       | σ(Dense(Z))               | max / mean of the children          |
| `lp`        | Fig. 2 (c), ablation             | σ(Dense(Z))               | σ(Dense(fine))                      |
| `resatt`    | Fig. 2 (d), Eq. 1                | σ(Dense(Z))               | Wᵀ·fine, W = softmax_fine(Dense(Z)) |

Every level's classifier is "a single linear layer" (§4.2). ``trains_coarse`` tells the loss
whether the coarse output is trained: ``False`` for ``flat`` only (the paper's baseline is
trained on fine tags and applies GMP at inference), so :mod:`kaudio.losses` gives the coarse
term weight 0 (and fine weight 1) for it; its pooling also stops gradients.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import keras

from kaudio.hierarchy import Hierarchy, hierarchy_field, resolve_hierarchy
from kaudio.layers.hierarchical import GroupedPooling, LinearProjection, ResidualAttention, TopDownSoftTree
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema

_BASE_FIELDS = (
    hierarchy_field(),
    Field("dropout", float, 0.0, "dropout rate on the embedding before the classifiers (0 = none; "
          "PANNs backbones already drop 0.5 of fc1 in training)", minimum=0.0, maximum=0.95),
)


def _dense(units: int, name: str, activation: str | None = "sigmoid") -> keras.layers.Dense:
    return keras.layers.Dense(units, activation=activation, name=name)


class HierarchicalHead(keras.Model):
    """Base of the hierarchical heads: a functional model ``Z (batch, D)`` → ``{"fine", "coarse"}``.

    Args:
        hierarchy: a :class:`~kaudio.hierarchy.Hierarchy` or its mapping ``{coarse: [fine, ...]}``.
        input_dim: the embedding width ``D``.
        dropout: dropout rate applied to ``Z`` before the classifiers.
        **options: head-specific keys (see ``option_defaults``); the rest go to ``keras.Model``.
    """

    #: Whether the coarse output is trained (the loss drops the coarse term when False).
    trains_coarse = True
    #: What the head predicts, for the supervised trainer, and the loss it is trained with by default.
    target_kind = "hierarchical"
    default_loss = "hierarchical_bce"
    #: Extra constructor arguments of a subclass and their defaults.
    option_defaults: dict[str, Any] = {}
    spec_schema = Schema(_BASE_FIELDS)

    def __init__(self, hierarchy: "Hierarchy | Mapping[str, Sequence[str]]", input_dim: int, dropout: float = 0.0,
                 **kwargs):
        hierarchy = Hierarchy.from_mapping(hierarchy)
        options = {key: kwargs.pop(key, default) for key, default in self.option_defaults.items()}
        # === Layers === (created per method in `classify`) / === Functional Model ===
        z = keras.Input((int(input_dim),), name="embedding")
        h = keras.layers.Dropout(dropout, name="dropout")(z) if dropout > 0 else z
        outputs = self.classify(h, hierarchy, **options)
        super().__init__(inputs=z, outputs=outputs, **kwargs)
        # === Config ===
        self.hierarchy = hierarchy
        self.input_dim = int(input_dim)
        self.dropout = float(dropout)
        self.options = options

    @staticmethod
    def classify(h, hierarchy: Hierarchy, **options) -> dict:
        """The method's graph on the (dropped-out) embedding ``h``: ``{"fine": …, "coarse": …}``."""
        raise NotImplementedError

    def get_config(self):
        return {"hierarchy": self.hierarchy.to_mapping(), "input_dim": self.input_dim, "dropout": self.dropout,
                **self.options, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- spec component -----------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """Load the hierarchy (a file becomes the inline mapping) and report its problems."""
        return resolve_hierarchy(params, context)

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape) -> tuple[dict | None, list[tuple[str, str]]]:
        """``{"fine": (N_fine,), "coarse": (N_coarse,)}`` (plus ``"attention"`` where the head outputs it)."""
        if len(feature_shape) != 1 or feature_shape[0] is None:
            return None, [("", f"{params.get('type', 'this')} head needs a (batch, D) embedding from the backbone "
                               f"(e.g. cnn14's fc1 output), the backbone gives "
                               f"(batch, {', '.join(map(str, feature_shape))})")]
        hierarchy = Hierarchy.from_mapping(params["hierarchy"])
        shapes = {"fine": (hierarchy.n_fine,), "coarse": (hierarchy.n_coarse,)}
        if params.get("output_attention"):
            shapes["attention"] = (hierarchy.n_fine, hierarchy.n_coarse)
        return shapes, []

    @classmethod
    def from_spec(cls, params: dict, feature_shape, name: str = "head"):
        return cls(input_dim=feature_shape[-1], name=name, **params)


def _fine_classifier(h, hierarchy: Hierarchy):
    return _dense(hierarchy.n_fine, "fine")(h)


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "flat")
class FlatHead(HierarchicalHead):
    """Flat baseline (§4.2): fine classifier only; coarse by GMP "at the inference phase".

    The coarse output is computed in every call (so all heads share one output dict) but is not
    trained: ``trains_coarse = False`` and the pooling stops gradients.
    """

    trains_coarse = False

    @staticmethod
    def classify(h, hierarchy, **options):
        fine = _fine_classifier(h, hierarchy)
        return {"fine": fine, "coarse": GroupedPooling(hierarchy.membership, "max", stop_gradient=True, name="coarse")(fine)}


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "levelwise")
class LevelwiseHead(HierarchicalHead):
    """Level-wise approach, Fig. 2 (a): two parallel linear+sigmoid classifiers on Z. The
    hierarchy-consistency loss items of Krause & Müller [13] are the loss section's ``consistency``."""

    @staticmethod
    def classify(h, hierarchy, **options):
        return {"fine": _fine_classifier(h, hierarchy), "coarse": _dense(hierarchy.n_coarse, "coarse")(h)}


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "topdown")
class TopDownHead(HierarchicalHead):
    """Top-down approach, Fig. 2 (b): a simplified soft decision tree, one linear layer per level;
    ``P_fine = P_coarse[parent] · σ(fine logits)``."""

    @staticmethod
    def classify(h, hierarchy, **options):
        coarse = _dense(hierarchy.n_coarse, "coarse")(h)
        fine_logits = _dense(hierarchy.n_fine, "fine_logits", activation=None)(h)
        return {"fine": TopDownSoftTree(hierarchy.membership, name="fine")([coarse, fine_logits]), "coarse": coarse}


class _PooledHead(HierarchicalHead):
    mode = "max"

    @classmethod
    def classify(cls, h, hierarchy, **options):
        fine = _fine_classifier(h, hierarchy)
        return {"fine": fine, "coarse": GroupedPooling(hierarchy.membership, cls.mode, name="coarse")(fine)}


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "gmp")
class GMPHead(_PooledHead):
    """Bottom-up joint training with grouped max pooling (proposed), Fig. 2 (c)."""

    mode = "max"


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "gap")
class GAPHead(_PooledHead):
    """Bottom-up joint training with grouped average pooling (ablation of GMP), Fig. 2 (c)."""

    mode = "mean"


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "lp")
class LPHead(HierarchicalHead):
    """Bottom-up joint training with a linear projection of the fine probabilities (ablation of
    ResAtt), Fig. 2 (c)."""

    @staticmethod
    def classify(h, hierarchy, **options):
        fine = _fine_classifier(h, hierarchy)
        return {"fine": fine, "coarse": LinearProjection(hierarchy.n_coarse, name="coarse")(fine)}


@keras.saving.register_keras_serializable(package="kaudio")
@register("head", "resatt")
class ResAttHead(HierarchicalHead):
    """ResAtt (proposed), Fig. 2 (d), Eq. 1: ``P_coarse = Wᵀ·P_fine`` with an attention map
    ``W (N_fine, N_coarse)`` from Z (see :class:`~kaudio.layers.hierarchical.ResidualAttention`
    for how "residual" is read and the softmax masking).

    Options:
        output_attention: also output ``"attention"`` ``(batch, N_fine, N_coarse)`` for inspection
            (Fig. 4).
        restrict_to_children: mask the attention to each coarse tag's children (not in the paper).
    """

    option_defaults = {"output_attention": False, "restrict_to_children": False}
    spec_schema = Schema(_BASE_FIELDS + (
        Field("output_attention", bool, False, "also output the attention map W as 'attention'"),
        Field("restrict_to_children", bool, False,
              "softmax only over each coarse tag's children (not in the paper: ResAtt uses no prior)"),
    ))

    @staticmethod
    def classify(h, hierarchy, output_attention=False, restrict_to_children=False):
        fine = _fine_classifier(h, hierarchy)
        coarse, attention = ResidualAttention(hierarchy.membership, restrict_to_children, name="coarse")([h, fine])
        outputs = {"fine": fine, "coarse": coarse}
        if output_attention:
            outputs["attention"] = keras.layers.Identity(name="attention")(attention)
        return outputs
