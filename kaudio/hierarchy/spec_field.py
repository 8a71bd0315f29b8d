"""The ``hierarchy:`` key of a spec section: an inline mapping or a YAML file.

``hierarchy`` may be

* an inline mapping ``{coarse: [fine, ...]}``;
* a path to a hierarchy YAML file, relative to the spec file's folder (or absolute);
* the name of a hierarchy shipped with kaudio in ``specs/hierarchies/`` (e.g. ``openmic_tone``, or
  ``hierarchies/openmic_tone.yaml`` as the bundled specs write it).

:func:`resolve_hierarchy` (called from a component's ``check_spec``) validates it and replaces a
file reference by the inline mapping, so a saved model's config is self-contained.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaudio.errors import SpecError
from kaudio.hierarchy.hierarchy import Hierarchy
from kaudio.spec import bundled
from kaudio.spec.schema import Field

#: Folder (inside the bundled specs folder) of the hierarchies shipped with kaudio.
BUNDLED_HIERARCHIES = "hierarchies"


def bundled_hierarchy_names() -> list[str]:
    """Names of the hierarchies shipped in ``specs/hierarchies/``."""
    folder = bundled.directory() / BUNDLED_HIERARCHIES
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def find_hierarchy_file(ref: str, base_dir: Path) -> Path | None:
    """The file ``ref`` names: relative to ``base_dir``, absolute, or a bundled hierarchy name."""
    candidate = Path(ref).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if candidate.is_file():
        return candidate
    stem = ref[:-5] if ref.endswith(".yaml") else ref
    if "/" not in stem and "\\" not in stem:
        shipped = bundled.directory() / BUNDLED_HIERARCHIES / f"{stem}.yaml"
        if shipped.is_file():
            return shipped
    elif not Path(ref).is_absolute():
        # `hierarchies/openmic_tone.yaml` as written in the bundled specs works from any spec folder
        shipped = bundled.directory() / ref
        if shipped.is_file():
            return shipped
    return None


HIERARCHY_DOC = ("the tag hierarchy: an inline mapping `coarse: [fine, ...]`, a YAML file relative to the "
                 "spec, or a bundled hierarchy name")


@dataclass(frozen=True)
class HierarchyField(Field):
    """A schema field taking a mapping *or* a string; :func:`resolve_hierarchy` checks the content."""

    def validate(self, value: Any, path: tuple) -> tuple[Any, list[tuple[tuple, str]]]:
        if isinstance(value, dict) or (isinstance(value, str) and value.strip()):
            return value, []
        got = "null" if value is None else f"{type(value).__name__} {value!r}"
        return value, [(path, f"expected {self.doc}, got {got}")]


def hierarchy_field(name: str = "hierarchy") -> HierarchyField:
    """The required ``hierarchy`` key of a spec section."""
    return HierarchyField(name, dict, doc=HIERARCHY_DOC)


def resolve_hierarchy(params: dict, context, key: str = "hierarchy") -> list[tuple[str, str]]:
    """Validate ``params[key]`` and replace a file reference by its mapping (in place).

    Returns ``check_spec``-style problems ``[(key path, message)]``; a problem inside a hierarchy
    file names that file and line in its message.
    """
    value = params.get(key)
    source = None
    if isinstance(value, str):
        base_dir = context.source_dir if context is not None else Path.cwd()
        path = find_hierarchy_file(value, base_dir)
        if path is None:
            shipped = ", ".join(bundled_hierarchy_names()) or "none"
            return [(key, f"no hierarchy file {value!r} (looked in {base_dir}, the spec's folder, and among "
                          f"the bundled hierarchies: {shipped})")]
        source = str(path)
    try:
        hierarchy = Hierarchy.load(source) if source else Hierarchy.from_mapping(value)
    except SpecError as err:
        out = []
        for problem in err.problems:
            where = f" (in {problem.file}{f':{problem.line}' if problem.line else ''})" if source else ""
            sub = problem.path if not problem.path or problem.path.startswith("[") else f".{problem.path}"
            out.append((f"{key}{sub}", problem.message + where))
        return out
    params[key] = hierarchy.to_mapping()
    return []
