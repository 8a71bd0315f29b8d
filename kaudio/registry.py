"""The single registry that maps spec ``type:`` names to classes.

Each spec section (``input``, ``frontend``, ``backbone``, ``head`` and, as the roadmap fills
them, ``loss``, ``train``, ``data``) names a ``type``. Components register themselves with
:func:`register`, so adding a model family never edits the builder or the validator::

    @register("backbone", "l3_audio")
    class L3AudioBackbone(keras.Model):
        spec_schema = Schema(...)

A registered class provides:

* ``spec_schema`` — a :class:`kaudio.spec.schema.Schema` describing the section's keys;
* optionally ``spec_presets`` — ``{preset_name: {key: value}}`` defaults selected by ``preset:``;
* optionally ``check_spec(params, context)`` — cross-field checks returning ``[(key, message)]``;
* ``from_spec(params, context)`` — build the Keras object (layer or model) for the section.
"""
from __future__ import annotations

import importlib
from typing import Callable, TypeVar

from kaudio.errors import KaudioError

#: Spec sections, in the order data flows through them. Sections after ``head`` are
#: reserved for the trainer, losses and datasets of later issues.
SECTION_KINDS: tuple[str, ...] = ("input", "frontend", "backbone", "head", "loss", "train", "data")

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
