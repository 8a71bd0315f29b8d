"""The sub-network API on a whole model: what the supernet trainer and the architecture search
call (Lin et al., "Weight-sharing supernet for searching specialized acoustic event
classification networks across device constraints", ICASSP 2023: the selection S(w_o, a) of
Eq. 1, uniform sampling of K sub-networks per step for Eq. 2, random search under a parameter
budget, §2.4).

Every function takes a :class:`~kaudio.models.KaudioModel` whose backbone is ``ofa_cnn`` (or the
:class:`~kaudio.models.ofa.OfaCNN` backbone itself)::

    from kaudio.models import ofa

    space = ofa.ofa_space(model)                     # OfaSpace: choices, validate, sample, counts
    ofa.set_subnet(model, space.smallest())          # eager, validated
    ofa.active_config(model)                         # {"widths": [...], "depths": [...], "fc_width": ...}
    ofa.count_params(model, config).trainable        # closed form, head included

    seed = keras.random.SeedGenerator(0)
    @tf.function                                     # inside a compiled train step: one trace
    def step(x):
        for _ in range(K):
            ofa.set_subnet_indices(model, ofa.sample_indices(space, seed))
            ...                                      # forward, loss, gradients of this sub-network

Between :func:`set_subnet_indices` and the forward pass TensorFlow orders the variable writes
before the reads (automatic control dependencies), so each of the K passes runs its own
sub-network.
"""
from __future__ import annotations

from typing import Any, Mapping

import keras
from keras import ops

from kaudio.errors import KaudioError
from kaudio.models.ofa.ofa_cnn import OfaCNN
from kaudio.models.ofa.space import OfaSpace, ParamCounts

#: The heads whose parameters :func:`count_params` counts and whose weights extraction slices (one dense layer).
DENSE_HEADS = ("tagger", "classifier")


def ofa_backbone(model: keras.Model, what: str = "the model") -> OfaCNN:
    """The :class:`OfaCNN` of ``model`` (a KaudioModel, or the backbone itself).

    Raises:
        KaudioError: the model is not a once-for-all supernet.
    """
    if isinstance(model, OfaCNN):
        return model
    backbone = next((layer for layer in getattr(model, "layers", []) if layer.name == "backbone"), None)
    if not isinstance(backbone, OfaCNN):
        found = type(backbone).__name__ if backbone is not None else "no 'backbone' layer"
        raise KaudioError(f"{what} is not a once-for-all supernet (its backbone: {found}); give a model built from a "
                          "spec with `backbone: {type: ofa_cnn}`, e.g. the bundled ofa_cnn10")
    return backbone


def ofa_space(model: keras.Model) -> OfaSpace:
    """The sub-networks of ``model``'s supernet."""
    return ofa_backbone(model).space


def set_subnet(model: keras.Model, config: Mapping[str, Any]) -> None:
    """Activate a configuration (eager); KaudioError naming what is outside the space."""
    ofa_backbone(model).set_subnet(config)


def set_subnet_indices(model: keras.Model, indices) -> None:
    """Activate the configuration of an index vector; graph-safe (:meth:`OfaCNN.set_subnet_indices`)."""
    ofa_backbone(model).set_subnet_indices(indices)


def active_config(model: keras.Model) -> dict[str, Any]:
    """The configuration now active (eager)."""
    return ofa_backbone(model).active_config()


def sample_indices(space: OfaSpace, seed=None):
    """A uniformly drawn index vector as an int32 tensor of length ``len(space.choice_sizes)``, in graph
    or eager mode (each choice uniform on its options: uniform over the configurations).

    ``seed``: a ``keras.random.SeedGenerator`` (a new draw per call, also inside a ``tf.function``), an int
    or ``None`` (Keras's global seed generator)."""
    return indices_from_uniform(space, keras.random.uniform((len(space.choice_sizes),), seed=seed))


def indices_from_uniform(space: OfaSpace, draw):
    """Index vectors from uniform draws in [0, 1): ``draw`` of shape ``(..., len(space.choice_sizes))`` gives
    int32 indices of the same shape, each choice uniform on its options (graph-safe). :func:`sample_indices` draws
    with a Keras seed generator; the supernet trainer draws statelessly from (seed, step) so that a resumed run
    samples what the interrupted one would have."""
    sizes = ops.convert_to_tensor(space.choice_sizes, "float32")
    return ops.cast(ops.minimum(ops.floor(ops.cast(draw, "float32") * sizes), sizes - 1), "int32")


def head_classes(model: keras.Model) -> int | None:
    """The classes of ``model``'s dense head (``None`` without a head).

    Raises:
        KaudioError: another head (its parameters are not in the closed form, its weights not sliced)."""
    spec = getattr(model, "spec", None)
    head = spec.sections.get("head") if spec is not None else None
    if head is None:
        return None
    _check_head(head["type"], f"model {model.name}")
    return head["num_classes"]


def _check_head(head_type: str, what: str) -> None:
    if head_type not in DENSE_HEADS:
        raise KaudioError(f"the once-for-all tools handle the {' and '.join(DENSE_HEADS)} heads or none; {what}'s "
                          f"head is {head_type!r}")


def count_params(model: keras.Model, config: Mapping[str, Any]) -> ParamCounts:
    """The analytic parameter counts of a sub-network of ``model``, its head included."""
    return ofa_space(model).count_params(config, head_classes(model))


def config_label(config: Mapping[str, Any]) -> str:
    """A one-line description: ``widths 0.4/0.6/1 depths 2/2/1 fc 0.4``."""
    fc = "fixed" if config.get("fc_width") is None else f"{config['fc_width']:g}"
    return (f"widths {'/'.join(f'{r:g}' for r in config['widths'])} depths "
            f"{'/'.join(str(d) for d in config['depths'])} fc {fc}")


def space_from_spec(spec) -> tuple[OfaSpace, int | None]:
    """``(space, head classes)`` of a validated spec with an ``ofa_cnn`` backbone, without building the model.

    Raises:
        KaudioError: the spec's backbone is not ``ofa_cnn``, or its head is not a dense one."""
    from kaudio.models.ofa.ofa_cnn import TYPE

    backbone = spec.sections.get("backbone") or {}
    if backbone.get("type") != TYPE:
        raise KaudioError(f"spec {spec.name}: the backbone is {backbone.get('type')!r}, not a once-for-all supernet; "
                          f"use `backbone: {{type: {TYPE}}}` (e.g. the bundled ofa_cnn10)")
    head = spec.sections.get("head")
    if head is not None:
        _check_head(head["type"], f"spec {spec.name}")
    feature_shape = spec.shapes.get("frontend") or spec.shapes.get("input")
    return OfaSpace.from_params(backbone, feature_shape), (head or {}).get("num_classes")
