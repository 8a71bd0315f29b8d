"""Checks that an output location can be written, made before the work that would fill it.

Every command that writes (``kaudio embed``, ``build``, ``train``, ``convert``) checks its output
folder or file first, so a read-only folder, a file where a folder is needed or an existing file
that must not be replaced fails at once with one line naming the path and the reason
(:class:`~kaudio.errors.OutputError`, exit status 1), never after minutes of work and never as
a raw ``OSError``.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from kaudio.errors import OutputError


def ensure_writable_folder(folder: "str | os.PathLike", what: str = "output folder") -> Path:
    """Create ``folder`` (and its parents) if missing and check that a file can be created in it.

    Raises:
        OutputError: naming the folder and why (a file is in the way, permission denied, read-only
            file system, …).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".kaudio-write-check-")
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"cannot write to the {what} {folder}: {describe_os_error(err, folder)}") from err
    return folder


def ensure_writable_file(path: "str | os.PathLike", overwrite: bool, what: str = "output file") -> Path:
    """Check that ``path`` can be written: its folder is writable and, unless ``overwrite``, it does not exist.

    Raises:
        OutputError: the file exists (and ``overwrite`` is false), is a folder, or its folder
            cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"the {what} {path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise OutputError(f"the {what} {path} exists; pass --overwrite to replace it or choose another name")
    ensure_writable_folder(path.parent if str(path.parent) else Path("."), f"folder of the {what}")
    return path


def describe_os_error(err: OSError, folder: Path) -> str:
    """Why ``err`` stopped a write in ``folder``, in a few words (a file in the way, permission
    denied, a read-only file system, no space left, …)."""
    if isinstance(err, (FileExistsError, NotADirectoryError)):
        blocker = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)
        return f"{blocker or folder} is a file, not a folder"
    if isinstance(err, PermissionError):
        return "permission denied"
    if err.errno == errno.EROFS:
        return "read-only file system"
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    return err.strerror or str(err)
