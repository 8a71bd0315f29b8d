"""Read the released OpenL3 weight files (``.h5``) and map them onto kaudio's L3 backbones.

Facts used (from ``marl/openl3``: ``openl3/models.py``, ``tests/package_weights.py`` and
``tests/migration/remove_layers.py``, ``tests/migration/README.md``):

* The files are Keras-2 ``save_weights`` HDF5: root attribute ``layer_names`` (every layer, in
  model order); one group per layer with attribute ``weight_names``; each weight is the dataset
  ``group[weight_name]``. Layers without weights have an empty ``weight_names``.
* openl3 loads them by *position* among weighted layers, not by name (Keras auto-names differ
  between versions), so kaudio does too: the i-th weighted group goes to the i-th layer with
  weights in ``backbone.layers`` order, and every array's shape must equal its variable's.
  Names are reported as a cross-check only.
* Audio and image networks have 16 weighted layers: input BN, then (conv, BN) × 7, then the
  linear embedding conv. Conv2D arrays: kernel (3, 3, C_in, C_out), bias; BN arrays: gamma,
  beta, moving_mean, moving_variance (Keras order, the same as kaudio's layers).
* v0.2.0 files hold one more weighted group first: the kapre 0.1.4 front end (DFT kernels of
  shape (n_fft, 1, 1, n_fft//2 + 1) × 2, plus an (n_fft//2 + 1, n_mels) matrix for mel). kaudio's
  front end has no weights, so that group is skipped (v0.4.0 files are v0.2.0 files without it).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import keras
import numpy as np

from kaudio.errors import KaudioError, WeightsError
from kaudio.models.l3.l3_presets import spec_by_file_name_word

WeightGroup = tuple[str, list[np.ndarray]]  # (layer name in the file, its arrays in file order)

#: Bundled specs a file name points to; the first word found wins ("openl3_image_mel256_music" → l3_image).
#: Derived from the OpenL3 presets (:mod:`kaudio.models.l3.l3_presets`).
SPEC_BY_FILE_NAME_WORD: tuple[tuple[str, str], ...] = spec_by_file_name_word()


@dataclass(frozen=True)
class LayerMatch:
    """One weighted layer mapped from the file onto the backbone (``position`` counts from 1)."""

    position: int
    file_layer: str
    kaudio_layer: str
    shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class OpenL3Mapping:
    """What :func:`load_openl3_weights` did: the file, each matched layer, and notes (skipped groups)."""

    path: Path
    matches: tuple[LayerMatch, ...]
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line per matched layer (``position  file layer -> kaudio layer  shapes``), then the notes."""
        file_width = max((len(m.file_layer) for m in self.matches), default=0)
        kaudio_width = max((len(m.kaudio_layer) for m in self.matches), default=0)
        lines = [f"{m.position:>3}  {m.file_layer:<{file_width}} -> {m.kaudio_layer:<{kaudio_width}}  "
                 f"{_format_shapes(m.shapes)}" for m in self.matches]
        return "\n".join(lines + [f"note: {note}" for note in self.notes])


def is_openl3_h5(path: str | os.PathLike) -> bool:
    """True for a readable HDF5 file with the Keras-2 ``save_weights`` root attribute ``layer_names``."""
    try:
        with h5py.File(path, "r") as file:
            return "layer_names" in file.attrs
    except OSError:
        return False


def read_openl3_h5(path: str | os.PathLike) -> list[WeightGroup]:
    """The weighted layers of a Keras-2 ``save_weights`` file, in file order: ``[(layer_name, [arrays])]``.

    Raises:
        WeightsError: missing or unreadable file, no ``layer_names`` attribute, or a layer group /
            weight dataset named in the attributes but absent.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"no such OpenL3 weights file: {path}")
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        raise WeightsError(f"{path}: not a readable HDF5 file ({err}); expected an OpenL3 .h5 weights file") from err
    with file:
        if "layer_names" not in file.attrs:
            raise WeightsError(f"{path}: not a Keras-2 save_weights file (no root attribute 'layer_names'); "
                               f"expected an OpenL3 .h5 weights file")
        groups = []
        for layer_name in map(_text, file.attrs["layer_names"]):
            if layer_name not in file:
                raise WeightsError(f"{path}: layer {layer_name!r} is listed in 'layer_names' but has no group; "
                                   f"the file is damaged")
            group = file[layer_name]
            weight_names = [_text(w) for w in group.attrs.get("weight_names", [])]
            missing = [w for w in weight_names if w not in group]
            if missing:
                raise WeightsError(f"{path}: layer {layer_name!r} lists weights {missing} that are not in the file; "
                                   f"the file is damaged")
            if weight_names:
                groups.append((layer_name, [np.asarray(group[w]) for w in weight_names]))
    return groups


def weighted_layers(backbone: keras.Model) -> list[keras.layers.Layer]:
    """The backbone's layers that own weights, in ``backbone.layers`` (topological) order."""
    return [layer for layer in backbone.layers if layer.weights]


def assign_openl3_weights(backbone: keras.Model, groups: list[WeightGroup], path: str | os.PathLike) -> OpenL3Mapping:
    """Assign ``groups`` (from :func:`read_openl3_h5` of ``path``) to the backbone's weighted layers by position.

    Every count and shape is checked before anything is assigned, so on error the backbone is
    unchanged. A leading kapre 0.1.4 front-end group (v0.2.0 files) is skipped with a note.

    Raises:
        WeightsError: the numbers of weighted layers differ, or an array's shape differs from its
            variable's; the message lists the offending positions with both sides' names and shapes.
    """
    path = Path(path)
    targets = weighted_layers(backbone)
    notes = []
    if len(groups) == len(targets) + 1 and _is_kapre_frontend(groups[0][1]):
        name, arrays = groups[0]
        notes.append(f"skipped {name!r} {_format_shapes(a.shape for a in arrays)}: the kapre 0.1.4 front end of an "
                     f"OpenL3 v0.2.0 file; kaudio's front end has no weights")
        groups = groups[1:]
    where = f"{path}: cannot map the OpenL3 weights onto the kaudio backbone {backbone.name!r} ({type(backbone).__name__})"
    if len(groups) != len(targets):
        raise WeightsError(f"{where}: the file has {len(groups)} weighted layers, the backbone {len(targets)} "
                           f"(weights are matched by position, as openl3's load_weights does). Is this the file for "
                           f"this network?\n{_side_by_side(groups, targets)}")
    mismatches = [i for i, ((_, arrays), layer) in enumerate(zip(groups, targets)) if not _fits(arrays, layer)]
    if mismatches:
        rows = "\n".join(_row(i, groups[i], targets[i]) for i in mismatches)
        raise WeightsError(f"{where}: {len(mismatches)} weighted layer{'s' if len(mismatches) > 1 else ''} "
                           f"differ in shape (position: file layer vs kaudio layer). Is this the file for this "
                           f"network?\n{rows}")
    for (_, arrays), layer in zip(groups, targets):
        for variable, array in zip(layer.weights, arrays):
            variable.assign(array.astype(variable.dtype))
    matches = tuple(LayerMatch(i + 1, name, layer.name, tuple(tuple(a.shape) for a in arrays))
                    for i, ((name, arrays), layer) in enumerate(zip(groups, targets)))
    return OpenL3Mapping(path, matches, tuple(notes))


def load_openl3_weights(backbone: keras.Model, path: str | os.PathLike) -> OpenL3Mapping:
    """Read an OpenL3 ``.h5`` file and assign its weights to ``backbone`` (:func:`assign_openl3_weights`)."""
    return assign_openl3_weights(backbone, read_openl3_h5(path), path)


def spec_for_file(path: str | os.PathLike) -> str | None:
    """The bundled spec an OpenL3 file name points to (``openl3_audio_mel128_env.h5`` → ``l3_m128``), or None."""
    words = set(re.split(r"[^a-z0-9]+", Path(path).name.lower()))
    return next((spec for word, spec in SPEC_BY_FILE_NAME_WORD if word in words), None)


def convert_openl3(src: str | os.PathLike, out: str | os.PathLike, spec: str = "l3_m256") -> OpenL3Mapping:
    """Convert an OpenL3 ``.h5`` file into a kaudio backbone weights file (``out``, ``.weights.h5``).

    Builds the bundled ``spec``'s model, loads ``src`` into ``model.backbone`` (by position with
    shape checks, :func:`assign_openl3_weights`) and writes ``model.backbone.save_weights(out)``,
    which ``backbone.load_weights(out)`` or ``kaudio.pretrained.load_backbone_weights`` read back.

    Raises:
        KaudioError: ``out`` does not end in ``.weights.h5`` or its folder does not exist.
        WeightsError: ``src`` is unreadable or does not fit the spec's backbone.
        SpecError: ``spec`` is not a valid spec.
    """
    from kaudio.builder import build

    out = Path(out)
    if not out.name.endswith(".weights.h5"):
        raise KaudioError(f"the output file must end in .weights.h5 (a Keras 3 weights file), got {str(out)!r}")
    if not out.parent.is_dir():
        raise KaudioError(f"the output folder {str(out.parent)!r} does not exist")
    groups = read_openl3_h5(src)  # a bad file fails before the model is built
    model = build(spec)
    mapping = assign_openl3_weights(model.backbone, groups, src)
    model.backbone.save_weights(out)
    return mapping


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _fits(arrays: list[np.ndarray], layer: keras.layers.Layer) -> bool:
    return len(arrays) == len(layer.weights) and all(
        tuple(a.shape) == tuple(v.shape) for a, v in zip(arrays, layer.weights))


def _is_kapre_frontend(arrays: list[np.ndarray]) -> bool:
    """Two DFT kernels (n_fft, 1, 1, n_fft//2 + 1), optionally a (n_fft//2 + 1, n_mels) mel matrix
    (kapre 0.1.4's ``Spectrogram`` / ``Melspectrogram`` weights)."""
    if len(arrays) not in (2, 3):
        return False
    real, imaginary = arrays[0].shape, arrays[1].shape
    n_fft = real[0] if len(real) == 4 else 0
    if not n_fft or real != (n_fft, 1, 1, n_fft // 2 + 1) or imaginary != real:
        return False
    return len(arrays) == 2 or (arrays[2].ndim == 2 and arrays[2].shape[0] == n_fft // 2 + 1)


def _format_shapes(shapes) -> str:
    return "[" + ", ".join(str(tuple(int(d) for d in s)) for s in shapes) + "]"


def _row(index: int, group: WeightGroup | None, layer: keras.layers.Layer | None) -> str:
    file_side = f"{group[0]} {_format_shapes(a.shape for a in group[1])}" if group else "(none)"
    kaudio_side = f"{layer.name} {_format_shapes(v.shape for v in layer.weights)}" if layer else "(none)"
    return f"  position {index + 1}: file {file_side} vs kaudio {kaudio_side}"


def _side_by_side(groups: list[WeightGroup], targets: list[keras.layers.Layer]) -> str:
    """Every position of the longer list; the first one whose shapes differ is marked."""
    rows = []
    first_difference = None
    for i in range(max(len(groups), len(targets))):
        group = groups[i] if i < len(groups) else None
        layer = targets[i] if i < len(targets) else None
        differs = group is None or layer is None or not _fits(group[1], layer)
        marker = ""
        if differs and first_difference is None:
            first_difference = i
            marker = "   <- first difference"
        rows.append(_row(i, group, layer) + marker)
    return "\n".join(rows)
