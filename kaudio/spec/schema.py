"""Declarative schemas for spec sections.

A :class:`Schema` is a list of :class:`Field` objects. :meth:`Schema.validate` checks a mapping
against it and returns the normalised mapping (defaults filled in, ints widened to floats where a
float is expected) plus a list of ``(path, message)`` problems. It never raises on bad data: the
caller collects every problem of the whole spec and reports them together.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable

REQUIRED = object()  # sentinel: the field has no default


def format_path(path: tuple) -> str:
    """``("backbone", "filters", 2)`` -> ``"backbone.filters[2]"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix when a close match exists, else ``""``."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value!r}".replace("True", "true").replace("False", "false")
    if isinstance(value, (int, float)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass(frozen=True)
class Field:
    """One key of a spec section.

    Args:
        name: the YAML key.
        kind: ``int``, ``float``, ``str``, ``bool``, ``list`` or ``dict``.
        default: the value used when the key is absent; :data:`REQUIRED` makes it mandatory.
        doc: one line shown in error messages and docs.
        choices: allowed values (for scalars).
        minimum / maximum: inclusive bounds for numbers (and list items).
        exclusive_minimum: if True the minimum itself is rejected (``> minimum``).
        nullable: ``null`` is accepted.
        item_kind: element type for lists (``int``, ``float``, ``str``).
        length: exact list length (``None`` = any non-empty length).
        allow_empty: an empty list is accepted (e.g. "no block has elastic depth").
        key_kind / value_kind / value_length: for dicts, types of keys and list values.
    """

    name: str
    kind: type
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    nullable: bool = False
    item_kind: type | None = None
    length: int | None = None
    key_kind: type | None = None
    value_kind: type | None = None
    value_length: int | None = None
    allow_empty: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def validate(self, value: Any, path: tuple) -> tuple[Any, list[tuple[tuple, str]]]:
        if value is None:
            if self.nullable:
                return None, []
            return value, [(path, f"must not be null; expected {self._expected()}")]
        if self.kind is list:
            return self._validate_list(value, path)
        if self.kind is dict:
            return self._validate_dict(value, path)
        value, problems = _check_scalar(value, self.kind, path)
        if problems:
            return value, problems
        return value, self._check_value(value, path)

    def _expected(self) -> str:
        if self.kind is list:
            return f"a list of {_TYPE_NAMES.get(self.item_kind, 'values')}s"
        if self.kind is dict:
            return "a mapping"
        return _TYPE_NAMES[self.kind]

    def _check_value(self, value: Any, path: tuple) -> list[tuple[tuple, str]]:
        if self.choices is not None and value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            return [(path, f"got {value!r}, expected one of {options}{did_you_mean(value, map(str, self.choices))}")]
        return _check_range(value, path, self.minimum, self.maximum, self.exclusive_minimum)

    def _validate_list(self, value: Any, path: tuple):
        if not isinstance(value, list):
            return value, [(path, f"expected {self._expected()}, got {_describe(value)}")]
        if self.length is not None and len(value) != self.length:
            return value, [(path, f"expected a list of {self.length} items, got {len(value)}")]
        if not value and not self.allow_empty:
            return value, [(path, "must not be empty")]
        out, problems = [], []
        for i, item in enumerate(value):
            item, p = _check_scalar(item, self.item_kind, path + (i,)) if self.item_kind else (item, [])
            if not p:
                p = self._check_value(item, path + (i,))
            problems += p
            out.append(item)
        return out, problems

    def _validate_dict(self, value: Any, path: tuple):
        if not isinstance(value, dict):
            return value, [(path, f"expected a mapping, got {_describe(value)}")]
        out, problems = {}, []
        for key, item in value.items():
            if self.key_kind is int and isinstance(key, str) and key.isdigit():
                key = int(key)  # JSON (model configs) turns integer keys into strings
            if self.key_kind is not None:
                key, p = _check_scalar(key, self.key_kind, path + (key,), what="key")
                problems += p
            if self.value_kind is list:
                if not isinstance(item, list) or (self.value_length and len(item) != self.value_length):
                    n = f"{self.value_length} " if self.value_length else ""
                    problems.append((path + (key,), f"expected a list of {n}integers, got {_describe(item)}"))
                else:
                    for i, v in enumerate(item):
                        _, p = _check_scalar(v, int, path + (key, i))
                        problems += p or _check_range(v, path + (key, i), 1, None, False)
            elif self.value_kind is not None:
                item, p = _check_scalar(item, self.value_kind, path + (key,))
                problems += p
            out[key] = item
        if not out:
            problems.append((path, "must not be empty"))
        return out, problems


def _check_scalar(value: Any, kind: type, path: tuple, what: str = "value"):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value), []
    if kind is int and isinstance(value, float) and value.is_integer() and what == "value":
        return value, [(path, f"expected an integer, got float {value!r}; write {int(value)}")]
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        return value, [(path, f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {_describe(value)}")]
    return value, []


def _check_range(value, path, minimum, maximum, exclusive_minimum):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return []
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        op = ">" if exclusive_minimum else ">="
        return [(path, f"got {value!r}, must be {op} {minimum}")]
    if maximum is not None and value > maximum:
        return [(path, f"got {value!r}, must be <= {maximum}")]
    return []


@dataclass(frozen=True)
class Schema:
    """The keys a spec section accepts. ``type`` and ``preset`` are handled by the validator."""

    fields: tuple[Field, ...] = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "fields", tuple(self.fields))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def validate(self, params: dict, path: tuple) -> tuple[dict, list[tuple[tuple, str]]]:
        """Check ``params`` (without ``type``/``preset``); return (normalised, problems)."""
        by_name = {f.name: f for f in self.fields}
        out: dict[str, Any] = {}
        problems: list[tuple[tuple, str]] = []
        for key, value in params.items():
            spec_field = by_name.get(key)
            if spec_field is None:
                valid = ", ".join(self.names) or "(none)"
                problems.append(
                    (path + (key,), f"unknown key{did_you_mean(key, self.names)} (valid keys: {valid})")
                )
                continue
            value, p = spec_field.validate(value, path + (key,))
            problems += p
            out[key] = value
        for spec_field in self.fields:
            if spec_field.name in out:
                continue
            if spec_field.required:
                doc = f" ({spec_field.doc})" if spec_field.doc else ""
                problems.append((path + (spec_field.name,), f"missing required key{doc}"))
            else:
                default = spec_field.default
                out[spec_field.name] = list(default) if isinstance(default, (list, tuple)) else default
        return out, problems
