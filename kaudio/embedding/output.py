"""Output files of the embedding file APIs: openl3's naming rule and atomic ``.npz`` writes.

Shared by the audio, image and video file functions (reference sheet §1.10).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np


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


def save_npz_atomic(path: "str | os.PathLike", **arrays) -> Path:
    """Write ``arrays`` to ``path`` (``np.savez``) so that readers never see a partial file.

    The data go to a hidden temporary file in the target folder (created if missing), are
    flushed to disk, then renamed over ``path`` with :func:`os.replace`. On any error the temporary
    file is removed and ``path`` is left as it was. The file gets the usual permissions
    (0666 minus the umask). Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def is_temporary(path: "str | os.PathLike") -> bool:
    """Whether ``path`` looks like a leftover temporary file of :func:`save_npz_atomic`."""
    name = Path(path).name
    return name.startswith(".") and name.endswith(".tmp") and ".npz." in name
