"""Validation of a whole spec against the registry's schemas, and the :class:`Spec` object.

Every problem of the spec is collected (unknown keys, wrong types, bad ranges, missing keys,
unknown ``type:`` names, cross-field conflicts) and raised together as one
:class:`~kaudio.errors.SpecError`, before any Keras layer is built.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kaudio import registry
from kaudio.errors import KaudioError, SpecError
from kaudio.spec.schema import did_you_mean
from kaudio.spec.source import RawSpec, apply_overrides, load_raw

#: Sections every buildable spec must have. ``frontend`` and ``head`` are optional (an image
#: model has no front end; a bare backbone outputs its feature map).
REQUIRED_SECTIONS = ("input", "backbone")
#: The sections of a model chain, in the order data flows through them.
CHAIN_KINDS = ("input", "frontend", "backbone", "head")
TOP_LEVEL_KEYS = ("name", "description") + registry.SECTION_KINDS


@dataclass(frozen=True)
class Spec:
    """A validated spec: every section normalised, defaults filled in.

    Attributes:
        name: the model name (also the default output file stem).
        description: one line for ``kaudio specs`` and model cards.
        sections: ``{kind: params}`` for each present section; params include ``type``.
        source: the file the spec was read from, if any.
        shapes: the output shape of each chain section per example (no batch axis) as inferred
            at validation — ``{"input": (48000, 1), "frontend": (256, 199, 1), ...}``; a head
            with several outputs gives ``{name: shape}``; ``None`` where a component cannot tell.
    """

    name: str
    description: str
    sections: dict[str, dict[str, Any]]
    source: str | None = field(default=None, compare=False)
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    shapes: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __getattr__(self, item: str) -> dict[str, Any] | None:
        if item in registry.SECTION_KINDS:
            return self.sections.get(item)
        raise AttributeError(item)

    def component(self, kind: str) -> type | None:
        """The registered class of section ``kind`` (``None`` if the section is absent)."""
        section = self.sections.get(kind)
        return registry.get(kind, section["type"]) if section else None

    def params(self, kind: str) -> dict[str, Any]:
        """Section ``kind`` without its ``type`` and ``preset`` keys (constructor arguments)."""
        section = self.sections.get(kind) or {}
        return {k: copy.deepcopy(v) for k, v in section.items() if k not in ("type", "preset")}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML/JSON-serialisable) that :func:`validate` turns back into this spec."""
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        for kind in registry.SECTION_KINDS:
            if kind in self.sections:
                out[kind] = copy.deepcopy(self.sections[kind])
        return out


class ValidationContext:
    """What a section's cross-field check may know: the sections before it and the spec's file.

    ``check_spec(params, context)`` may also normalise ``params`` in place (for example replace a
    file reference by the file's validated content, so the built model's config is self-contained);
    file references are resolved against :attr:`source_dir`.
    """

    def __init__(self, source: str | None = None):
        self.sections: dict[str, dict[str, Any]] = {}
        self.shapes: dict[str, Any] = {}
        self.source = source

    @property
    def source_dir(self) -> Path:
        """The folder of the spec file (the working directory for specs that are not files)."""
        if self.source and not self.source.startswith("<"):
            return Path(self.source).resolve().parent
        return Path.cwd()

    @property
    def input(self) -> dict[str, Any] | None:
        return self.sections.get("input")


def validate(raw: RawSpec | Mapping[str, Any]) -> Spec:
    """Validate a raw document (or plain dict) and return a :class:`Spec`; raise on any problem."""
    if not isinstance(raw, RawSpec):
        raw = RawSpec(copy.deepcopy(dict(raw)), {}, "<spec dict>")
    data, problems = raw.data, []
    original = copy.deepcopy(data)

    def report(path: tuple, message: str) -> None:
        problems.append(raw.problem(path, message))

    for key in data:
        if key not in TOP_LEVEL_KEYS:
            extra = " ('extends' is only valid in spec files)" if key == "extends" else ""
            report((key,), f"unknown top-level key{did_you_mean(key, TOP_LEVEL_KEYS)}{extra} (valid keys: {', '.join(TOP_LEVEL_KEYS)})")
    for key in ("name", "description"):
        value = data.get(key)
        if value is None:
            report((key,), "missing required key" + (" (a short model name)" if key == "name" else " (one line shown by `kaudio specs`)"))
        elif not isinstance(value, str) or not value.strip():
            report((key,), f"expected a non-empty string, got {value!r}")
    for kind in REQUIRED_SECTIONS:
        if kind not in data:
            valid = ", ".join(registry.names(kind))
            report((kind,), f"missing required section (a mapping with `type:`, one of {valid})")

    context = ValidationContext(raw.source)
    for kind in registry.SECTION_KINDS:
        if kind == CHAIN_KINDS[-1]:
            _validate_present(kind, data, raw, report, context)
            if not problems:  # shapes only make sense for a chain whose sections are all valid
                context.shapes = infer_chain_shapes(context.sections, (), report)
        elif kind in data:
            _validate_present(kind, data, raw, report, context)

    if problems:
        raise SpecError(problems, raw.source)
    return Spec(str(data["name"]), str(data["description"]).strip(), context.sections, raw.source, original,
                context.shapes)


def _validate_present(kind, data, raw, report, context) -> None:
    if kind in data:
        params = _validate_section(kind, data[kind], raw, report, context)
        if params is not None:
            context.sections[kind] = params


def infer_chain_shapes(sections: Mapping[str, dict], path: tuple, report) -> dict[str, Any]:
    """The per-example output shape of each section of a chain (input → frontend → backbone → head).

    Each component class computes its output from its input's shape with
    ``spec_output_shape(params, input_shape) -> (shape, [(key, message)])`` (the input section:
    ``shape(params)``), so a front end too small for the backbone's pools, or a head that does
    not fit the backbone's output, is found here, by ``kaudio validate`` as by ``kaudio build``,
    before any layer exists. A component without ``spec_output_shape`` makes the rest unknown
    (``None``); the builder then checks the real shapes. Problems are reported under ``path``.
    """
    shapes: dict[str, Any] = {}
    if "input" not in sections:
        return shapes
    shape = registry.get("input", sections["input"]["type"]).shape(sections["input"])
    shapes["input"] = tuple(shape)
    for kind in CHAIN_KINDS[1:]:
        params = sections.get(kind)
        if params is None:
            continue
        infer = getattr(registry.get(kind, params["type"]), "spec_output_shape", None)
        if shape is None or infer is None:
            shape = None
        else:
            shape, problems = infer(params, shape)
            for key, message in problems:
                report(path + (kind,) + ((key,) if key else ()), message)
            if problems:
                return shapes
        shapes[kind] = shape
    return shapes


def _validate_section(kind, section, raw, report, context):
    path = (kind,)
    if not isinstance(section, dict):
        report(path, f"expected a mapping with a `type:` key, got {type(section).__name__} {section!r}")
        return None
    type_name = section.get("type")
    valid = registry.names(kind)
    if type_name is None:
        report(path + ("type",), f"missing required key `type` (one of: {', '.join(valid) or 'none registered yet'})")
        return None
    cls = registry.lookup(kind, type_name) if isinstance(type_name, str) else None
    if cls is None:
        if not valid:
            report(path + ("type",), f"no {kind} types exist yet in this version of kaudio; remove the `{kind}` section")
        else:
            report(path + ("type",), f"unknown {kind} type {type_name!r}{did_you_mean(type_name, valid)} (valid types: {', '.join(valid)})")
        return None

    params = {k: v for k, v in section.items() if k != "type"}
    presets = getattr(cls, "spec_presets", None) or {}
    preset = params.pop("preset", None)
    if preset is not None:
        if not presets:
            report(path + ("preset",), f"{kind} type {type_name!r} has no presets")
        elif preset not in presets:
            report(path + ("preset",), f"unknown preset {preset!r}{did_you_mean(preset, presets)} (valid presets: {', '.join(presets)})")
        else:
            params = {**copy.deepcopy(presets[preset]), **params}

    normalised, field_problems = cls.spec_schema.validate(params, path)
    for p, message in field_problems:
        report(p, message)
    if field_problems:
        return None
    check = getattr(cls, "check_spec", None)
    if check is not None:
        for key, message in check(normalised, context):
            report(path + ((key,) if key else ()), message)
    out = {"type": type_name}
    if preset is not None:
        out["preset"] = preset
    out.update(normalised)
    return out


def load_spec(ref: "str | os.PathLike | Spec | Mapping[str, Any]", overrides: list[str] | dict | None = None,
              defaults: Mapping[str, dict] | None = None, defaults_origin: str = "a default section") -> Spec:
    """Load and validate a spec.

    Args:
        ref: a spec file path, a bundled spec name (``"l3_m256"``), a plain dict, or a
            :class:`Spec` (returned as is unless there are overrides or defaults to add).
        overrides: ``["head.embedding_size=512", ...]`` or ``{"head.embedding_size": 512}``,
            applied after ``extends`` merging and validated like the file.
        defaults: ``{section: mapping}`` added where the spec has no such section (e.g. the
            ``train`` and ``loss`` sections ``kaudio train`` adds); problems in them are reported
            with ``defaults_origin`` as their location.

    Raises:
        SpecError: listing every problem with its YAML path and file:line.
    """
    missing = {kind: section for kind, section in (defaults or {}).items()
               if not (isinstance(ref, Spec) and kind in ref.sections)}
    if isinstance(ref, Spec):
        if not overrides and not missing:
            return ref
        raw = RawSpec(copy.deepcopy(ref.raw or ref.to_dict()), {}, ref.source or "<spec>")
    elif isinstance(ref, Mapping):
        raw = RawSpec(copy.deepcopy(dict(ref)), {}, "<spec dict>")
    elif isinstance(ref, (str, os.PathLike)):
        raw = load_raw(ref, Path.cwd())
    else:
        raise KaudioError(f"expected a spec path, bundled spec name, dict or Spec, got {type(ref).__name__}")
    for kind, section in missing.items():
        if kind not in raw.data:
            raw.data[kind] = copy.deepcopy(dict(section))
            raw.locations[(kind,)] = (defaults_origin, None)
    return validate(apply_overrides(raw, overrides))
