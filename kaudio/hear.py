"""The HEAR 2021 common API (https://hearbenchmark.com), so kaudio embeddings can be scored by the
HEAR evaluation kit (``hear-eval-kit``: ``python -m heareval.embeddings.runner kaudio.hear``) and
pass the HEAR submission checker (the ``hearvalidator`` package: ``hear-validator kaudio.hear``).

* ``load_model(model_file_path="", model_name=..., embedding_size=512, *, weights="pretrained")``
  → a :class:`tf.Module` (``kaudio.hear.HearModel``) with ``sample_rate``,
  ``timestamp_embedding_size`` and ``scene_embedding_size``, as the HEAR rules require (the HEAR
  tools accept only a ``tf.Module`` or a ``torch.nn.Module``). Which weights:

  - ``model_file_path``: the argument the HEAR tools pass (``--model``). A non-empty path loads
    that weight file (an OpenL3 ``.h5`` or a kaudio ``.weights.h5``) and wins over ``weights``.
  - ``weights`` (used when ``model_file_path`` is empty): ``"pretrained"`` (default: the model's
    released weights, downloaded into the kaudio cache on first use; missing weights raise
    :class:`~kaudio.errors.WeightsError`, never a silent fallback), the path of a weight file, or
    ``None`` for random weights — to try the API without the download; explicit only.

  The model also carries ``keras_model`` (the Keras embedding model), ``model_name``,
  ``embedding_size``, ``weights`` (what was loaded: ``"pretrained"``, a path, or ``None``) and
  ``hop_size`` (seconds); its ``variables`` are the Keras model's.
* ``get_timestamp_embeddings(audio, model)`` → ``(embeddings (n_sounds, n_timestamps, D),
  timestamps (n_sounds, n_timestamps))`` with timestamps in **milliseconds**, as HEAR requires.
  Windows are centred on the timestamps, exactly 50 ms apart (HEAR asks for at most 50 ms).
* ``get_scene_embeddings(audio, model)`` → ``(n_sounds, D)``: the mean of the timestamp embeddings.

``audio`` is a ``(n_sounds, n_samples)`` float tensor or array at ``model.sample_rate`` in [−1, 1].
Outputs are float32 ``tf.Tensor``.

**Backend**: the module needs the TensorFlow Keras backend (``KERAS_BACKEND=tensorflow``, kaudio's
default). Under another backend (JAX, torch) ``load_model`` raises
:class:`~kaudio.errors.KaudioError` rather than return an object the HEAR tools would reject; use
:func:`kaudio.embed` for embeddings there. Importing this module does not import TensorFlow by
itself: the model class is created on the first ``load_model`` (or ``kaudio.hear.HearModel``).

Checking the module with the HEAR submission checker (``hearvalidator`` imports both torch and
tensorflow, though it checks kaudio's ``tf.Module`` only)::

    pip install torch --index-url https://download.pytorch.org/whl/cpu   # a CPU build is enough
    pip install --no-deps hearvalidator==2021.0.2  # leaves the installed torch and tensorflow alone
    hear-validator kaudio.hear                     # pretrained weights; --model FILE for a weight file
"""
from __future__ import annotations

import functools
import os

import keras
import numpy as np

from kaudio.embedding.audio import embed
from kaudio.embedding.models import DEFAULT_AUDIO_MODEL, PRETRAINED, load_embedding_model
from kaudio.errors import InputError, KaudioError

HOP_SIZE = 0.05  # seconds between timestamp embeddings
EMBEDDING_SIZE = 512  # HEAR tasks train shallow probes on these; 6144 is available via load_model


def _require_tensorflow_backend() -> None:
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise KaudioError(
            f"kaudio.hear needs the TensorFlow Keras backend, the active one is {backend!r}: the HEAR tools "
            "(hear-eval-kit, hear-validator) accept only a tf.Module or a torch.nn.Module. Set "
            "KERAS_BACKEND=tensorflow before keras is imported, or use kaudio.embed under this backend.")


@functools.cache
def _model_class() -> type:
    """The ``tf.Module`` subclass ``load_model`` returns (created once, on first use)."""
    _require_tensorflow_backend()
    import tensorflow as tf

    class HearModel(tf.Module):
        """What ``load_model`` returns: a ``tf.Module`` holding the Keras embedding model and the
        attributes HEAR reads (``sample_rate``, ``timestamp_embedding_size``,
        ``scene_embedding_size``)."""

        def __init__(self, keras_model: keras.Model, model_name: str, embedding_size: int, weights,
                     sample_rate: int, hop_size: float = HOP_SIZE):
            super().__init__(name="kaudio_hear_model")
            self.keras_model = keras_model
            self.model_name = model_name
            self.embedding_size = int(embedding_size)
            self.weights = weights
            self.sample_rate = int(sample_rate)
            self.timestamp_embedding_size = int(embedding_size)
            self.scene_embedding_size = int(embedding_size)
            self.hop_size = float(hop_size)

        # tf.Module finds tf.Variables and tf.Modules among its attributes; a Keras 3 model is
        # neither, so the variables come from the Keras model (the tf.Variable behind each one).
        @property
        def variables(self):
            return tuple(v.value for v in self.keras_model.variables)

        @property
        def trainable_variables(self):
            return tuple(v.value for v in self.keras_model.trainable_variables)

        @property
        def non_trainable_variables(self):
            return tuple(v.value for v in self.keras_model.non_trainable_variables)

        def __repr__(self) -> str:
            return (f"HearModel(model_name={self.model_name!r}, embedding_size={self.embedding_size}, "
                    f"weights={self.weights!r}, sample_rate={self.sample_rate}, hop_size={self.hop_size})")

    HearModel.__module__ = __name__
    HearModel.__qualname__ = "HearModel"
    return HearModel


def __getattr__(name: str):
    if name == "HearModel":
        if keras.backend.backend() != "tensorflow":
            raise AttributeError(f"kaudio.hear.HearModel exists only under the TensorFlow Keras backend "
                                 f"(active: {keras.backend.backend()!r})")
        return _model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _weights_source(model_file_path, weights):
    """What to load: a non-empty ``model_file_path`` wins; else ``weights``."""
    if isinstance(model_file_path, os.PathLike):
        model_file_path = os.fspath(model_file_path)
    if model_file_path is not None and not isinstance(model_file_path, str):
        raise InputError(f"model_file_path must be a path or empty, got {model_file_path!r}")
    if model_file_path:
        return model_file_path
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if weights is not None and (not isinstance(weights, str) or not weights):
        raise InputError(f"weights must be {PRETRAINED!r}, the path of a weight file, or None (random weights), "
                         f"got {weights!r}")
    return weights


def load_model(model_file_path: "str | os.PathLike" = "", model_name: str = DEFAULT_AUDIO_MODEL,
               embedding_size: int = EMBEDDING_SIZE, *, weights: "str | os.PathLike | None" = PRETRAINED):
    """Load the embedding model as the ``tf.Module`` the HEAR 2021 API expects.

    Args:
        model_file_path: a weight file (OpenL3 ``.h5`` or kaudio ``.weights.h5``), as the HEAR
            tools pass it; a non-empty path wins over ``weights``.
        model_name: an audio model of :data:`kaudio.embedding.models.MODELS` (default OpenL3
            mel256/music).
        embedding_size: one the model offers (512 or 6144 for OpenL3).
        weights: used when ``model_file_path`` is empty: ``"pretrained"`` (the released weights,
            downloaded on first use), a weight file path, or ``None`` for random weights (explicit
            only; for trying the API without the download).

    Returns:
        a ``tf.Module`` (``kaudio.hear.HearModel``) with ``sample_rate``,
        ``timestamp_embedding_size``, ``scene_embedding_size``, ``keras_model``, ``model_name``,
        ``embedding_size``, ``weights`` and ``hop_size``.

    Raises:
        KaudioError: not the TensorFlow Keras backend, or an unknown model or embedding size.
        InputError: ``weights`` is not one of the above.
        WeightsError: the weights are missing or do not fit the model.
    """
    _require_tensorflow_backend()
    model_class = _model_class()
    source = _weights_source(model_file_path, weights)
    keras_model = load_embedding_model(model_name, embedding_size, source)
    rate = keras_model.spec.input["sample_rate"]
    return model_class(keras_model, model_name, embedding_size, source, rate)


def _as_batch(audio) -> np.ndarray:
    array = keras.ops.convert_to_numpy(audio)
    if array.ndim != 2:
        raise InputError(f"HEAR audio must be (n_sounds, n_samples), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"HEAR audio is empty: shape {array.shape}")
    return array.astype(np.float32, copy=False)


def get_timestamp_embeddings(audio, model):
    """``(embeddings (n_sounds, n_timestamps, D) float32, timestamps (n_sounds, n_timestamps) float32 ms)``
    for ``audio`` (n_sounds, n_samples) and ``model`` from :func:`load_model`."""
    batch = _as_batch(audio)
    embeddings, stamps = embed(list(batch), model.sample_rate, model=model.model_name,
                               embedding_size=model.embedding_size, hop_size=model.hop_size, center=True,
                               weights=model.weights)
    emb = np.stack(embeddings).astype(np.float32)  # every sound has the same length → same frame count
    ts = (np.stack(stamps).astype(np.float64) * 1000.0).astype(np.float32)  # ms, rounded once
    return keras.ops.convert_to_tensor(emb), keras.ops.convert_to_tensor(ts)


def get_scene_embeddings(audio, model):
    """``(n_sounds, D)`` float32: the mean over time of the timestamp embeddings (``model`` from
    :func:`load_model`)."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return keras.ops.mean(embeddings, axis=1)
