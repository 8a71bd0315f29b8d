"""The specs shipped with kaudio (the top-level ``specs/`` folder, installed as ``kaudio._specs``).

Files whose name starts with ``_`` are bases for ``extends`` and are not listed as models.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml


@lru_cache(maxsize=1)
def directory() -> Path:
    """The folder holding the bundled specs."""
    try:
        from importlib.resources import files

        path = Path(str(files("kaudio._specs")))
        if path.is_dir() and any(path.glob("*.yaml")):
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    # Running from a source checkout without installing.
    return Path(__file__).resolve().parents[2] / "specs"


def names(include_bases: bool = False) -> list[str]:
    """Names of the bundled specs (file stems)."""
    stems = sorted(p.stem for p in directory().glob("*.yaml"))
    return [s for s in stems if include_bases or not s.startswith("_")]


def find(name: str) -> Path | None:
    """Path of the bundled spec ``name`` (with or without ``.yaml``), or ``None``."""
    stem = name[:-5] if name.endswith(".yaml") else name
    if "/" in stem or "\\" in stem:
        return None
    path = directory() / f"{stem}.yaml"
    return path if path.is_file() else None


def describe() -> list[tuple[str, str]]:
    """``(name, one-line description)`` for every listed bundled spec."""
    out = []
    for name in names():
        try:
            doc = yaml.safe_load((directory() / f"{name}.yaml").read_text(encoding="utf-8")) or {}
            text = str(doc.get("description", "")).strip().splitlines()
        except yaml.YAMLError:
            text = ["(unreadable spec)"]
        out.append((name, text[0] if text else ""))
    return out
