"""Loading weights into a kaudio backbone from a pretrained name or from a file.

Two file kinds are read, told apart by their content:

* ``openl3_h5`` — a released OpenL3 file (Keras-2 ``save_weights`` HDF5 with the root attribute
  ``layer_names``), mapped by position with shape checks, as openl3's ``load_weights`` does
  (:mod:`kaudio.convert.openl3`);
* ``kaudio_weights_h5`` — a Keras 3 ``backbone.save_weights("NAME.weights.h5")`` file (for example
  the output of ``kaudio convert openl3``), restored by Keras by layer path.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import keras

from kaudio.convert.openl3 import load_openl3_weights
from kaudio.errors import WeightsError
from kaudio.pretrained.cache import cached_files, fetch
from kaudio.pretrained.manifest import Manifest, load_manifest
from kaudio.spec.schema import did_you_mean

KERAS_WEIGHTS_SUFFIX = ".weights.h5"
_KERAS_DETAIL_LIMIT = 400


def weights_file_format(path: str | os.PathLike) -> str:
    """``"openl3_h5"`` or ``"kaudio_weights_h5"`` for a weights file, judged by its content.

    Raises:
        WeightsError: the file is missing, not HDF5, or neither kind (the message says what each kind looks like).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"no such weights file: {path}")
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        raise WeightsError(f"{path}: not a readable HDF5 file ({err}); expected an OpenL3 .h5 file or a kaudio "
                           f"{KERAS_WEIGHTS_SUFFIX} file") from err
    with file:
        if "layer_names" in file.attrs:
            return "openl3_h5"
        keras3_layout = "layers" in file or "vars" in file
    if keras3_layout and path.name.endswith(KERAS_WEIGHTS_SUFFIX):
        return "kaudio_weights_h5"
    if keras3_layout:
        raise WeightsError(f"{path}: a Keras 3 weights file, but Keras only reads such files under a name ending in "
                           f"{KERAS_WEIGHTS_SUFFIX}; rename it")
    raise WeightsError(f"{path}: neither an OpenL3 .h5 weights file (root attribute 'layer_names') nor a kaudio "
                       f"{KERAS_WEIGHTS_SUFFIX} file (written by backbone.save_weights)")


def load_backbone_weights(backbone: keras.Model, source: str | os.PathLike, *, manifest: Manifest | None = None,
                          progress: bool = True) -> Path:
    """Load pretrained weights into ``backbone`` and return the file they came from.

    Args:
        backbone: an L3 backbone (``model.backbone`` of a built spec).
        source: a manifest name (``"openl3_audio_mel256_music"``; fetched into the cache on first
            use, :func:`kaudio.pretrained.fetch`) or the path of an OpenL3 ``.h5`` or a kaudio
            ``.weights.h5`` file.
        manifest: ``{name: WeightsEntry}`` to use instead of the shipped manifest.
        progress: show download progress on stderr.

    Raises:
        WeightsError: unknown name or missing file, a file of the wrong kind or unreadable, or
            weights that do not fit the backbone (layer count or shapes). On error the backbone
            keeps its previous weights.
    """
    if isinstance(source, str) and not looks_like_path(source):
        manifest = load_manifest() if manifest is None else manifest
        if source not in manifest:
            raise WeightsError(f"no pretrained weights called {source!r}{did_you_mean(source, manifest)} and no such "
                               f"file; pretrained names: {', '.join(manifest)}")
        entry = manifest[source]
        path = fetch(source, progress=progress, manifest=manifest)
        try:
            file_format = weights_file_format(path)
            if file_format != entry.format:
                raise WeightsError(f"{path}: the manifest says {entry.format}, the file is {file_format}")
            _load_file(backbone, path, file_format)
        except WeightsError as err:
            files = " and ".join(str(file) for file in cached_files(entry))
            raise WeightsError(f"{err}\n(the file is the cached download of {source!r}: delete {files} to download "
                               f"it again)") from err
        return path
    path = Path(source)
    _load_file(backbone, path, weights_file_format(path))
    return path


def looks_like_path(source: str) -> bool:
    """Manifest names are bare words; anything with a folder, a suffix or that exists on disk is a path."""
    return not re.fullmatch(r"[a-z0-9_]+", source) or os.path.exists(source)


def _load_file(backbone: keras.Model, path: Path, file_format: str) -> None:
    if file_format == "openl3_h5":
        load_openl3_weights(backbone, path)
    else:
        _load_keras_weights(backbone, path)


def _load_keras_weights(backbone: keras.Model, path: Path) -> None:
    """``backbone.load_weights(path)``; on failure restore the previous weights and raise WeightsError."""
    previous = backbone.get_weights()
    try:
        backbone.load_weights(path)
    except (ValueError, KeyError, OSError) as err:
        backbone.set_weights(previous)
        raise WeightsError(f"{path}: does not fit the kaudio backbone {backbone.name!r} ({type(backbone).__name__}): "
                           f"{_keras_detail(err)}") from err


def _keras_detail(err: Exception) -> str:
    """Keras's loading error without the dumped variable values."""
    text = " ".join(str(err).split())
    for cut in (" Target variable:", " List of objects"):
        text = text.split(cut)[0]
    return text[:_KERAS_DETAIL_LIMIT]
