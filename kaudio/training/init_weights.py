"""Initialise a model's backbone from a saved model (``train.init_weights``; Zhong et al. §4.2).

The paper fine-tunes CNN14 pretrained on AudioSet. With kaudio that is one spec key::

    kaudio convert panns Cnn14_16k_mAP=0.438.pth --arch cnn14_16k --out cnn14_16k.keras
    kaudio train openmic_cnn14_resatt --data DIR --set train.init_weights=cnn14_16k.keras

:func:`init_backbone` loads the ``.keras`` file (any :class:`~kaudio.models.KaudioModel`: a
converted PANNs tagger, a built model, a run's ``best.keras``), takes its ``backbone`` sub-model and
copies the weights into the new model's backbone layer by layer, matched by layer name, every
weight's shape checked (:func:`copy_section_weights`). All mismatches are reported together and
nothing is copied unless everything matches. The head and the front end are left alone.

The front ends may differ (a 32 kHz checkpoint into a 16 kHz spec) as long as the backbone shapes
match — for ``panns_cnn`` they do, bn0 has one statistic per mel bin and both PANNs presets have
64 — but the pretrained filters then see features they were not trained on, so a
:class:`~kaudio.errors.KaudioWarning` names every differing front-end key.
"""
from __future__ import annotations

import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import keras

from kaudio.errors import KaudioError, KaudioWarning

#: Keys of the ``input`` section that shape what the front end computes.
_INPUT_KEYS_OF_FRONTEND = ("sample_rate",)


@dataclass
class InitReport:
    """What :func:`init_backbone` did.

    Attributes:
        source: the ``.keras`` file.
        layers: names of the backbone layers whose weights were copied.
        n_weights: number of weight tensors copied (trainable and BatchNorm moving statistics).
        frontend_differences: ``"key: source → target"`` for every front-end key that differs.
    """

    source: Path
    layers: list[str] = field(default_factory=list)
    n_weights: int = 0
    frontend_differences: list[str] = field(default_factory=list)


def load_source_model(path: "str | os.PathLike", key: str = "train.init_weights") -> keras.Model:
    """``keras.models.load_model(path, compile=False)`` with kaudio's layers registered; KaudioError if unreadable
    (the message starts with ``key``, the spec key that named the file)."""
    from kaudio import registry

    registry.load_components()  # kaudio's layers must be registered with Keras before loading

    path = Path(path)
    if not path.is_file():
        raise KaudioError(f"{key}: no such file {path}")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):  # Keras would say "File not found" for it
        raise KaudioError(f"{key}: {path} is not a Keras archive (a .keras file is a zip file; this one is corrupt, "
                          "truncated or of another format): save the model again with model.save(...)")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as err:  # noqa: BLE001  Keras raises ValueError, TypeError, KeyError, AttributeError,
        # OSError (h5py) and zipfile.BadZipFile for a corrupt, foreign or incompatible archive, with no common base
        raise KaudioError(f"{key}: cannot load {path} as a Keras model: {err}") from err


def source_section(model: keras.Model, path: "str | os.PathLike" = "the source model",
                   section: str = "backbone") -> keras.Model:
    """The ``backbone`` (or ``head``) sub-model of a loaded model (``KaudioModel.backbone``)."""
    sub_model = next((layer for layer in model.layers if layer.name == section), None)
    if sub_model is None:
        names = ", ".join(layer.name for layer in model.layers)
        raise KaudioError(f"train.init_weights: {path} has no '{section}' sub-model (its layers: {names}); give a "
                          "model built by kaudio (kaudio build / kaudio convert panns / a run's best.keras)")
    return sub_model


def _weighted_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    return {layer.name: layer for layer in model.layers if layer.weights}


def copy_section_weights(source: keras.Model, target: keras.Model, section: str = "backbone") -> list[str]:
    """Copy every weight of ``source``'s layers into the layers of ``target`` with the same names.

    Both are ``section`` sub-models (``KaudioModel.backbone``, or ``.head`` with ``init_head``). The
    layers with weights must correspond one to one by name, with the same class and the same weight
    shapes (BatchNorm moving statistics included); otherwise nothing is copied.

    Returns:
        The names of the layers copied, in ``target``'s order.

    Raises:
        KaudioError: listing every missing, extra or mismatched layer.
    """
    src, dst = _weighted_layers(source), _weighted_layers(target)
    problems = []
    missing = [name for name in dst if name not in src]
    extra = [name for name in src if name not in dst]
    if missing:
        problems.append(f"layers of the new {section} that the source lacks: {', '.join(missing)}")
    if extra:
        problems.append(f"layers of the source {section} that the new one lacks: {', '.join(extra)}")
    for name, layer in dst.items():
        if name not in src:
            continue
        other = src[name]
        if type(other).__name__ != type(layer).__name__:
            problems.append(f"{name}: source is a {type(other).__name__}, the new {section} has a "
                            f"{type(layer).__name__}")
            continue
        src_shapes = [tuple(w.shape) for w in other.weights]
        dst_shapes = [tuple(w.shape) for w in layer.weights]
        if src_shapes != dst_shapes:
            problems.append(f"{name}: weight shapes {src_shapes} in the source, {dst_shapes} in the new {section}")
    if problems:
        raise KaudioError(f"train.init_weights: the source {section} does not fit this spec's {section} "
                          f"({len(problems)} problem{'s' if len(problems) > 1 else ''}; nothing was copied):\n  - "
                          + "\n  - ".join(problems)
                          + (f"\nGive a model whose {section} section matches (same type, filters, embedding_size)."
                             if section == "backbone" else "\nGive a model with the same head (type, classes, sizes) "
                             "or set train.init_head: false"))
    for name, layer in dst.items():
        layer.set_weights(src[name].get_weights())
    return list(dst)


def _flatten(section: dict | None, prefix: str) -> dict[str, object]:
    out = {}
    for key, value in (section or {}).items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}.{key}"))
        else:
            out[f"{prefix}.{key}"] = value
    return out


def frontend_differences(source_spec, target_spec) -> list[str]:
    """``"key: source → target"`` for each front-end key (and ``input.sample_rate``) that differs.

    Both arguments are :class:`~kaudio.spec.Spec` objects (``model.spec``).
    """
    def keys(spec) -> dict[str, object]:
        out = {f"input.{key}": spec.input.get(key) for key in _INPUT_KEYS_OF_FRONTEND if key in spec.input}
        out.update(_flatten(spec.frontend, "frontend"))
        return out

    src, dst = keys(source_spec), keys(target_spec)
    missing = object()
    return [f"{key}: {src.get(key, 'absent')!r} → {dst.get(key, 'absent')!r}"
            for key in list(dict.fromkeys([*src, *dst])) if src.get(key, missing) != dst.get(key, missing)]


def init_backbone(model, path: "str | os.PathLike", head: bool = False) -> InitReport:
    """Copy the backbone weights of the ``.keras`` model at ``path`` into ``model.backbone`` (and with
    ``head`` its head's into ``model.head``: the whole network, e.g. continual fine-tuning of a
    sub-network extracted from a once-for-all supernet, Lin et al. ICASSP 2023, Table 2).

    Args:
        model: a :class:`~kaudio.models.KaudioModel` (the model about to be trained).
        path: a ``.keras`` model built by kaudio (``kaudio convert panns``, ``kaudio build``, a run's
            ``best.keras``).

    Returns:
        An :class:`InitReport`. Warns (:class:`~kaudio.errors.KaudioWarning`) when the source's front
        end differs from ``model``'s.

    Raises:
        KaudioError: the file cannot be loaded, has no backbone (head), or its backbone (head) does not fit.
    """
    path = Path(path)
    source = load_source_model(path)
    copied = copy_section_weights(source_section(source, path), model.backbone)
    report = InitReport(path, copied, sum(len(model.backbone.get_layer(name).weights) for name in copied))
    if head:  # a head that does not fit raises (nothing of it copied) and the run does not start
        head_layers = copy_section_weights(source_section(source, path, "head"), model.head, "head")
        report.layers += [f"head/{name}" for name in head_layers]
        report.n_weights += sum(len(model.head.get_layer(name).weights) for name in head_layers)
    source_spec = getattr(source, "spec", None)
    if source_spec is not None:
        report.frontend_differences = frontend_differences(source_spec, model.spec)
        if report.frontend_differences:
            warnings.warn(f"train.init_weights: {path.name} was built for another front end "
                          f"({'; '.join(report.frontend_differences)}); its backbone shapes match, so the weights "
                          "were copied, but they were trained on different features", KaudioWarning, stacklevel=2)
    del source
    return report
