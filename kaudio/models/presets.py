"""Named presets of backbones: one registry, filled by one presets module per family.

A preset (keras-hub's notion, https://github.com/keras-team/keras-hub: ``Backbone.from_preset``)
names a ready-made network: the bundled spec it comes from (plus ``--set`` style overrides), and
so its backbone's type, constructor arguments and input feature shape; the pretrained weights
that fit it (a name of ``pretrained/manifest.yaml``, or none); and a one-line description.

Each family declares its presets once (``kaudio/models/l3/l3_presets.py``,
``kaudio/models/panns/panns_presets.py``) and registers them here with :func:`register_presets`.
Everything else reads them from here: :meth:`Backbone.from_preset
<kaudio.models.backbone.Backbone.from_preset>`, the embedding model names
(:data:`kaudio.embedding.models.MODELS`), ``kaudio convert openl3`` (which spec a file name points
to) and ``kaudio convert panns --arch``.

The backbone's configuration is not written a second time in the preset: it is the validated
spec's ``backbone`` section plus the feature shape that the spec's front end (or input) gives,
so the preset, ``kaudio build <spec>`` and the pretrained weights always agree.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from kaudio.errors import KaudioError


@dataclass(frozen=True)
class Preset:
    """One named backbone preset.

    Attributes:
        name: the preset name (``"openl3_mel256_music"``, ``"cnn14"``), unique over all families.
        description: one line for listings.
        spec: the bundled spec the preset is built from (``"l3_m256"``).
        overrides: ``--set`` style overrides applied to that spec (``("frontend.preset=openl3_v04",)``).
        weights: the name of the preset's pretrained backbone weights in ``pretrained/manifest.yaml``,
            or ``None`` when kaudio cannot fetch any (weights then come from a file).
        weights_note: for presets without ``weights``: where weights come from (shown in errors).
    """

    name: str
    description: str
    spec: str
    overrides: tuple[str, ...] = ()
    weights: str | None = None
    weights_note: str = ""

    def load_spec(self, overrides: Iterable[str] = ()):
        """The validated spec of the preset (its ``overrides``, then ``overrides``)."""
        from kaudio.spec.validate import load_spec

        return load_spec(self.spec, list(self.overrides) + list(overrides))

    def backbone_class(self) -> type:
        """The registered backbone class of the preset's spec."""
        return _spec_of(self).component("backbone")

    @property
    def input(self) -> dict[str, Any]:
        """The preset's validated ``input`` section (sample rate, samples per example, channels …)."""
        return dict(_spec_of(self).input)

    def frontend(self, name: str = "frontend", dtype: Any = None):
        """A new front-end layer as the preset's spec defines it (waveform → spectrogram), or ``None``
        for a model without one (images). It has no weights: use it in front of
        :meth:`Backbone.from_preset <kaudio.models.backbone.Backbone.from_preset>` in your own model."""
        spec = _spec_of(self)
        if not spec.frontend:
            return None
        return spec.component("frontend").from_spec(spec.params("frontend"), spec.input, name=name, dtype=dtype)

    def backbone_config(self) -> dict[str, Any]:
        """The backbone's constructor arguments: ``feature_shape`` (the output of the spec's front end,
        or its input when it has none) and the spec's ``backbone`` section."""
        spec = _spec_of(self)
        feature_shape = spec.shapes.get("frontend") if spec.frontend else spec.shapes.get("input")
        return {"feature_shape": list(feature_shape), **spec.params("backbone")}


_PRESETS: dict[str, Preset] = {}


def register_presets(presets: Iterable[Preset]) -> None:
    """Add a family's presets to the registry (names must be unique over all families)."""
    for preset in presets:
        existing = _PRESETS.get(preset.name)
        if existing is not None and existing != preset:
            raise KaudioError(f"preset {preset.name!r} is defined twice ({existing.spec} and {preset.spec})")
        _PRESETS[preset.name] = preset


def all_presets() -> dict[str, Preset]:
    """``{name: Preset}`` of every family, in registration order."""
    importlib.import_module("kaudio.models")  # imports every family, which registers its presets
    return dict(_PRESETS)


def get_preset(name: str, choices: Iterable[str] | None = None, what: str = "preset") -> Preset:
    """The preset called ``name`` (among ``choices`` when given).

    Raises:
        KaudioError: unknown name, with a "did you mean" suggestion and the list of valid names.
    """
    presets = all_presets()
    valid = list(presets) if choices is None else [n for n in choices if n in presets]
    if not isinstance(name, str) or name not in valid:
        from kaudio.spec.schema import did_you_mean

        hint = did_you_mean(name, valid) if isinstance(name, str) else ""
        raise KaudioError(f"unknown {what} {name!r}{hint}; valid presets: {', '.join(valid) or '(none)'}")
    return presets[name]


@lru_cache(maxsize=None)
def _spec_of(preset: Preset):
    return preset.load_spec()
