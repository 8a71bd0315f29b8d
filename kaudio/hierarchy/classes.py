"""A flat list of classes: the labels of a multi-label tagger or a single-label classifier.

:class:`ClassList` is a one-level :class:`~kaudio.hierarchy.Hierarchy`: its ``fine_names`` are the
classes (in the order of the model's output columns) and it has no coarse level, so the dataset
code (``labels.csv`` folders, masks, splits, the ``tf.data`` pipeline) serves flat and
hierarchical labels alike.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from kaudio.errors import SpecError, SpecProblem
from kaudio.hierarchy.hierarchy import Hierarchy, TagError, _name_problem


class ClassList(Hierarchy):
    """The classes ``names`` (order = output columns); every name a non-empty string, listed once.

    Raises:
        SpecError: listing every bad or repeated name.
    """

    label_set_name = "the classes"
    label_name = "class"

    def __init__(self, names: Sequence[str], source: str | None = None):
        problems = [SpecProblem(f"[{i}]", message, source) for i, name in enumerate(names)
                    if (message := _name_problem(name, "class"))]
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if isinstance(name, str) and name in seen:
                problems.append(SpecProblem(f"[{i}]", f"class {name!r} is listed twice (items {seen[name]} and {i})",
                                            source))
            seen.setdefault(name, i)
        if not names:
            problems.append(SpecProblem("", "the class list is empty", source))
        if problems:
            raise SpecError(problems, source or "<classes>")
        self.fine_names = tuple(names)
        self.coarse_names = ()
        self.parent_of = ()
        membership = np.zeros((len(self.fine_names), 0), np.float32)
        membership.setflags(write=False)
        self.membership = membership
        self.source = source
        self._fine_index = {name: i for i, name in enumerate(self.fine_names)}

    @property
    def names(self) -> tuple[str, ...]:
        """The classes, in output-column order."""
        return self.fine_names

    def parent(self, fine: str) -> str:
        raise TagError(f"{fine!r} is a class of a flat class list, which has no coarse level")

    def to_mapping(self) -> list[str]:  # type: ignore[override]
        """The class names as a list (plain data for specs)."""
        return list(self.fine_names)

    def __repr__(self) -> str:
        return f"ClassList({len(self.fine_names)} classes{f', from {self.source}' if self.source else ''})"
