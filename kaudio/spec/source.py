"""Reading spec documents: YAML with line numbers, ``extends`` merging and ``--set`` overrides.

The result of this module is *raw* data (a nested dict) plus a map from key paths to the file and
line each value came from. Validation against the schemas happens afterwards, in
:mod:`kaudio.spec.validate`, so every problem can be reported with its location.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kaudio.errors import SpecError, SpecProblem
from kaudio.spec import bundled
from kaudio.spec.schema import did_you_mean, format_path

Location = tuple[str, int | None]  # (file or origin, 1-based line)


@dataclass
class RawSpec:
    """An unvalidated spec document and where each of its values came from."""

    data: dict
    locations: dict[tuple, Location] = field(default_factory=dict)
    source: str | None = None

    def locate(self, path: tuple) -> Location:
        """Location of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.locations:
                return self.locations[path]
            if not path:
                return (self.source or "<spec>", None)
            path = path[:-1]

    def problem(self, path: tuple, message: str) -> SpecProblem:
        file, line = self.locate(path)
        return SpecProblem(format_path(path), message, file, line)


# ----------------------------------------------------------------------------------------------
# YAML with line numbers


class SpecLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader reading YAML 1.2 floats too: ``1e-3`` is the number 0.001 (YAML 1.1, which
    PyYAML follows, needs a dot, ``1.0e-3``, and reads ``1e-3`` as a string)."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def parse_yaml(text: str, origin: str) -> RawSpec:
    """Parse one YAML document into a :class:`RawSpec`; syntax errors carry line and column."""
    loader = SpecLoader(text)
    try:
        node = loader.get_single_node()
        locations: dict[tuple, Location] = {}
        problems: list[SpecProblem] = []
        data = _to_python(loader, node, (), origin, locations, problems) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        col = f", column {mark.column + 1}" if mark else ""
        raise SpecError(
            [SpecProblem("", f"YAML syntax error{col}: {err.problem or err.context}", origin, line)], origin
        ) from err
    except yaml.YAMLError as err:
        raise SpecError([SpecProblem("", f"YAML error: {err}", origin)], origin) from err
    finally:
        loader.dispose()
    if data is None:
        raise SpecError([SpecProblem("", "the spec file is empty (no YAML content); expected a mapping with name, description, input, backbone, …", origin, 1)], origin)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise SpecError([SpecProblem("", f"the spec must be a YAML mapping (key: value), got {kind}", origin, 1)], origin)
    if problems:
        raise SpecError(problems, origin)
    return RawSpec(data, locations, origin)


def _to_python(loader, node, path, origin, locations, problems):
    locations[path] = (origin, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                problems.append(
                    SpecProblem(format_path(path + (key,)), "duplicate key (the later value would silently win)",
                                origin, key_node.start_mark.line + 1)
                )
            out[key] = _to_python(loader, value_node, path + (key,), origin, locations, problems)
            locations[path + (key,)] = (origin, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(loader, n, path + (i,), origin, locations, problems) for i, n in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


# ----------------------------------------------------------------------------------------------
# Files and extends


def resolve_spec_path(ref: str | os.PathLike, relative_to: Path | None = None) -> Path:
    """Find a spec by path (absolute, or relative to ``relative_to``/cwd) or by bundled name."""
    ref_str = os.fspath(ref)
    candidates = []
    if relative_to is not None and not os.path.isabs(ref_str):
        candidates.append(relative_to / ref_str)
    candidates.append(Path(ref_str))
    for candidate in candidates:
        if candidate.is_dir():
            raise SpecError([SpecProblem("", f"{candidate} is a directory; give a spec file (.yaml) or a bundled spec name", str(candidate))], str(candidate))
        if candidate.is_file():
            return candidate
    found = bundled.find(ref_str)
    if found is not None:
        return found
    names = bundled.names()
    hint = did_you_mean(Path(ref_str).stem, names)
    raise SpecError(
        [SpecProblem("", f"no such spec file or bundled spec: {ref_str!r}{hint} (bundled specs: {', '.join(names)}; `kaudio specs` lists them)")],
        ref_str,
    )


def read_spec_file(path: Path) -> RawSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError([SpecProblem("", f"cannot read the spec file: {err}", str(path))], str(path)) from err
    if not text.strip():
        raise SpecError([SpecProblem("", "the spec file is empty", str(path), 1)], str(path))
    return parse_yaml(text, str(path))


def load_raw(ref: str | os.PathLike, relative_to: Path | None = None, _chain: tuple[Path, ...] = ()) -> RawSpec:
    """Read a spec file and merge the chain of ``extends`` parents below it."""
    path = resolve_spec_path(ref, relative_to).resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in _chain + (path,))
        raise SpecError([SpecProblem("extends", f"circular extends: {cycle}", str(_chain[-1]))], str(_chain[0]))
    raw = read_spec_file(path)
    parent_ref = raw.data.pop("extends", None)
    if parent_ref is None:
        return raw
    if not isinstance(parent_ref, str) or not parent_ref:
        raise SpecError([raw.problem(("extends",), f"expected a spec file name or bundled spec name, got {parent_ref!r}")], str(path))
    try:
        resolve_spec_path(parent_ref, path.parent)
    except SpecError as err:  # say which file asked for the missing parent, and where
        message = err.problems[0].message.replace("no such spec file", f"no such spec file in {path.parent}", 1)
        raise SpecError([raw.problem(("extends",), message)], str(path)) from err
    parent = load_raw(parent_ref, path.parent, _chain + (path,))
    return merge(parent, raw)


def merge(parent: RawSpec, child: RawSpec) -> RawSpec:
    """Deep-merge ``child`` over ``parent``.

    Mappings merge key by key, except that a section whose ``type`` differs from the parent's
    replaces the parent's section entirely (the parent's keys belong to another schema).
    Lists and scalars are replaced.
    """
    data = _merge_values(parent.data, child.data)
    locations = dict(parent.locations)
    for path in list(locations):
        # Drop parent locations under any subtree the child replaced wholesale.
        if path and _replaced(parent.data, child.data, path):
            del locations[path]
    locations.update(child.locations)
    return RawSpec(data, locations, child.source)


def _replaced(parent: Any, child: Any, path: tuple) -> bool:
    for part in path:
        if not isinstance(child, dict) or part not in child:
            return False
        if not isinstance(parent, dict) or part not in parent:
            return False
        p, c = parent[part], child[part]
        if not (isinstance(p, dict) and isinstance(c, dict)) or _type_changed(p, c):
            return True
        parent, child = p, c
    return False


def _type_changed(parent: dict, child: dict) -> bool:
    return "type" in child and "type" in parent and child["type"] != parent["type"]


def _merge_values(parent: Any, child: Any) -> Any:
    if isinstance(parent, dict) and isinstance(child, dict) and not _type_changed(parent, child):
        out = dict(parent)
        for key, value in child.items():
            out[key] = _merge_values(parent[key], value) if key in parent else value
        return out
    return child


# ----------------------------------------------------------------------------------------------
# --set overrides


def apply_overrides(raw: RawSpec, overrides: list[str] | dict[str, Any] | None) -> RawSpec:
    """Apply ``["head.embedding_size=512", ...]`` (values parsed as YAML) or a ``{path: value}`` dict.

    A path may address a key the spec file does not set, as long as the schema knows it;
    unknown keys are reported by validation with the override as their location.
    """
    if not overrides:
        return raw
    items: list[tuple[str, Any, str]] = []
    problems: list[SpecProblem] = []
    if isinstance(overrides, dict):
        items = [(k, v, f"override {k}={v!r}") for k, v in overrides.items()]
    else:
        for text in overrides:
            key, sep, value_text = str(text).partition("=")
            origin = f"--set {text}"
            if not sep or not key.strip():
                problems.append(SpecProblem("", "expected KEY.PATH=VALUE, e.g. head.embedding_size=512", origin))
                continue
            try:
                value = yaml.load(value_text, Loader=SpecLoader) if value_text.strip() else ""
            except yaml.YAMLError as err:
                problems.append(SpecProblem(key, f"cannot parse the value as YAML: {err}", origin))
                continue
            items.append((key.strip(), value, origin))
    data = raw.data
    locations = dict(raw.locations)
    for key, value, origin in items:
        parts = tuple(int(p) if p.isdigit() else p for p in key.split("."))
        if any(p == "" for p in parts):
            problems.append(SpecProblem(key, "empty key in the path", origin))
            continue
        node = data
        for i, part in enumerate(parts[:-1]):
            if isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                problems.append(SpecProblem(format_path(parts[: i + 1]), "cannot set a key inside a value that is not a mapping", origin))
                break
        else:
            last = parts[-1]
            if isinstance(node, list) and isinstance(last, int):
                if last >= len(node):
                    problems.append(SpecProblem(format_path(parts), f"index {last} is out of range (the list has {len(node)} items)", origin))
                    continue
                node[last] = value
            elif isinstance(node, dict):
                node[last] = value
            else:
                problems.append(SpecProblem(format_path(parts), "cannot set a key inside a value that is not a mapping", origin))
                continue
            for path in [p for p in locations if p[: len(parts)] == parts]:
                del locations[path]
            for i in range(1, len(parts) + 1):
                locations.setdefault(parts[:i], (origin, None))
            locations[parts] = (origin, None)
    if problems:
        raise SpecError(problems, raw.source)
    return RawSpec(data, locations, raw.source)
