"""Named embedding models (``openl3_mel256_music`` …) and the cached model loader.

The names are the OpenL3 backbone presets (:mod:`kaudio.models.l3.l3_presets`, the one table of
OpenL3 networks): each maps to a bundled spec (the network and its pooling head), the pretrained
weights that fit it, and the embedding sizes its head offers. Names follow openl3's
``(input_repr, content_type)`` grid:

* audio: ``openl3_{linear,mel128,mel256}_{music,env}`` — the front end the weights were trained
  with (preset ``openl3``); add ``_v04`` for openl3 0.4.x's front end (to match its embeddings);
* image: ``openl3_image_{linear,mel128,mel256}_{music,env}`` — the vision network co-trained with
  that audio network.

A model can be built under a Keras dtype policy (``dtype_policy="mixed_bfloat16"``: bfloat16
compute, float32 weights; :mod:`kaudio.dtypes`); the front end keeps its own precision.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from kaudio.errors import KaudioError

DEFAULT_AUDIO_MODEL = "openl3_mel256_music"
DEFAULT_IMAGE_MODEL = "openl3_image_mel256_music"


@dataclass(frozen=True)
class EmbeddingModelInfo:
    """What a model name stands for."""

    name: str
    modality: str  # "audio" or "image"
    spec: str  # bundled spec name
    overrides: tuple[str, ...]  # --set style overrides applied to the spec (besides the embedding size)
    pretrained: str  # name in pretrained/manifest.yaml
    input_repr: str
    content_type: str


def _catalogue() -> dict[str, EmbeddingModelInfo]:
    """One model per OpenL3 preset."""
    from kaudio.models.l3.l3_presets import PRESETS

    return {name: EmbeddingModelInfo(name, p.modality, p.spec, tuple(p.overrides), p.weights, p.input_repr,
                                     p.content_type) for name, p in PRESETS.items()}


#: ``{name: EmbeddingModelInfo}``, derived from the OpenL3 presets (:mod:`kaudio.models.l3.l3_presets`).
MODELS: dict[str, EmbeddingModelInfo] = _catalogue()


def model_info(name: str, modality: str | None = None) -> EmbeddingModelInfo:
    """Look a model name up; the error lists the valid names (of ``modality`` if given)."""
    info = MODELS.get(name) if isinstance(name, str) else None
    if info is None or (modality and info.modality != modality):
        from kaudio.spec.schema import did_you_mean

        valid = [n for n, i in MODELS.items() if not modality or i.modality == modality]
        hint = did_you_mean(name, valid) if isinstance(name, str) else ""
        what = f"{modality} embedding model" if modality else "embedding model"
        raise KaudioError(f"unknown {what} {name!r}{hint}; valid models: {', '.join(valid)}")
    return info


def embedding_sizes(name: str) -> list[int]:
    """Embedding sizes the model offers (from its spec's ``head.pool_sizes``)."""
    from kaudio.spec import load_spec

    info = model_info(name)
    return sorted(load_spec(info.spec).head["pool_sizes"], reverse=True)


def check_embedding_size(name: str, embedding_size) -> int:
    """``embedding_size`` if the model offers it (``None`` = the largest), else a :class:`KaudioError`."""
    sizes = embedding_sizes(name)
    if embedding_size is None:
        return sizes[0]
    if isinstance(embedding_size, bool) or not isinstance(embedding_size, int) or embedding_size not in sizes:
        raise KaudioError(f"embedding_size {embedding_size!r} is not offered by {name}; choose one of "
                          f"{', '.join(map(str, sizes))}")
    return embedding_size


def model_spec(name: str, embedding_size: int):
    """The validated spec of ``name`` with ``embedding_size`` (what :func:`load_embedding_model` builds)."""
    from kaudio.spec import load_spec

    info = model_info(name)
    return load_spec(info.spec, list(info.overrides) + [f"head.embedding_size={embedding_size}"])


_CACHE: dict[tuple, object] = {}
_LOCK = threading.Lock()
PRETRAINED = "pretrained"


def load_embedding_model(model: str = DEFAULT_AUDIO_MODEL, embedding_size: int | None = None,
                         weights: "str | os.PathLike | None" = PRETRAINED, dtype_policy=None):
    """Build (once) and return the Keras model for ``model`` with ``embedding_size``.

    Args:
        model: a name from :data:`MODELS`.
        embedding_size: 6144 or 512 for audio, 8192 or 512 for images (default: the largest).
        weights: ``"pretrained"`` (the model's released weights, fetched into the cache on first
            use), a path to a weight file (an OpenL3 ``.h5`` or a kaudio ``.weights.h5``), or
            ``None`` for randomly initialised weights. There is no silent fallback: missing
            pretrained weights raise :class:`~kaudio.errors.WeightsError`.
        dtype_policy: a Keras dtype policy (``"mixed_bfloat16"``, ``"float32"``, a
            ``keras.DTypePolicy``; :data:`kaudio.dtypes.POLICY_NAMES`) every layer is built under;
            ``None``: the policy in force (float32 unless changed). The front end keeps its
            ``precision`` (float64 for OpenL3) and the weights stay float32 under ``mixed_*``.

    The model is cached per (model, embedding_size, weights, dtype policy): repeated calls return
    the same object, so its traced inference function is reused.

    Raises:
        KaudioError: an unknown model, size or dtype policy.
    """
    from kaudio.dtypes import policy_config

    info = model_info(model)
    embedding_size = check_embedding_size(model, embedding_size)
    policy = policy_config(dtype_policy)
    weights_key = str(Path(weights).resolve()) if isinstance(weights, (str, os.PathLike)) and weights != PRETRAINED else weights
    key = (info.name, embedding_size, weights_key, policy if isinstance(policy, str) else repr(policy))
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = _build(info, embedding_size, weights, policy)
            _CACHE[key] = cached
    return cached


def _build(info: EmbeddingModelInfo, embedding_size: int, weights, dtype_policy):
    from kaudio.builder import build
    from kaudio.dtypes import dtype_policy_scope

    with dtype_policy_scope(dtype_policy):
        model = build(model_spec(info.name, embedding_size))
    if weights is not None:
        from kaudio import pretrained

        source = info.pretrained if weights == PRETRAINED else weights
        pretrained.load_backbone_weights(model.backbone, source)
    model.embedding_info = info
    model.weights_source = weights
    return model


def clear_cache() -> None:
    """Forget every cached model (frees memory; the next call rebuilds)."""
    with _LOCK:
        _CACHE.clear()
