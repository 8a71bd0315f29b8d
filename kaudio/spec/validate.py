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
#: The keys of one tower (``towers: {name: {...}}``); ``pooling`` is a head applied to the tower's
#: backbone output (registry kind ``head``).
TOWER_KEYS = {"input": "input", "frontend": "frontend", "backbone": "backbone", "pooling": "head"}
#: Sections of the training side, validated after the model (they may look at its outputs).
TRAINING_KINDS = ("loss", "train", "data")
TOP_LEVEL_KEYS = ("name", "description", "input", "frontend", "backbone", "head", "towers", "fusion", "teacher",
                  "loss", "train", "data")
#: Plain-data sections that are not registry kinds.
STRUCTURAL_KEYS = ("towers", "teacher")


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
            A spec with towers has ``{"towers": {name: {kind: shape}}, "fusion": shape}``.

    A model is either one chain (``input`` → ``frontend`` → ``backbone`` → ``head``) or several
    named ``towers`` (each a chain with an optional ``pooling`` head) joined by a ``fusion`` head.
    """

    name: str
    description: str
    sections: dict[str, dict[str, Any]]
    source: str | None = field(default=None, compare=False)
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    shapes: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __getattr__(self, item: str) -> dict[str, Any] | None:
        if item in TOP_LEVEL_KEYS[2:]:
            return self.sections.get(item)
        raise AttributeError(item)

    @property
    def output_shape(self):
        """The model's output per example: a shape tuple, ``{name: shape}`` for several outputs, or ``None``."""
        return model_output_shape(self.shapes)

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
        for kind in TOP_LEVEL_KEYS[2:]:
            if kind in self.sections:
                out[kind] = copy.deepcopy(self.sections[kind])
        return out

    def tower_sections(self, name: str) -> dict[str, dict[str, Any]]:
        """The sections of tower ``name`` keyed by registry kind (``pooling`` as ``head``)."""
        tower = (self.sections.get("towers") or {})[name]
        return {TOWER_KEYS[key]: value for key, value in tower.items()}


def model_output_shape(shapes: Mapping[str, Any]):
    """The last known output of a shapes mapping (fusion, head or backbone)."""
    for kind in ("fusion", "head", "backbone"):
        if kind in shapes:
            return shapes[kind]
    return None


class ValidationContext:
    """What a section's cross-field check may know: the sections before it and the spec's file.

    ``check_spec(params, context)`` may also normalise ``params`` in place (for example replace a
    file reference by the file's validated content, so the built model's config is self-contained);
    file references are resolved against :attr:`source_dir`.
    """

    def __init__(self, source: str | None = None):
        self.sections: dict[str, dict[str, Any]] = {}
        self.shapes: dict[str, Any] = {}
        self.towers: dict[str, Any] = {}  # {tower name: its output shape}, for the fusion head
        self.source = source
        self.given: frozenset[str] = frozenset()  # the document's top-level keys (a section may be given but invalid)
        self.teacher_spec = None  # the validated spec of a valid `teacher:` section

    @property
    def output_shape(self):
        """The model's output per example (after the model sections were validated), or ``None``."""
        return model_output_shape(self.shapes)

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

    report.problems = problems  # so the chain validators can tell whether their sections were clean

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
    context = ValidationContext(raw.source)
    context.given = frozenset(data)
    if "towers" in data:
        _validate_towers(data, raw, report, context)
    else:
        _validate_chain(data, raw, report, context)
    if data.get("teacher") is not None:  # before the training sections: a distillation trainer checks its teacher
        from kaudio.spec.teacher import validate_teacher

        params = validate_teacher(data["teacher"], raw, report, context)
        if params is not None:
            context.sections["teacher"] = params
    elif "teacher" in data:  # `teacher: null`, what a saved model records in place of its training teacher
        context.sections["teacher"] = None
    for kind in TRAINING_KINDS:  # their checks see the model's outputs (None where the model is invalid)
        if kind in data:
            params = _validate_section(kind, data[kind], (kind,), raw, report, context)
            if params is not None:
                context.sections[kind] = params

    if problems:
        raise SpecError(problems, raw.source)
    return Spec(str(data["name"]), str(data["description"]).strip(), context.sections, raw.source, original,
                context.shapes)


def _validate_chain(data, raw, report, context) -> None:
    """``input`` → ``frontend`` → ``backbone`` → ``head`` at the top level."""
    for kind in REQUIRED_SECTIONS:
        if kind not in data:
            valid = ", ".join(registry.names(kind))
            report((kind,), f"missing required section (a mapping with `type:`, one of {valid}; or `towers:` "
                            "with a `fusion:` head)")
    if "fusion" in data:
        report(("fusion",), "a fusion head joins towers; this spec has none (add `towers:`, or use `head:`)")
    before = len(report.problems)
    for kind in CHAIN_KINDS:
        if kind in data:
            params = _validate_section(kind, data[kind], (kind,), raw, report, context)
            if params is not None:
                context.sections[kind] = params
    if len(report.problems) == before and all(kind in context.sections for kind in REQUIRED_SECTIONS):
        context.shapes = infer_chain_shapes(context.sections, (), report)


def _validate_towers(data, raw, report, context) -> None:
    """``towers: {name: {input, frontend, backbone, pooling}}`` joined by ``fusion:``."""
    for kind in CHAIN_KINDS:
        if kind in data:
            report((kind,), f"a spec with `towers:` gives each tower its own {kind} (towers.<name>.{kind}); "
                            f"remove the top-level `{kind}`")
    towers = data["towers"]
    if not isinstance(towers, dict) or not towers:
        report(("towers",), "expected a mapping `name: {input: ..., frontend: ..., backbone: ..., pooling: ...}` "
                            "with at least one tower")
        return
    tower_sections, tower_shapes = {}, {}
    for name, tower in towers.items():
        path = ("towers", name)
        if not isinstance(name, str) or not name.isidentifier():
            report(path, f"a tower name is a word of letters, digits and '_', got {name!r}")
            continue
        if not isinstance(tower, dict):
            report(path, f"expected a mapping with the keys {', '.join(TOWER_KEYS)}, got {type(tower).__name__}")
            continue
        ok = True
        tower_context = ValidationContext(raw.source)
        before = len(report.problems)
        for key in tower:
            if key not in TOWER_KEYS:
                report(path + (key,), f"unknown tower key{did_you_mean(key, TOWER_KEYS)} "
                                      f"(valid keys: {', '.join(TOWER_KEYS)})")
                ok = False
        for key in ("input", "backbone"):
            if key not in tower:
                report(path + (key,), f"missing required section (one of {', '.join(registry.names(key))})")
                ok = False
        by_kind = {}
        for key, kind in TOWER_KEYS.items():
            if key in tower:
                params = _validate_section(kind, tower[key], path + (key,), raw, report, tower_context)
                if params is not None:
                    tower_context.sections[kind] = params
                    by_kind[key] = params
        tower_sections[name] = by_kind
        if ok and len(report.problems) == before:
            shapes = infer_chain_shapes(tower_context.sections, path, report, key_of_kind={"head": "pooling"})
            if len(report.problems) == before:
                tower_shapes[name] = shapes
    context.sections["towers"] = tower_sections
    if "fusion" not in data:
        report(("fusion",), f"missing required section: a fusion head joining the towers "
                            f"(one of {', '.join(registry.names('fusion'))})")
        return
    context.towers = {name: model_output_shape(tower_shapes[name]) if name in tower_shapes else None
                      for name in tower_sections}
    params = _validate_section("fusion", data["fusion"], ("fusion",), raw, report, context)
    if params is None:
        return
    context.sections["fusion"] = params
    shapes: dict[str, Any] = {"towers": tower_shapes}
    if all(shape is not None for shape in context.towers.values()):
        infer = getattr(registry.get("fusion", params["type"]), "spec_output_shape", None)
        if infer is not None:
            shape, problems = infer(params, context.towers)
            for key, message in problems:
                report(("fusion",) + ((key,) if key else ()), message)
            if not problems:
                shapes["fusion"] = shape
    context.shapes = shapes


def infer_chain_shapes(sections: Mapping[str, dict], path: tuple, report,
                       key_of_kind: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The per-example output shape of each section of a chain (input → frontend → backbone → head).

    Each component class computes its output from its input's shape with
    ``spec_output_shape(params, input_shape) -> (shape, [(key, message)])`` (the input section:
    ``shape(params)``), so a front end too small for the backbone's pools, or a head that does
    not fit the backbone's output, is found here, by ``kaudio validate`` as by ``kaudio build``,
    before any layer exists. A component without ``spec_output_shape`` makes the rest unknown
    (``None``); the builder then checks the real shapes. Problems are reported under ``path``
    (a tower's ``pooling`` head under its own key: ``key_of_kind={"head": "pooling"}``).
    """
    key_of_kind = key_of_kind or {}
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
                report(path + (key_of_kind.get(kind, kind),) + ((key,) if key else ()), message)
            if problems:
                return shapes
        shapes[kind] = shape
    return shapes


def _validate_section(kind, section, path, raw, report, context):
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
