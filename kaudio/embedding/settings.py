"""What an embedding file was made with, stored in the ``.npz`` beside openl3's keys.

Every ``.npz`` that kaudio writes holds, next to ``embedding`` (and ``timestamps``), one scalar
per setting that changes the numbers:

| key | value |
| --- | --- |
| ``model`` | the embedding model name, e.g. ``openl3_mel256_music`` |
| ``embedding_size`` | 6144, 512, 8192 … |
| ``hop_size``, ``center``, ``mode`` | audio framing (audio outputs only) |
| ``frontend`` | the front-end preset of the model's spec (``openl3``, ``openl3_v04``; ``none`` for images) |
| ``weights`` | ``random``, ``pretrained <name> git-blob <sha1>`` (or ``sha256 <hex>``), or ``file sha256 <hex>`` |
| ``kaudio_version`` | the version that wrote the file (informative, never compared) |

An existing output is skipped only when every compared setting matches; otherwise the writer
refuses with a message naming each difference and the way to replace the file (``--overwrite``
on the command line, ``overwrite=True`` in Python). A file without these keys (written by openl3
or by a kaudio older than this format) is refused the same way: nothing says what it holds.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kaudio.errors import OutputError, WeightsError
from kaudio.pretrained.loading import looks_like_path

MODES = ("exact", "fast")
VERSION_KEY = "kaudio_version"


@dataclass(frozen=True)
class EmbeddingSettings:
    """The settings of one kind of output (audio or image); ``None`` fields do not apply."""

    model: str
    embedding_size: int
    frontend: str
    weights: str
    hop_size: float | None = None
    center: bool | None = None
    mode: str | None = None

    def items(self) -> dict[str, Any]:
        """The compared settings that apply, in a fixed order."""
        values = dict(model=self.model, embedding_size=self.embedding_size, hop_size=self.hop_size,
                      center=self.center, mode=self.mode, frontend=self.frontend, weights=self.weights)
        return {key: value for key, value in values.items() if value is not None}

    def arrays(self) -> dict[str, np.ndarray]:
        """The ``.npz`` entries (0-d arrays; strings as unicode, so no pickling is needed to read them)."""
        from kaudio.version import __version__

        return {**{key: np.asarray(value) for key, value in self.items().items()},
                VERSION_KEY: np.asarray(__version__)}

    def differences(self, stored: dict[str, Any]) -> list[str]:
        """``"key: file has A, this run B"`` for every compared setting that differs from ``stored``."""
        out = []
        for key, wanted in self.items().items():
            if key not in stored:
                out.append(f"{key}: not recorded in the file, this run {_show(wanted)}")
            elif not _same(stored[key], wanted):
                out.append(f"{key}: file has {_show(stored[key])}, this run {_show(wanted)}")
        return out


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(stored, (bool, np.bool_)):
        return isinstance(stored, (bool, np.bool_)) and bool(stored) == wanted
    if isinstance(wanted, float):
        return isinstance(stored, (int, float, np.number)) and float(stored) == wanted
    return stored == wanted


def _show(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def read_settings(path: "str | os.PathLike") -> dict[str, Any] | None:
    """The settings stored in an embedding ``.npz`` (``{}`` when it has none), or ``None`` if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key].item() for key in data.files if data[key].ndim == 0}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def existing_output_matches(path: Path, settings: EmbeddingSettings, overwrite_hint: str) -> bool:
    """``False`` if ``path`` does not exist, ``True`` if it holds an output made with ``settings``.

    Raises:
        OutputError: ``path`` exists but was made with other settings, has none recorded, or is not
            readable as an ``.npz`` — the message names every difference and ``overwrite_hint``.
    """
    if not path.exists():
        return False
    if path.is_dir():
        raise OutputError(f"{path} is a folder; an embedding file would be written there")
    stored = read_settings(path)
    if stored is None:
        raise OutputError(f"{path} exists but is not a readable .npz file; {overwrite_hint} replaces it")
    if not any(key in stored for key in settings.items()):
        raise OutputError(f"{path} exists but records no kaudio settings (written by openl3 or an older kaudio), so "
                          f"it cannot be reused safely; {overwrite_hint} replaces it")
    differences = settings.differences(stored)
    if differences:
        raise OutputError(f"{path} exists but was made with other settings ({'; '.join(differences)}); "
                          f"{overwrite_hint} replaces it, or write to another --output-dir / --suffix")
    return True


# ----------------------------------------------------------------------------------------------
# Building the settings of a call (validating its arguments first)


def audio_settings(model: str, embedding_size: int, hop_size: float, center: bool, mode: str,
                   weights) -> EmbeddingSettings:
    """Validate the arguments of an audio embedding call and return its settings (builds no model).

    Raises:
        KaudioError: unknown model, an embedding size the model does not offer, a bad hop size,
            centring flag or mode, or a weights file that does not exist.
    """
    from kaudio.embedding.audio import check_hop_size
    from kaudio.embedding.models import check_embedding_size, model_info, model_spec
    from kaudio.errors import InputError

    info = model_info(model, modality="audio")
    check_embedding_size(model, embedding_size)
    spec = model_spec(model, embedding_size)
    check_hop_size(hop_size, spec.input["sample_rate"])
    if center not in (True, False):
        raise InputError(f"center must be True or False, got {center!r}")
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return EmbeddingSettings(model=info.name, embedding_size=int(embedding_size), frontend=_preset(spec),
                             weights=weights_identity(info, weights), hop_size=float(hop_size), center=bool(center),
                             mode=mode)


def image_settings(model: str, embedding_size: int, weights) -> EmbeddingSettings:
    """Like :func:`audio_settings` for an image model."""
    from kaudio.embedding.models import check_embedding_size, model_info

    info = model_info(model, modality="image")
    check_embedding_size(model, embedding_size)
    return EmbeddingSettings(model=info.name, embedding_size=int(embedding_size), frontend="none",
                             weights=weights_identity(info, weights))


def _preset(spec) -> str:
    frontend = spec.frontend
    if not frontend:
        return "none"
    return str(frontend.get("preset") or frontend["type"])


def weights_identity(info, weights) -> str:
    """What identifies the weights: ``random``, the pinned id of the pretrained file, or a file's sha256."""
    from kaudio.embedding.models import PRETRAINED

    if weights is None:
        return "random"
    if isinstance(weights, str) and (weights == PRETRAINED or not looks_like_path(weights)):
        from kaudio.pretrained import find_entry

        entry = find_entry(info.pretrained if weights == PRETRAINED else weights)
        blob = getattr(entry, "git_blob_sha1", None)
        if blob:
            return f"pretrained {entry.name} git-blob {blob}"
        return f"pretrained {entry.name}" + (f" sha256 {entry.sha256}" if entry.sha256 else "")
    if not isinstance(weights, (str, os.PathLike)):
        raise WeightsError(f"weights must be 'pretrained', a weight file path or None (random), got {weights!r}")
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsError(f"no such weights file: {path} (weights: 'pretrained', a file path, or None / "
                           "--weights none for random weights)")
    return f"file sha256 {file_sha256(path)}"


def file_sha256(path: "str | os.PathLike") -> str:
    """The sha256 (hex) of a file, remembered per (path, size, modification time)."""
    path = Path(path)
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
