"""The base class of kaudio's backbones: a functional ``keras.Model`` whose config is its constructor arguments.

Modelled on keras-hub's ``keras_hub.models.Backbone`` (https://github.com/keras-team/keras-hub,
``keras_hub/src/models/backbone.py``): a subclass builds its graph in ``__init__`` in three
sections and assigns every constructor argument to an attribute of the same name::

    class MyBackbone(Backbone):
        def __init__(self, feature_shape, filters=(64, 128), dtype=None, **kwargs):
            # === Layers === / === Functional Model ===
            with dtype_policy_scope(dtype):
                inputs = keras.Input(shape=feature_shape, name="features")
                outputs = conv_block(inputs, filters[0], name="block1")
            super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
            # === Config ===
            self.feature_shape = tuple(feature_shape)
            self.filters = list(filters)

The base then provides, once for every family:

* :meth:`get_config`: exactly the constructor arguments — the parameters of the subclass's
  ``__init__`` read back from the same-named attributes — plus ``name``, ``trainable`` and
  ``dtype`` (the dtype policy, :func:`kaudio.dtypes.policy_config`); :meth:`from_config` is
  ``cls(**config)``, so ``.keras`` files rebuild the same graph under the same policy;
* :meth:`from_spec` (a spec's ``backbone`` section → the backbone);
* :meth:`from_preset` (a named preset of :mod:`kaudio.models.presets` → the backbone with its
  feature shape, and its pretrained weights or weights from a file).

The dtype policy (``dtype``: a name such as ``"mixed_bfloat16"`` or a ``keras.DTypePolicy``)
applies to every layer of the graph through :func:`kaudio.dtypes.dtype_policy_scope` (see that
module for why a scope rather than ``dtype=`` on every layer). ``dtype=None`` means the policy
in force where the backbone is built, which is then recorded in the config.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Sequence

import keras

from kaudio.dtypes import get_policy, policy_config
from kaudio.errors import KaudioError, WeightsError

#: Constructor arguments every Keras layer has; the base records them itself.
BASE_ARGUMENTS = ("name", "trainable", "dtype")
PRETRAINED = "pretrained"


class Backbone(keras.Model):
    """Base class of kaudio's backbones (module docstring).

    Args:
        inputs / outputs: the functional graph, as for ``keras.Model``.
        dtype: the dtype policy the graph was built under (``None``: the current default policy).
        **kwargs: ``name``, ``trainable``.
    """

    def __init__(self, inputs, outputs, dtype: Any = None, **kwargs):
        policy = get_policy(dtype)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # A functional model ignores a `dtype` keyword; keras-hub's Backbone sets the policy after init too.
        self.dtype_policy = policy

    # --- config -----------------------------------------------------------------------------

    @classmethod
    def constructor_arguments(cls) -> tuple[str, ...]:
        """The subclass's own constructor arguments (its ``__init__`` parameters, without ``self``,
        ``*args``/``**kwargs`` and :data:`BASE_ARGUMENTS`), in signature order."""
        skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        return tuple(p.name for p in parameters if p.kind not in skip and p.name not in BASE_ARGUMENTS)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (module docstring); JSON-ready (tuples become lists)."""
        config = {}
        for name in self.constructor_arguments():
            if not hasattr(self, name):
                raise KaudioError(f"{type(self).__name__}.__init__ takes {name!r} but sets no attribute self.{name}: "
                                  "a Backbone assigns every constructor argument to an attribute of the same name")
            config[name] = _plain(getattr(self, name))
        config.update(name=self.name, trainable=self.trainable, dtype=policy_config(self.dtype_policy))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)

    # --- spec component ---------------------------------------------------------------------

    @classmethod
    def from_spec(cls, params: dict, feature_shape: Sequence[int | None], name: str = "backbone", dtype: Any = None):
        """The backbone of a validated spec section (``params`` without ``type``/``preset``) on
        ``feature_shape`` (the front end's output per example)."""
        return cls(feature_shape=feature_shape, name=name, dtype=dtype, **params)

    # --- presets ----------------------------------------------------------------------------

    @classmethod
    def presets(cls) -> dict:
        """``{name: Preset}`` of the presets that build this class (or a subclass of it)."""
        from kaudio.models.presets import all_presets

        return {name: preset for name, preset in all_presets().items() if issubclass(preset.backbone_class(), cls)}

    @classmethod
    def from_preset(cls, preset: str, weights: "str | os.PathLike | None" = PRETRAINED, **overrides):
        """Build the backbone of a named preset and load its weights (keras-hub's ``from_preset``).

        Args:
            preset: a preset name (:meth:`presets`; all of them when called on ``Backbone``), e.g.
                ``"openl3_mel256_music"`` or ``"cnn14"``.
            weights: ``"pretrained"`` — the preset's released weights (fetched into the cache on first
                use, :func:`kaudio.pretrained.load_backbone_weights`); a path — an OpenL3 ``.h5``, a
                kaudio ``.weights.h5`` (``backbone.save_weights``) or a ``.keras`` model built by kaudio
                whose ``backbone`` weights are copied layer by layer
                (:func:`kaudio.training.init_weights.copy_section_weights`); ``None`` — random weights.
            **overrides: constructor arguments replacing the preset's, e.g. ``dtype="mixed_bfloat16"``,
                ``name=``, ``trainable=False``, or ``feature_shape=(None, 64, 1)`` for variable length.

        Raises:
            KaudioError: unknown preset (with a suggestion and the list), a preset that builds another
                class than ``cls``, an unknown override, or ``"pretrained"`` for a preset without
                released weights.
            WeightsError: the weights file is missing, unreadable or does not fit the backbone
                (the backbone is then not returned).
        """
        from kaudio.models.presets import all_presets, get_preset

        if cls is not Backbone and preset in all_presets() and preset not in cls.presets():
            other = all_presets()[preset].backbone_class().__name__
            raise KaudioError(f"preset {preset!r} builds a {other}, not a {cls.__name__}; use {other}.from_preset "
                              f"or Backbone.from_preset")
        found = get_preset(preset, cls.presets() if cls is not Backbone else None,
                           what="preset" if cls is Backbone else f"{cls.__name__} preset")
        backbone_cls = found.backbone_class()
        valid = set(backbone_cls.constructor_arguments()) | set(BASE_ARGUMENTS)
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise KaudioError(f"{backbone_cls.__name__}.from_preset: unknown argument{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
        config = {**found.backbone_config(), "name": "backbone", **overrides}
        backbone = backbone_cls(**config)
        if weights is None:
            return backbone
        if isinstance(weights, str) and weights == PRETRAINED:
            if found.weights is None:
                raise KaudioError(f"preset {found.name!r} has no pretrained weights kaudio can fetch"
                                  f"{'; ' + found.weights_note if found.weights_note else ''}. Pass weights=PATH "
                                  "(a .keras / .weights.h5 file) or weights=None for random weights")
            from kaudio.pretrained import load_backbone_weights

            load_backbone_weights(backbone, found.weights)
            return backbone
        load_weights_file(backbone, weights)
        return backbone


def load_weights_file(backbone: keras.Model, path: "str | os.PathLike") -> None:
    """Load ``path`` into ``backbone``: a ``.keras`` model's backbone by layer name, else an OpenL3 ``.h5``
    or a kaudio ``.weights.h5`` (:func:`kaudio.pretrained.load_backbone_weights`).

    Raises:
        WeightsError: a missing or unreadable file, or weights that do not fit (nothing is loaded).
    """
    path = Path(path)
    if path.suffix != ".keras":
        from kaudio.pretrained import load_backbone_weights

        load_backbone_weights(backbone, path)
        return
    from kaudio.training.init_weights import copy_section_weights, load_source_model, source_section

    try:
        source = source_section(load_source_model(path), path)
        copy_section_weights(source, backbone)
    except KaudioError as err:
        message = str(err).removeprefix("train.init_weights: ")
        raise WeightsError(f"{path}: {message}" if not message.startswith(str(path)) else message) from err


def _plain(value: Any) -> Any:
    """Tuples and tracked lists as plain lists (what a JSON config holds), recursively."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
