"""Output files of the embedding file APIs and of ``kaudio embed``.

* openl3's naming rule (:func:`output_path`), optionally under a mirrored folder structure;
* a plan made before any work (:func:`plan_outputs`): two inputs that would write the same file
  are refused, naming both; every output folder is created and checked writable; temporary files
  left by an interrupted run in those folders are removed;
* atomic ``.npz`` writes (:func:`save_npz_atomic`) that record the settings of the embedding
  (:mod:`kaudio.embedding.settings`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kaudio import atomic
from kaudio.atomic import is_temporary  # noqa: F401  (re-exported: output.is_temporary tells an output from a temporary)
from kaudio.errors import InputError
from kaudio.writable import ensure_writable_folder

#: Temporary files without a process id are removed only once they are this old (seconds).


def output_path(filepath: "str | os.PathLike", suffix: str | None = None,
                output_dir: "str | os.PathLike | None" = None, tag: str | None = None) -> Path:
    """Where the embedding of ``filepath`` goes (openl3's ``get_output_path``).

    ``base`` is the file name without its (last) extension; the folder is ``output_dir`` or the
    input's folder. The name is ``base + "_" + suffix + ".npz"``, or ``base + suffix + ".npz"``
    when ``suffix`` starts with ``"."``, or ``base + ".npz"`` without a suffix.

    ``tag`` (``"audio"`` / ``"image"`` for videos) is joined in front of the suffix the way
    openl3's ``process_video_file`` does it: the effective suffix is ``tag`` or
    ``tag + "_" + suffix`` — so with a tag, a leading "." in ``suffix`` does not remove the
    underscore (``clip_audio_.v2.npz``, as openl3 names it).
    """
    filepath = Path(filepath)
    base = os.path.splitext(filepath.name)[0]
    if tag:
        suffix = f"{tag}_{suffix}" if suffix else tag
    if suffix:
        name = base + suffix if suffix.startswith(".") else f"{base}_{suffix}"
    else:
        name = base
    folder = Path(output_dir) if output_dir is not None else filepath.parent
    return folder / (name + ".npz")


# ----------------------------------------------------------------------------------------------
# Planning: collisions, writable folders, left-over temporary files


@dataclass(frozen=True)
class PlannedInput:
    """One input file and the output files it writes."""

    source: Path
    targets: tuple[Path, ...]


@dataclass(frozen=True)
class OutputPlan:
    """The inputs to embed (each once, with its outputs) and how many left-over temporary files were removed."""

    inputs: list[PlannedInput]
    removed_temporaries: int


def plan_outputs(sources: Sequence[tuple["str | os.PathLike", Sequence[Path]]],
                 output_dir: "str | os.PathLike | None" = None) -> OutputPlan:
    """Check a list of ``(input, [output paths])`` before any work.

    The same input listed twice is kept once. Two different inputs that would write the same
    output file are an error naming both (e.g. ``a/clip.wav`` and ``b/clip.wav`` into one folder, or
    ``x.wav`` and ``x.flac`` beside each other). Every output folder is created if missing and
    checked writable (``output_dir`` first, so that a problem with it is reported by its own
    name), and temporary files a killed run left there are removed.

    Raises:
        InputError: colliding outputs (every collision listed).
        OutputError: an output folder cannot be created or written.
    """
    planned: list[PlannedInput] = []
    seen_sources: set[Path] = set()
    owner: dict[Path, Path] = {}
    collisions: list[str] = []
    for source, targets in sources:
        source = Path(source)
        key = source.resolve()
        if key in seen_sources:
            continue
        seen_sources.add(key)
        for target in targets:
            first = owner.setdefault(Path(os.path.abspath(target)), source)
            if first != source:
                collisions.append(f"{first} and {source} would both write {target}")
        planned.append(PlannedInput(source, tuple(Path(t) for t in targets)))
    if collisions:
        raise InputError(f"{len(collisions)} output name collision{'s' if len(collisions) != 1 else ''}: "
                         + "; ".join(collisions)
                         + " — embed them in separate runs with different --output-dir or --suffix (suffix= in Python)")
    if output_dir is not None:
        ensure_writable_folder(output_dir)
    removed = 0
    for folder in dict.fromkeys(t.parent for p in planned for t in p.targets):
        ensure_writable_folder(folder)
        removed += remove_stale_temporaries(folder)
    return OutputPlan(planned, removed)


def remove_stale_temporaries(folder: "str | os.PathLike") -> int:
    """Remove temporary files of :func:`save_npz_atomic` that a killed run left in ``folder``
    (:func:`kaudio.atomic.remove_stale_temporaries`; files of the older name form without a process
    id, ``.<name>.npz.<12 hex>.tmp``, once an hour old). Returns the number removed."""
    return atomic.remove_stale_temporaries(folder, legacy_suffixes=(".npz",))


# ----------------------------------------------------------------------------------------------
# Writing


def save_npz_atomic(path: "str | os.PathLike", settings=None, **arrays) -> Path:
    """Write ``arrays`` (and the :class:`~kaudio.embedding.settings.EmbeddingSettings` ``settings``,
    if given) to ``path`` (``np.savez``) so that readers never see a partial file.

    The data go to a hidden temporary file in the target folder (created if missing) named after
    this process, are flushed to disk, then renamed over ``path`` with :func:`os.replace`. On any
    error the temporary file is removed and ``path`` is left as it was. The file gets the usual
    permissions (0666 minus the umask). Returns ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OutputError: the folder cannot be created or written.
    """
    if settings is not None:
        arrays = {**arrays, **settings.arrays()}
    return atomic.write_atomic(path, lambda handle: np.savez(handle, **arrays))


def mirrored_folder(source: Path, root: Path | None, output_dir: "str | os.PathLike | None") -> Path | None:
    """The output folder of ``source`` found under the input folder ``root``: ``output_dir`` plus
    ``source``'s folder relative to ``root`` (so ``a/clip.wav`` and ``b/clip.wav`` stay apart).
    ``None`` (beside the input) when there is no ``output_dir``."""
    if output_dir is None:
        return None
    if root is None:
        return Path(output_dir)
    return Path(output_dir) / source.parent.relative_to(root)


def check_paths(paths) -> list:
    """``paths`` as a list: one path, or a list/tuple of paths (an :class:`InputError` otherwise)."""
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    if not isinstance(paths, (list, tuple)) or not all(isinstance(p, (str, os.PathLike)) for p in paths):
        raise InputError(f"paths must be a path or a list of paths, got {type(paths).__name__}")
    return list(paths)
