"""kaudio: audio models described by YAML specs, built as Keras 3 functional models.

    import kaudio
    model = kaudio.build("l3_m256")          # bundled spec, or a path to a YAML file
    spec = kaudio.load_spec("l3_m256", ["head.embedding_size=512"])

The public names below are imported on first use, so ``import kaudio`` does not import
TensorFlow (the command line starts fast). ``import kaudio`` is still all ``keras.models.load_model``
needs to find kaudio's classes: they are registered as soon as Keras is imported
(:mod:`kaudio.keras_registration`).
"""
from __future__ import annotations

import importlib

from kaudio.version import __version__
from kaudio.errors import KaudioError, SpecError, SpecProblem

#: Public name → the module that defines it (imported on first access).
_LAZY_ATTRIBUTES = {
    "KaudioModel": "kaudio.models.kaudio_model",
    "Spec": "kaudio.spec.validate",
    "load_spec": "kaudio.spec.validate",
    "build": "kaudio.builder",
    "model_card": "kaudio.card",
    "embed": "kaudio.embedding.audio",
    "embed_file": "kaudio.embedding.audio_files",
    "embed_image": "kaudio.embedding.image",
    "embed_image_file": "kaudio.embedding.image",
    "embed_video": "kaudio.embedding.video",
    "embed_video_file": "kaudio.embedding.video",
    "load_embedding_model": "kaudio.embedding.models",
    "fit": "kaudio.training.fit",
}
_SUBPACKAGES = ("blocks", "cli", "convert", "data", "downstream", "embedding", "frontends", "heads", "hear", "hierarchy",
                "layers", "losses", "metrics", "models", "pretrained", "registry", "spec", "training")

__all__ = ["KaudioError", "KaudioModel", "Spec", "SpecError", "SpecProblem", "__version__", "build", "embed",
           "embed_file", "embed_image", "embed_image_file", "embed_video", "embed_video_file", "fit",
           "load_embedding_model", "load_spec", "model_card"]


def __getattr__(name: str):
    if name in _LAZY_ATTRIBUTES:
        value = getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"kaudio.{name}")
    else:
        raise AttributeError(f"module 'kaudio' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_ATTRIBUTES) | set(_SUBPACKAGES))


from kaudio.keras_registration import register_with_keras  # noqa: E402

register_with_keras()
