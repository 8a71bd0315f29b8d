"""The HEAR 2021 common API (https://hearbenchmark.com), so kaudio embeddings can be scored by the
HEAR evaluation kit (``hear-eval-kit``: ``python -m heareval.embeddings.runner kaudio.hear``).

* ``load_model(model_file_path="")`` → a model object with ``sample_rate``,
  ``timestamp_embedding_size`` and ``scene_embedding_size``. An empty path uses the pretrained
  OpenL3 mel256/music weights; a path loads that weight file (OpenL3 ``.h5`` or kaudio
  ``.weights.h5``).
* ``get_timestamp_embeddings(audio, model)`` → ``(embeddings (n_sounds, n_timestamps, D),
  timestamps (n_sounds, n_timestamps))`` with timestamps in **milliseconds**, as HEAR requires.
  Windows are centred on the timestamps with a 50 ms hop (HEAR asks for at most 50 ms).
* ``get_scene_embeddings(audio, model)`` → ``(n_sounds, D)``: the mean of the timestamp embeddings.

``audio`` is a ``(n_sounds, n_samples)`` float tensor or array at ``model.sample_rate`` in [−1, 1].
Outputs are float32 tensors of the active Keras backend (``tf.Tensor`` with TensorFlow).
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from kaudio.embedding.audio import embed
from kaudio.embedding.models import DEFAULT_AUDIO_MODEL, PRETRAINED, load_embedding_model
from kaudio.errors import InputError

HOP_SIZE = 0.05  # seconds between timestamp embeddings
EMBEDDING_SIZE = 512  # HEAR tasks train shallow probes on these; 6144 is available via load_model


@dataclass
class HearModel:
    """What ``load_model`` returns: the Keras model plus the attributes HEAR reads."""

    keras_model: keras.Model
    model_name: str
    embedding_size: int
    weights: object
    sample_rate: int
    timestamp_embedding_size: int
    scene_embedding_size: int
    hop_size: float = HOP_SIZE


def load_model(model_file_path: str = "", model_name: str = DEFAULT_AUDIO_MODEL,
               embedding_size: int = EMBEDDING_SIZE) -> HearModel:
    weights = model_file_path if model_file_path else PRETRAINED
    keras_model = load_embedding_model(model_name, embedding_size, weights)
    rate = keras_model.spec.input["sample_rate"]
    return HearModel(keras_model, model_name, embedding_size, weights, rate, embedding_size, embedding_size)


def _as_batch(audio) -> np.ndarray:
    array = keras.ops.convert_to_numpy(audio)
    if array.ndim != 2:
        raise InputError(f"HEAR audio must be (n_sounds, n_samples), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"HEAR audio is empty: shape {array.shape}")
    return array.astype(np.float32, copy=False)


def get_timestamp_embeddings(audio, model: HearModel):
    batch = _as_batch(audio)
    embeddings, stamps = embed(list(batch), model.sample_rate, model=model.model_name,
                               embedding_size=model.embedding_size, hop_size=model.hop_size, center=True,
                               weights=model.weights)
    emb = np.stack(embeddings).astype(np.float32)  # every sound has the same length → same frame count
    ts = np.stack(stamps).astype(np.float32) * 1000.0
    return keras.ops.convert_to_tensor(emb), keras.ops.convert_to_tensor(ts)


def get_scene_embeddings(audio, model: HearModel):
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return keras.ops.mean(embeddings, axis=1)
