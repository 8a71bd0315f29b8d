"""Files that a spec names (pretrained models, teachers): looked up once, at validation.

A relative path is tried against the spec file's folder, then the working directory (so
``--set train.init_weights=cnn14_16k.keras`` on a bundled spec finds the file where the command
runs); validation replaces it by the absolute path, so later readers never resolve it again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def resolve_existing_file(value: str, context, suffixes: Sequence[str], what: str,
                          hint: str = "") -> tuple[str | None, str | None]:
    """``(absolute path, None)`` of an existing file named by ``value``, or ``(None, problem)``.

    Args:
        value: the path as written in the spec.
        context: the validation context (its ``source_dir``), or ``None`` (working directory only).
        suffixes: accepted endings, e.g. ``(".keras",)``.
        what: what the file is, for the messages ("a .keras model").
        hint: how to get such a file, appended to the not-found message.
    """
    if not value.strip():
        return None, f"expected a path to {what} or null, got an empty string"
    path = Path(value).expanduser()
    if not any(path.name.endswith(suffix) for suffix in suffixes):
        return None, f"{value!r} is not {what} (a file ending in {' or '.join(suffixes)})" + (f"; {hint}" if hint else "")
    if path.is_absolute():
        candidates = [path]
    else:
        folders = [context.source_dir if context is not None else Path.cwd(), Path.cwd()]
        candidates = list(dict.fromkeys(folder / path for folder in folders))
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate.resolve()), None
    looked = " or ".join(str(c) for c in candidates)
    where = "" if path.is_absolute() else " (a relative path is looked up in the spec's folder, then the working directory)"
    return None, f"no such file: {looked}{where}" + (f"; {hint}" if hint else "")
