"""A two-level tag hierarchy ``coarse: [fine, ...]`` (Zhong et al., §3, Fig. 1).

Every fine tag has exactly one coarse parent. The hierarchy fixes the order of both levels (the
YAML order), which is the column order of every ``(batch, N_fine)`` / ``(batch, N_coarse)`` array:
targets, masks, model outputs and metrics.

Validation reports *every* problem at once, each with its key path inside the mapping and, for
files, the file and line (the same :class:`~kaudio.errors.SpecError` as a spec).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import yaml

from kaudio.errors import InputError, KaudioError, SpecError, SpecProblem
from kaudio.spec.schema import did_you_mean, format_path
from kaudio.spec.source import RawSpec, parse_yaml

#: Tag names are joined with this character in ``labels.csv``, so it may not appear in a name.
TAG_SEPARATOR = ";"

_FORMAT = "a mapping `coarse_tag: [fine_tag, ...]`"


class TagError(KaudioError):
    """Tag names (from data or a caller) that the hierarchy does not know."""


def _name_problem(name: Any, what: str) -> str | None:
    """Why ``name`` is not a usable tag name, or ``None``."""
    if not isinstance(name, str):
        if name is None:
            return f"{what} names must be strings, got null (an empty item or key, or YAML's null/~: quote the name)"
        kind = f"{type(name).__name__} {name!r}"
        if isinstance(name, bool):  # YAML 1.1 reads yes/no/on/off/true/false as booleans
            return f"{what} names must be strings, got {kind} (YAML reads yes/no/on/off/true/false as booleans: quote the name)"
        return f"{what} names must be strings, got {kind} (quote it in YAML: '{name}')"
    if not name.strip():
        return f"{what} names must not be empty"
    if name != name.strip():
        return f"{what} name {name!r} has leading or trailing spaces"
    if TAG_SEPARATOR in name:
        return f"{what} name {name!r} contains {TAG_SEPARATOR!r}, the tag separator of labels.csv"
    return None


def _check_mapping(mapping: Any) -> list[tuple[tuple, str]]:
    """Every problem of a raw ``{coarse: [fine, ...]}`` mapping as ``(key path, message)``."""
    if not isinstance(mapping, Mapping):
        kind = "a list" if isinstance(mapping, list) else ("nothing" if mapping is None else repr(mapping))
        return [((), f"a hierarchy must be {_FORMAT}, got {kind}")]
    if not mapping:
        return [((), f"the hierarchy is empty; expected {_FORMAT}")]
    problems: list[tuple[tuple, str]] = []
    first_seen: dict[str, tuple[Any, int]] = {}  # fine tag -> (coarse, index) of its first listing
    for coarse, children in mapping.items():
        message = _name_problem(coarse, "coarse tag")
        if message:
            problems.append(((coarse,), message))
        if isinstance(children, str):
            problems.append(((coarse,), f"expected a list of fine tags, got string {children!r} (write [{children}])"))
            continue
        if not isinstance(children, (list, tuple)):
            got = "nothing" if children is None else f"{type(children).__name__} {children!r}"
            problems.append(((coarse,), f"expected a list of fine tags, got {got}"))
            continue
        if not children:
            problems.append(((coarse,), f"coarse tag {coarse!r} has no fine tags; every group needs at least one"))
        for i, fine in enumerate(children):
            message = _name_problem(fine, "fine tag")
            if message:
                problems.append(((coarse, i), message))
                continue
            if fine not in first_seen:
                first_seen[fine] = (coarse, i)
                continue
            parent, j = first_seen[fine]
            if parent == coarse:
                problems.append(((coarse, i), f"fine tag {fine!r} is listed twice under {coarse!r} (items {j} and {i})"))
            else:
                problems.append(((coarse, i), f"fine tag {fine!r} is listed under both {parent!r} and {coarse!r}; "
                                              "every fine tag needs exactly one parent"))
    return problems + _level_problems(mapping, first_seen)


def _level_problems(mapping: Mapping, fine_tags: Mapping[str, tuple[Any, int]]) -> list[tuple[tuple, str]]:
    """A tag used as both a coarse key and a fine tag: its own parent, a cycle, or a third level."""
    problems = []
    for fine, (coarse, i) in fine_tags.items():
        if fine not in mapping:
            continue
        if fine == coarse:
            message = (f"tag {fine!r} is its own parent; a hierarchy has two levels: coarse tags (the keys) "
                       "and their fine tags (the lists)")
        elif isinstance(mapping.get(fine), (list, tuple)) and coarse in mapping[fine]:
            message = (f"cycle: {fine!r} is listed under {coarse!r} and {coarse!r} under {fine!r}; a tag is either "
                       "coarse (a key) or fine (in a list), never both")
        else:
            message = (f"{fine!r} is a coarse tag (a key of the hierarchy) and cannot also be a fine tag under "
                       f"{coarse!r}; a hierarchy has exactly two levels")
        problems.append(((coarse, i), message))
    return problems


class Hierarchy:
    """A validated two-level hierarchy.

    Attributes:
        fine_names: fine tags, in YAML order (group by group).
        coarse_names: coarse tags, in YAML order.
        parent_of: for each fine index, the index of its coarse parent.
        membership: ``(N_fine, N_coarse)`` float32 0/1 matrix, ``membership[f, c] = 1`` iff ``c``
            is the parent of ``f`` (each row has exactly one 1).
        source: the file it was loaded from, if any.

    Build with :meth:`from_mapping` or :meth:`load`; both raise :class:`~kaudio.errors.SpecError`
    listing every problem (non-string or empty names, empty groups, a fine tag listed twice in a
    group or under two parents, duplicate coarse keys in a file).
    """

    #: How messages name the label set and one of its (fine) labels.
    label_set_name = "the hierarchy"
    label_name = "fine tag"

    def __init__(self, groups: Sequence[tuple[str, Sequence[str]]], source: str | None = None):
        self.coarse_names: tuple[str, ...] = tuple(c for c, _ in groups)
        self.fine_names: tuple[str, ...] = tuple(f for _, children in groups for f in children)
        self.parent_of: tuple[int, ...] = tuple(c for c, (_, children) in enumerate(groups) for _ in children)
        membership = np.zeros((len(self.fine_names), len(self.coarse_names)), np.float32)
        membership[np.arange(len(self.fine_names)), list(self.parent_of)] = 1.0
        membership.setflags(write=False)
        self.membership = membership
        self.source = source
        self._fine_index = {name: i for i, name in enumerate(self.fine_names)}

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Sequence[str]], source: str | None = None,
                     locate=None) -> "Hierarchy":
        """Validate ``{coarse: [fine, ...]}`` and build the hierarchy.

        Args:
            mapping: the groups, in order.
            source: where the mapping came from (shown in errors).
            locate: optional ``path -> (file, line)`` used by :meth:`load` for line numbers.
        """
        if isinstance(mapping, Hierarchy):
            return mapping
        problems = _check_mapping(mapping)
        if problems:
            def problem(path, message):
                file, line = locate(path) if locate else (source, None)
                return SpecProblem(format_path(path), message, file, line)

            raise SpecError([problem(p, m) for p, m in problems], source or "<hierarchy>")
        return cls([(coarse, list(children)) for coarse, children in mapping.items()], source)

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Hierarchy":
        """Read and validate a hierarchy YAML file; errors carry the file and line of each offender."""
        path = Path(path)
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise SpecError([SpecProblem("", f"cannot read the hierarchy file: {err}", origin)], origin) from err
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            document = parse_yaml(text, origin).data  # raises the syntax error with its line and column
        if not isinstance(document, dict) or not document:
            got = "an empty file" if document is None else ("a list" if isinstance(document, list) else repr(document))
            raise SpecError([SpecProblem("", f"a hierarchy file must hold {_FORMAT}, got {got}", origin, 1)], origin)
        raw: RawSpec = parse_yaml(text, origin)  # also rejects duplicate coarse keys
        return cls.from_mapping(raw.data, origin, raw.locate)

    # --- views --------------------------------------------------------------------------------

    @property
    def n_fine(self) -> int:
        return len(self.fine_names)

    @property
    def n_coarse(self) -> int:
        return len(self.coarse_names)

    def children(self, coarse: str) -> tuple[str, ...]:
        """The fine tags under ``coarse``."""
        if coarse not in self.coarse_names:
            raise TagError(f"unknown coarse tag {coarse!r}{did_you_mean(coarse, self.coarse_names)} "
                           f"(coarse tags: {', '.join(self.coarse_names)})")
        c = self.coarse_names.index(coarse)
        return tuple(f for f, p in zip(self.fine_names, self.parent_of) if p == c)

    def parent(self, fine: str) -> str:
        """The coarse parent of ``fine``."""
        self.check_tags([fine])
        return self.coarse_names[self.parent_of[self._fine_index[fine]]]

    def fine_index(self, names: Iterable[str]) -> list[int]:
        """Column indices of fine tags (raises :class:`TagError` for unknown ones)."""
        names = list(names)
        self.check_tags(names)
        return [self._fine_index[n] for n in names]

    def to_mapping(self) -> dict[str, list[str]]:
        """``{coarse: [fine, ...]}`` in order: plain data for specs and model configs."""
        return {coarse: list(self.children(coarse)) for coarse in self.coarse_names}

    def check_tags(self, names: Iterable[str]) -> None:
        """Raise :class:`TagError` listing every name that is not a fine tag of the hierarchy."""
        unknown = sorted({n for n in names if n not in self._fine_index}, key=str)
        if not unknown:
            return
        lines = []
        for name in unknown:
            if name in self.coarse_names:
                hint = " (a coarse tag: list its fine tags instead)"
            else:
                suggestion = did_you_mean(name, self.fine_names)  # "; did you mean 'x'?"
                hint = f" ({suggestion[2:]})" if suggestion else ""
            lines.append(f"{name!r}{hint}")
        where = f" in {self.source}" if self.source else ""
        raise TagError(f"{len(unknown)} tag{'s' if len(unknown) != 1 else ''} not in {self.label_set_name}{where}: "
                       f"{', '.join(lines)}; known {self.label_name}s: {', '.join(self.fine_names)}")

    # --- labels -------------------------------------------------------------------------------

    def coarse_from_fine(self, y_fine, mask_fine=None) -> tuple[np.ndarray, np.ndarray]:
        """Coarse targets and masks from fine ones by the max rule (§3.1, "GMP" on labels).

        For each example and coarse tag with children ``S``:

        * some child in ``S`` is known (mask 1) with label >= 0.5 → coarse known (mask 1), label =
          the max of the known children's labels (1 for 0/1 labels): one positive child makes the
          parent positive whatever the unknown siblings are;
        * else, every child in ``S`` is known → coarse known, label = the max of the children's
          labels (0 for 0/1 labels);
        * else (no known positive child and at least one unknown child) → coarse unknown
          (mask 0, label 0).

        Args:
            y_fine: ``(n, N_fine)`` labels in [0, 1].
            mask_fine: ``(n, N_fine)`` 1 = known, 0 = unknown; ``None`` means all known. Labels
                under mask 0 are ignored (they may be NaN).

        Returns:
            ``(y_coarse, mask_coarse)``, both ``(n, N_coarse)`` float32.
        """
        y = np.asarray(y_fine, dtype=np.float32)
        if y.ndim != 2 or y.shape[1] != self.n_fine:
            raise InputError(f"fine labels must have shape (n, {self.n_fine}) (one column per fine tag), got {y.shape}")
        mask = np.ones_like(y) if mask_fine is None else np.asarray(mask_fine, dtype=np.float32)
        if mask.shape != y.shape:
            raise InputError(f"the fine mask has shape {mask.shape}, the fine labels {y.shape}; they must match")
        if not np.isin(mask, (0.0, 1.0)).all():
            raise InputError("mask values must be 0 (unknown) or 1 (known)")
        known = mask > 0
        y = np.where(known, y, 0.0)
        if not np.isfinite(y).all() or y.min(initial=0.0) < 0 or y.max(initial=0.0) > 1:
            raise InputError("known fine labels must be finite numbers in [0, 1]")
        member = self.membership.astype(bool)                                   # (F, C)
        children_known = np.where(member[None], known[:, :, None], True).all(axis=1)  # (n, C)
        y_max = np.where(member[None] & known[:, :, None], y[:, :, None], 0.0).max(axis=1)
        coarse_known = children_known | (y_max >= 0.5)
        return np.where(coarse_known, y_max, 0.0).astype(np.float32), coarse_known.astype(np.float32)

    # --- python -------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hierarchy) and (self.coarse_names, self.fine_names, self.parent_of) == \
            (other.coarse_names, other.fine_names, other.parent_of)

    def __hash__(self) -> int:
        return hash((self.coarse_names, self.fine_names, self.parent_of))

    def __repr__(self) -> str:
        return f"Hierarchy({self.n_coarse} coarse, {self.n_fine} fine tags{f', from {self.source}' if self.source else ''})"
