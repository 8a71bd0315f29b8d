"""Atomic file writes: readers never see a partial file, a killed run leaves only hidden temporaries.

Every writer of kaudio's outputs (embedding ``.npz`` files, ``kaudio mix`` clips and tables, AVC
shards, downstream feature caches) fills a hidden temporary file beside its target
(``.<name>.<pid>-<12 hex>.tmp``), flushes it to disk and renames it over the target with
:func:`os.replace`. On any error, Ctrl-C included, the temporary file is removed and the target is
left as it was. Temporaries that a killed process left behind are recognised by their name and
removed by :func:`remove_stale_temporaries` on the next run in that folder.
"""
from __future__ import annotations

import io
import os
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from kaudio.errors import OutputError

#: ``.<target>.<pid>-<12 hex>.tmp``; files of the older form ``.<target>.<12 hex>.tmp`` carry no process id.
TEMPORARY = re.compile(r"^\.(?P<target>.+)\.(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.tmp$")
#: Age after which a temporary of the older form (no process id to check) is taken as left over.
LEGACY_TEMPORARY_AGE_S = 3600


@contextmanager
def atomic_output(path: "str | os.PathLike") -> Iterator[Path]:
    """A hidden temporary file beside ``path`` (created empty) to be filled inside the ``with``
    block — also by writers that need a file name, such as ``tf.io.TFRecordWriter`` — then flushed
    to disk and renamed over ``path``. If the block raises, the temporary file is removed and
    ``path`` is unchanged.

    Raises:
        OutputError: the folder cannot be created or written.
    """
    from kaudio.writable import describe_os_error

    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp"
            try:
                os.close(os.open(tmp, flags, 0o666))
                break
            except FileExistsError:  # pragma: no cover - 48 random bits
                continue
    except OSError as err:
        raise OutputError(f"cannot write {path}: {describe_os_error(err, path.parent)}") from err
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError):
            raise OutputError(f"cannot write {path}: {describe_os_error(err, path.parent)}") from err
        raise


def write_atomic(path: "str | os.PathLike", write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(handle)`` on a binary handle of a temporary file and rename it over ``path``
    (:func:`atomic_output`). The file gets the usual permissions (0666 minus the umask).

    Raises:
        OutputError: the folder cannot be created or written.
    """
    path = Path(path)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            write(handle)
    return path


def write_text_atomic(path: "str | os.PathLike", text: str) -> Path:
    """Write UTF-8 ``text`` with :func:`write_atomic`."""
    return write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def is_temporary(path: "str | os.PathLike") -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_output`."""
    return TEMPORARY.match(Path(path).name) is not None


def remove_stale_temporaries(folder: "str | os.PathLike", legacy_suffixes: tuple[str, ...] = ()) -> int:
    """Remove the temporary files of :func:`atomic_output` that a killed run left in ``folder``.

    A file whose writing process is still alive (another run writing right now) is kept. Files of
    the older name form without a process id are removed only for targets ending in one of
    ``legacy_suffixes`` and once :data:`LEGACY_TEMPORARY_AGE_S` old. Returns the number removed.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = TEMPORARY.match(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        pid = match.group("pid")
        if pid is not None and process_alive(int(pid)):
            continue
        if pid is None and (not match.group("target").endswith(legacy_suffixes)
                            or time.time() - entry.stat().st_mtime < LEGACY_TEMPORARY_AGE_S):
            continue
        try:
            os.unlink(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (this process counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


__all__ = ["LEGACY_TEMPORARY_AGE_S", "TEMPORARY", "atomic_output", "is_temporary", "process_alive",
           "remove_stale_temporaries", "write_atomic", "write_text_atomic"]
