"""The local weights cache and the downloader behind :func:`fetch`.

Weights live in ``<cache>/weights/<file>``, where ``<cache>`` is ``$KAUDIO_HOME`` or
``~/.cache/kaudio``. A download goes to a hidden temporary file in the same folder, is checked
(complete, sha256 when the manifest pins one, valid gzip) and decompressed, and only then moved
into place with ``os.replace``: a failed, corrupt or partial download never leaves a file at
the final path.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from kaudio.errors import WeightsError
from kaudio.pretrained.manifest import Manifest, WeightsEntry, find_entry

HOME_VARIABLE = "KAUDIO_HOME"
DOWNLOAD_TIMEOUT_S = 60
CHUNK_BYTES = 1 << 20


def cache_dir() -> Path:
    """``$KAUDIO_HOME`` if set (and not empty), else ``~/.cache/kaudio``."""
    home = os.environ.get(HOME_VARIABLE)
    return Path(home).expanduser() if home else Path.home() / ".cache" / "kaudio"


def weights_dir() -> Path:
    """The folder holding downloaded weight files: ``cache_dir() / "weights"``."""
    return cache_dir() / "weights"


def fetch(name: str, progress: bool = True, manifest: Manifest | None = None) -> Path:
    """The local, ready-to-load file of the pretrained weights ``name``, downloading it on first use.

    Args:
        name: a manifest name, e.g. ``"openl3_audio_mel256_music"``.
        progress: show a download progress line on stderr.
        manifest: ``{name: WeightsEntry}`` to use instead of the shipped manifest.

    Raises:
        WeightsError: unknown name; the download failed (the message says which file to fetch
            from where and the exact path to put it at); the download was corrupt (sha256
            mismatch, truncated or invalid gzip) — nothing is left at the final path.
    """
    entry = find_entry(name, manifest)
    target = weights_dir() / entry.file
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WeightsError(f"cannot create the weights cache folder {target.parent}: {err}; "
                           f"set {HOME_VARIABLE} to a writable folder") from None
    failures = []
    for url in entry.urls:
        try:
            _download_into_place(entry, url, target, progress)
        except _DownloadFailed as failure:
            failures.append(f"{url}: {failure}")
            continue
        return target
    raise WeightsError(_not_downloadable(entry, target, failures))


class _DownloadFailed(Exception):
    """The URL could not be read to the end (network, HTTP error, missing file); try the next one."""


def _download_into_place(entry: WeightsEntry, url: str, target: Path, progress: bool) -> None:
    temporaries = []
    try:
        downloaded = _temporary_beside(target, ".download", temporaries)
        digest = _download(url, downloaded, progress)
        if entry.sha256 is not None and digest != entry.sha256:
            raise WeightsError(f"the download of {entry.name!r} from {url} is corrupt: sha256 {digest}, the manifest "
                               f"expects {entry.sha256}; nothing was written to {target}. Try again; if it keeps "
                               f"failing, download the file by hand (see the manifest entry's urls) and check it")
        ready = downloaded
        if entry.compression == "gzip":
            ready = _temporary_beside(target, ".unpacked", temporaries)
            _gunzip(downloaded, ready, entry, url, target)
        os.replace(ready, target)
    finally:
        for path in temporaries:
            path.unlink(missing_ok=True)
    if entry.sha256 is None:
        print(f"kaudio: downloaded {url}\n  sha256 {digest} (not pinned in the manifest; the file is checked "
              f"structurally when loaded — a maintainer who has checked it pins it as `sha256: {digest}`)",
              file=sys.stderr)


def _temporary_beside(target: Path, suffix: str, temporaries: list[Path]) -> Path:
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(handle)
    temporaries.append(Path(name))
    return Path(name)


def _download(url: str, destination: Path, progress: bool) -> str:
    """Stream ``url`` into ``destination``; return the sha256 of the bytes received."""
    try:
        response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _DownloadFailed(_reason(err)) from None
    digest = hashlib.sha256()
    received = 0
    with response, destination.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        bar = _ProgressBar(url.rsplit("/", 1)[-1], total) if progress else None
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as err:
                raise _DownloadFailed(f"connection lost after {received} bytes ({_reason(err)})") from None
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            if bar:
                bar.update(received)
        if bar:
            bar.close(received)
    if total is not None and received < total:
        raise _DownloadFailed(f"the connection closed after {received} of {total} bytes")
    return digest.hexdigest()


def _gunzip(source: Path, destination: Path, entry: WeightsEntry, url: str, target: Path) -> None:
    try:
        with gzip.open(source, "rb") as packed, destination.open("wb") as out:
            shutil.copyfileobj(packed, out, CHUNK_BYTES)
    except (OSError, EOFError, zlib.error) as err:
        raise WeightsError(f"the download of {entry.name!r} from {url} is not a complete gzip file ({err}); "
                           f"nothing was written to {target}. Try again; if it keeps failing, download the file "
                           f"by hand") from None


def _reason(err: BaseException) -> str:
    return str(getattr(err, "reason", None) or err)


def _not_downloadable(entry: WeightsEntry, target: Path, failures: list[str]) -> str:
    unpack = "gunzip it and " if entry.compression == "gzip" else ""
    return "\n".join([
        f"pretrained weights {entry.name!r} are not in the cache and could not be downloaded:",
        *(f"  {failure}" for failure in failures),
        "To install them by hand, download",
        f"  {entry.urls[0]}",
        f"{unpack}put the file at",
        f"  {target}",
        f"(the cache is ${HOME_VARIABLE}/weights, default ~/.cache/kaudio/weights). Or pass that file's path "
        f"instead of the name (weights=PATH in Python, --weights PATH on the command line), or convert it once with `kaudio convert openl3 FILE.h5 "
        f"--out NAME.weights.h5 --spec {entry.spec}` and pass NAME.weights.h5.",
    ])


class _ProgressBar:
    """Download progress on stderr: one line redrawn in place on a terminal, a single summary line otherwise."""

    REDRAW_INTERVAL_S = 0.2

    def __init__(self, label: str, total: int | None):
        self.label = label
        self.total = total
        self.interactive = sys.stderr.isatty()
        self.last_drawn = 0.0

    def update(self, received: int) -> None:
        now = time.monotonic()
        if self.interactive and now - self.last_drawn >= self.REDRAW_INTERVAL_S:
            self.last_drawn = now
            print(f"\r{self._line(received)}", end="", file=sys.stderr, flush=True)

    def close(self, received: int) -> None:
        print(f"\r{self._line(received)}" if self.interactive else self._line(received), file=sys.stderr, flush=True)

    def _line(self, received: int) -> str:
        done = f"{received / 1e6:.1f}"
        if self.total:
            return f"downloading {self.label}: {done}/{self.total / 1e6:.1f} MB ({100 * received // self.total}%)"
        return f"downloading {self.label}: {done} MB"
