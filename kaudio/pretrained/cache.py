"""The local weights cache and the downloader behind :func:`fetch`.

Layout of ``<cache>/weights/`` (``<cache>`` is ``$KAUDIO_HOME`` or ``~/.cache/kaudio``) for a
manifest entry whose ``file`` is ``<file>``:

* a ``gzip`` entry keeps ``<file>.gz``, the download exactly as downloaded (not unpacked);
  ``<file>``, unpacked from it; and ``<file>.unpacked.json``, the record of that unpacking (the
  git blob SHA-1 and sha256 of the ``.gz`` it came from, and the sha256 of ``<file>``);
* a ``none`` entry keeps ``<file>``, the download itself.

A *pinned* entry (``git_blob_sha1`` and/or ``sha256`` set) is verified on every :func:`fetch`:

1. The kept download — downloaded by kaudio or placed there by hand — must have every pinned
   id; otherwise it is refused, naming both ids and its path (delete it or replace it).
2. A missing download is fetched from the entry's URLs into a hidden temporary file in the same
   folder, checked (complete, pinned ids, valid gzip) and unpacked, and only then moved into place
   with ``os.replace``: a failed, corrupt or partial download never leaves a file behind.
3. The unpacked ``<file>`` is used only when its record names the verified download and its
   sha256 is the recorded one; otherwise (missing, altered, placed by hand, no record) it is
   unpacked again from the verified download, with a note on stderr when a file is replaced.
4. An unpacked ``<file>`` without its download is never used: kaudio downloads the ``.gz``; when
   it cannot, the error says to put the ``.gz`` file as downloaded at its exact path.

An entry without any pinned id is verified structurally when loaded instead: an existing
``<file>`` is used as is, a kept ``.gz`` is unpacked, and after a download kaudio prints the
download's git blob SHA-1 and sha256 on stderr, for a maintainer to pin.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kaudio.errors import WeightsError
from kaudio.pretrained.manifest import Manifest, WeightsEntry, find_entry
from kaudio.progress import Progress

HOME_VARIABLE = "KAUDIO_HOME"
DOWNLOAD_TIMEOUT_S = 60
CHUNK_BYTES = 1 << 20
RECORD_SUFFIX = ".unpacked.json"


def cache_dir() -> Path:
    """``$KAUDIO_HOME`` if set (and not empty), else ``~/.cache/kaudio``."""
    home = os.environ.get(HOME_VARIABLE)
    return Path(home).expanduser() if home else Path.home() / ".cache" / "kaudio"


def weights_dir() -> Path:
    """The folder holding downloaded weight files: ``cache_dir() / "weights"``."""
    return cache_dir() / "weights"


@dataclass(frozen=True)
class CachePaths:
    """Where an entry's files live in the cache.

    Attributes:
        download: the file as downloaded (``<file>.gz`` for gzip entries, else ``<file>``).
        unpacked: the ready-to-load file ``<file>``.
        record: ``<file>.unpacked.json``, what ``unpacked`` was unpacked from; ``None`` when the
            download is itself the ready-to-load file.
    """

    download: Path
    unpacked: Path
    record: Path | None


def cache_paths(entry: WeightsEntry) -> CachePaths:
    """The cache paths of ``entry`` (see the module docstring for the layout)."""
    unpacked = weights_dir() / entry.file
    if entry.compression == "gzip":
        return CachePaths(download=unpacked.with_name(unpacked.name + ".gz"), unpacked=unpacked,
                          record=unpacked.with_name(unpacked.name + RECORD_SUFFIX))
    return CachePaths(download=unpacked, unpacked=unpacked, record=None)


def cached_files(entry: WeightsEntry) -> list[Path]:
    """The files of ``entry`` present in the cache: delete them all to download it again."""
    paths = cache_paths(entry)
    candidates = dict.fromkeys([paths.download, paths.unpacked, paths.record])
    return [path for path in candidates if path is not None and path.is_file()]


@dataclass(frozen=True)
class FileIds:
    """The ids of a file's bytes: its git blob SHA-1 (``git hash-object FILE``) and its sha256."""

    git_blob_sha1: str
    sha256: str


def file_ids(path: Path) -> FileIds:
    """Both ids of ``path``, in one read; the git blob SHA-1 is ``sha1(b"blob <size>\\0" + bytes)``."""
    blob = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    sha256 = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            blob.update(chunk)
            sha256.update(chunk)
    return FileIds(git_blob_sha1=blob.hexdigest(), sha256=sha256.hexdigest())


def fetch(name: str, progress: bool = True, manifest: Manifest | None = None) -> Path:
    """The local, ready-to-load file of the pretrained weights ``name``, downloading it on first use.

    A pinned entry's kept download is verified on every call, and the file returned is the one
    unpacked from it (see the module docstring for the cache layout and the rules).

    Args:
        name: a manifest name, e.g. ``"openl3_audio_mel256_music"``.
        progress: show a download progress line on stderr.
        manifest: ``{name: WeightsEntry}`` to use instead of the shipped manifest.

    Raises:
        WeightsError: unknown name; the download failed (the message says which file to fetch
            from where and the exact path to put it at); the download was corrupt (a pinned id
            differs, truncated or invalid gzip) — nothing is written then; a file in the cache
            does not have the pinned ids (the message names both ids and the path).
    """
    entry = find_entry(name, manifest)
    paths = cache_paths(entry)
    if not entry.pinned and paths.unpacked.is_file():
        return paths.unpacked  # nothing to verify it against: loading checks it structurally
    if paths.download.is_file():
        ids = _verified_cached_download(entry, paths)
        if paths.record is not None:
            _ensure_unpacked(entry, paths, ids)
        return paths.unpacked
    _make_weights_folder(paths.download.parent)
    unverifiable = paths.record is not None and paths.unpacked.is_file()
    _download_from_first_reachable_url(entry, paths, progress)
    if unverifiable:
        print(f"kaudio: replaced {paths.unpacked}, which had no download to verify it against, with the file "
              f"unpacked from the verified download {paths.download}", file=sys.stderr)
    return paths.unpacked


def _make_weights_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WeightsError(f"cannot create the weights cache folder {folder}: {err}; "
                           f"set {HOME_VARIABLE} to a writable folder") from err


def _mismatches(entry: WeightsEntry, ids: FileIds) -> list[str]:
    """One ``"<id> <got>, the manifest expects <expected>"`` per pinned id the file does not have."""
    pins = [("git blob SHA-1", entry.git_blob_sha1, ids.git_blob_sha1), ("sha256", entry.sha256, ids.sha256)]
    return [f"{label} {got}, the manifest expects {expected}"
            for label, expected, got in pins if expected is not None and got != expected]


def _verified_cached_download(entry: WeightsEntry, paths: CachePaths) -> FileIds:
    """The ids of the kept download; refused when it lacks a pinned id."""
    ids = file_ids(paths.download)
    mismatches = _mismatches(entry, ids)
    if mismatches:
        as_downloaded = " (still gzipped)" if paths.record is not None else ""
        raise WeightsError(f"{paths.download} is not the file the manifest pins for {entry.name!r}: "
                           f"{'; '.join(mismatches)}. Delete it and kaudio downloads it again, or replace it "
                           f"with the file as downloaded{as_downloaded} from {entry.urls[0]}")
    return ids


def _ensure_unpacked(entry: WeightsEntry, paths: CachePaths, ids: FileIds) -> None:
    """Unpack the verified download again unless ``paths.unpacked`` is exactly what was unpacked from it."""
    problem = _unpacked_problem(paths, ids)
    if problem is None:
        return
    if paths.unpacked.exists():
        print(f"kaudio: {paths.unpacked} {problem}; unpacking it again from {paths.download}", file=sys.stderr)
    temporaries: list[Path] = []
    try:
        unpacked = _temporary_beside(paths.unpacked, ".unpacked", temporaries)
        digest = _gunzip(paths.download, unpacked, lambda err: (
            f"{paths.download} is not a complete gzip file ({err}); delete it and kaudio downloads it again, or "
            f"replace it with the file as downloaded (still gzipped) from {entry.urls[0]}"))
        _place_unpacked(unpacked, paths, ids, digest)
    finally:
        _remove(temporaries)


def _unpacked_problem(paths: CachePaths, ids: FileIds) -> str | None:
    """Why ``paths.unpacked`` cannot be trusted as the unpacking of the download with ``ids``; ``None`` if it can."""
    if not paths.unpacked.is_file():
        return "is missing"
    record = _read_record(paths.record)
    if record is None:
        return f"has no readable record ({paths.record.name}) of being unpacked from the download"
    if (record.get("download_git_blob_sha1"), record.get("download_sha256")) != (ids.git_blob_sha1, ids.sha256):
        return "was unpacked from another download"
    actual = file_ids(paths.unpacked).sha256
    if actual != record.get("unpacked_sha256"):
        return f"was changed after it was unpacked (sha256 {actual}, recorded {record.get('unpacked_sha256')})"
    return None


def _read_record(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _place_unpacked(unpacked: Path, paths: CachePaths, ids: FileIds, unpacked_sha256: str) -> None:
    """Move the unpacked temporary file into place, then write its record (also atomically)."""
    os.replace(unpacked, paths.unpacked)
    record = {"download": paths.download.name, "download_git_blob_sha1": ids.git_blob_sha1,
              "download_sha256": ids.sha256, "unpacked": paths.unpacked.name, "unpacked_sha256": unpacked_sha256}
    temporaries: list[Path] = []
    try:
        written = _temporary_beside(paths.record, ".tmp", temporaries)
        written.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(written, paths.record)
    finally:
        _remove(temporaries)


class _DownloadFailed(Exception):
    """The URL could not be read to the end (network, HTTP error, missing file); try the next one."""


def _download_from_first_reachable_url(entry: WeightsEntry, paths: CachePaths, progress: bool) -> None:
    failures = []
    for url in entry.urls:
        try:
            _download_into_place(entry, url, paths, progress)
        except _DownloadFailed as failure:
            failures.append(f"{url}: {failure}")
            continue
        return
    raise WeightsError(_not_downloadable(entry, paths, failures))


def _download_into_place(entry: WeightsEntry, url: str, paths: CachePaths, progress: bool) -> None:
    """Download ``url``, verify it, unpack it, and only then move the download and the unpacked file into place."""
    temporaries: list[Path] = []
    try:
        downloaded = _temporary_beside(paths.download, ".download", temporaries)
        _download(url, downloaded, progress)
        ids = file_ids(downloaded)
        _refuse_mismatched_download(entry, url, ids, paths)
        if paths.record is None:
            os.replace(downloaded, paths.download)
        else:
            unpacked = _temporary_beside(paths.unpacked, ".unpacked", temporaries)
            digest = _gunzip(downloaded, unpacked, lambda err: (
                f"the download of {entry.name!r} from {url} is not a complete gzip file ({err}); nothing was "
                f"written to {paths.download}. Try again; if it keeps failing, download the file by hand"))
            os.replace(downloaded, paths.download)
            _place_unpacked(unpacked, paths, ids, digest)
    finally:
        _remove(temporaries)
    if not entry.pinned:
        print(f"kaudio: downloaded {url}\n  git blob SHA-1 {ids.git_blob_sha1}, sha256 {ids.sha256} (not pinned in "
              f"the manifest; the file is checked structurally when loaded — a maintainer who has checked it pins "
              f"it as `git_blob_sha1: \"{ids.git_blob_sha1}\"`)", file=sys.stderr)


def _refuse_mismatched_download(entry: WeightsEntry, url: str, ids: FileIds, paths: CachePaths) -> None:
    mismatches = _mismatches(entry, ids)
    if mismatches:
        raise WeightsError(f"the download of {entry.name!r} from {url} is not the file the manifest pins: "
                           f"{'; '.join(mismatches)}; nothing was written to {paths.download}. Try again; if it "
                           f"keeps failing, the file published at that URL has changed")


def _temporary_beside(target: Path, suffix: str, temporaries: list[Path]) -> Path:
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(handle)
    temporaries.append(Path(name))
    return Path(name)


def _remove(temporaries: list[Path]) -> None:
    for path in temporaries:
        path.unlink(missing_ok=True)


def _download(url: str, destination: Path, progress: bool) -> None:
    """Stream ``url`` into ``destination``; a short or broken transfer raises :class:`_DownloadFailed`."""
    try:
        response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _DownloadFailed(_reason(err)) from err
    received = 0
    with response, destination.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        bar = Progress(total, f"downloading {url.rsplit('/', 1)[-1]}", formatter=_megabytes) if progress else None
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as err:
                raise _DownloadFailed(f"connection lost after {received} bytes ({_reason(err)})") from err
            if not chunk:
                break
            out.write(chunk)
            received += len(chunk)
            if bar:
                bar.update(received)
        if bar:
            bar.close()
    if total is not None and received < total:
        raise _DownloadFailed(f"the connection closed after {received} of {total} bytes")


def _gunzip(source: Path, destination: Path, describe_failure: Callable[[BaseException], str]) -> str:
    """Unpack ``source`` into ``destination``; return the sha256 of the unpacked bytes."""
    digest = hashlib.sha256()
    try:
        with gzip.open(source, "rb") as packed, destination.open("wb") as out:
            for chunk in iter(lambda: packed.read(CHUNK_BYTES), b""):
                out.write(chunk)
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as err:
        raise WeightsError(describe_failure(err)) from err
    return digest.hexdigest()


def _reason(err: BaseException) -> str:
    return str(getattr(err, "reason", None) or err)


def _not_downloadable(entry: WeightsEntry, paths: CachePaths, failures: list[str]) -> str:
    """What to do when no URL could be read: where to put the file by hand, and the alternatives."""
    gzipped = paths.record is not None
    if entry.pinned and gzipped and paths.unpacked.is_file():
        opening = (f"pretrained weights {entry.name!r}: {paths.unpacked} is in the cache but cannot be verified "
                   f"without the file it was unpacked from, and that file could not be downloaded:")
    else:
        opening = f"pretrained weights {entry.name!r} are not in the cache and could not be downloaded:"
    as_downloaded = "as downloaded (still gzipped: do not gunzip it)" if gzipped else "as downloaded"
    checks = "kaudio checks it against the manifest's ids" if entry.pinned else "kaudio uses it"
    return "\n".join([
        opening,
        *(f"  {failure}" for failure in failures),
        "To install them by hand, download",
        f"  {entry.urls[0]}",
        f"and put the file, {as_downloaded}, at",
        f"  {paths.download}",
        f"(the cache is ${HOME_VARIABLE}/weights, default ~/.cache/kaudio/weights); {checks}"
        f"{' and unpacks it' if gzipped else ''}.",
        "Or:",
        "  - pass the unpacked .h5 file's path instead of the name (weights=PATH in Python, --weights PATH on the "
        "command line); a file passed by path is not verified,",
        f"  - or convert it once with `kaudio convert openl3 FILE.h5 --out NAME.weights.h5 --spec {entry.spec}` "
        f"and pass NAME.weights.h5,",
        "  - or try the tool with random weights: --weights none on the command line, weights=None in Python.",
    ])


def _megabytes(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:.1f} MB"
