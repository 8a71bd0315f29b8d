"""The single registry that maps spec ``type:`` names to classes, and the component contract.

Each spec section names a ``type``; components register themselves with :func:`register`, so
adding a model family, head, loss or trainer never edits the builder or the validator::

    @register("backbone", "l3_audio")
    class L3AudioBackbone(Backbone):
        spec_schema = Schema(...)

Kinds (:data:`SECTION_KINDS`): ``input``, ``frontend``, ``backbone``, ``head`` (a chain; a tower's
``pooling`` is a head too), ``fusion`` (joins named towers), ``loss``, ``train`` (a trainer) and
``data`` (reserved).

The contract of a registered class — what the validator and the builder call, in this order:

``spec_schema``
    a :class:`kaudio.spec.schema.Schema` of the section's keys (types, ranges, choices, defaults).
``spec_presets`` (optional)
    ``{preset_name: {key: value}}``: defaults selected by ``preset:``; keys the spec writes win.
``check_spec(params, context) -> [(key, message)]`` (optional)
    cross-field rules, after the schema. ``context`` (:class:`kaudio.spec.validate.ValidationContext`)
    holds the sections validated before (``context.sections``, ``context.input``), the spec's
    folder (``context.source_dir``) and, for the training kinds, the model's outputs
    (``context.output_shape``). It may normalise ``params`` in place —
    fill derived defaults (a front end's ``win_length``), inline a referenced file (a hierarchy) —
    so every later reader sees the final values.
``spec_output_shape(params, input_shape) -> (shape, [(key, message)])`` (model kinds)
    the per-example output shape from the input's (a fusion head gets ``{tower: shape}``; a head
    with several outputs returns ``{name: shape}``). The validator chains these, so shape problems
    are spec problems, found by ``kaudio validate`` before any layer exists; the builder checks
    the prediction against what Keras builds. The input kind provides ``shape(params)`` instead.
``from_spec(params, input_shape, name)`` (model kinds)
    the Keras layer or model for the section; ``params`` are the validated keys without
    ``type``/``preset``. Constructors never raise :class:`~kaudio.errors.SpecError`: whatever a
    spec can get wrong is caught by the steps above.

Losses (``loss``) provide ``from_spec(params, spec)`` returning the loss object; trainers
(``train``) are described in :mod:`kaudio.training.trainer`.
"""
from __future__ import annotations

import importlib
from typing import Callable, TypeVar

from kaudio.errors import KaudioError

#: Registry kinds, in the order data flows through them (``data`` is reserved).
SECTION_KINDS: tuple[str, ...] = ("input", "frontend", "backbone", "head", "fusion", "loss", "train", "data")

_REGISTRY: dict[str, dict[str, type]] = {kind: {} for kind in SECTION_KINDS}

#: The modules whose import registers kaudio's spec components and Keras-serializable classes.
#: :func:`load_components` imports them on the first registry lookup, so ``import kaudio`` itself
#: stays light (no TensorFlow) and a new family is one more entry here.
COMPONENT_MODULES: tuple[str, ...] = (
    "kaudio.inputs", "kaudio.layers", "kaudio.frontends", "kaudio.models", "kaudio.heads", "kaudio.losses",
    "kaudio.training",
)
_loaded = False
_loading = False

T = TypeVar("T")


def register(kind: str, name: str) -> Callable[[T], T]:
    """Class decorator: make ``cls`` available as ``type: name`` in spec section ``kind``."""
    if kind not in _REGISTRY:
        raise KaudioError(f"unknown registry kind {kind!r}; expected one of {', '.join(SECTION_KINDS)}")

    def decorator(cls: T) -> T:
        existing = _REGISTRY[kind].get(name)
        if existing is not None and existing is not cls:
            raise KaudioError(
                f"{kind} type {name!r} is already registered by {existing.__module__}.{existing.__name__}"
            )
        _REGISTRY[kind][name] = cls
        cls.registered_kind = kind  # type: ignore[attr-defined]
        cls.registered_name = name  # type: ignore[attr-defined]
        return cls

    return decorator


def load_components() -> None:
    """Import every module of :data:`COMPONENT_MODULES` once (idempotent, re-entrant safe).

    This registers the spec component types and every ``register_keras_serializable`` class, so
    ``keras.models.load_model`` finds kaudio's layers and models.
    """
    global _loaded, _loading
    if _loaded or _loading:
        return
    _loading = True
    try:
        for module in COMPONENT_MODULES:
            importlib.import_module(module)
        _loaded = True
    finally:
        _loading = False


def components_loaded() -> bool:
    """Whether :func:`load_components` has run to the end."""
    return _loaded


def names(kind: str) -> list[str]:
    """Sorted type names registered for ``kind``."""
    load_components()
    return sorted(_REGISTRY[kind])


def lookup(kind: str, name: str) -> type | None:
    """The class registered as ``name`` in ``kind``, or ``None``."""
    load_components()
    return _REGISTRY.get(kind, {}).get(name)


def get(kind: str, name: str) -> type:
    """Like :func:`lookup` but raises a :class:`KaudioError` naming the valid choices."""
    cls = lookup(kind, name)
    if cls is None:
        valid = ", ".join(names(kind)) or "(none registered yet)"
        raise KaudioError(f"unknown {kind} type {name!r}; valid types: {valid}")
    return cls
