"""Test helpers shared by the converter, pretrained and CLI tests.

``openl3_reference_model`` is an independent plain-Keras model of the OpenL3 networks, written
from the layer definitions of ``marl/openl3`` ``openl3/models.py`` (audio and image) with Keras-2 style
layer names; ``write_keras2_h5`` saves weights in the Keras-2 ``save_weights`` HDF5 layout
with h5py, as the released OpenL3 files are.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import h5py
import keras
import numpy as np

L3_FILTERS = (64, 128, 256, 512)

Keras2Layer = tuple[str, list[tuple[str, np.ndarray]]]  # (layer name, [(weight name, array)])


def openl3_reference_model(modality: str, input_shape, filters=L3_FILTERS, embedding_pool=None) -> keras.Model:
    """Input → BN → [Conv 3x3 same → BN → ReLU] × 2 → MaxPool 2x2 → … → linear ``<modality>_embedding_layer``.

    Image (§1.7): block 1's second conv is Conv → ReLU → BN and the max-pools are 'same'; audio
    (§1.4) max-pools are 'valid'. With ``embedding_pool`` the OpenL3 head follows:
    ``MaxPooling2D(embedding_pool, padding='same')`` → Flatten.
    """
    layers = keras.layers
    counters = defaultdict(int)

    def auto_name(kind: str) -> str:
        counters[kind] += 1
        return f"{kind}_{counters[kind]}"

    embedding_name = {"audio": "audio_embedding_layer", "image": "vision_embedding_layer"}[modality]
    pool_padding = "same" if modality == "image" else "valid"
    inputs = keras.Input(input_shape, name="input_1")
    x = layers.BatchNormalization(name=auto_name("batch_normalization"))(inputs)
    for block, width in enumerate(filters):
        last_block = block == len(filters) - 1
        x = layers.Conv2D(width, 3, padding="same", name=auto_name("conv2d"))(x)
        x = layers.BatchNormalization(name=auto_name("batch_normalization"))(x)
        x = layers.Activation("relu", name=auto_name("activation"))(x)
        if last_block:
            x = layers.Conv2D(width, 3, padding="same", name=embedding_name)(x)
            break
        x = layers.Conv2D(width, 3, padding="same", name=auto_name("conv2d"))(x)
        if modality == "image" and block == 0:
            x = layers.Activation("relu", name=auto_name("activation"))(x)
            x = layers.BatchNormalization(name=auto_name("batch_normalization"))(x)
        else:
            x = layers.BatchNormalization(name=auto_name("batch_normalization"))(x)
            x = layers.Activation("relu", name=auto_name("activation"))(x)
        x = layers.MaxPooling2D(2, padding=pool_padding, name=auto_name("max_pooling2d"))(x)
    if embedding_pool is not None:
        x = layers.MaxPooling2D(embedding_pool, padding="same", name=auto_name("max_pooling2d"))(x)
        x = layers.Flatten(name=auto_name("flatten"))(x)
    return keras.Model(inputs, x, name=f"openl3_{modality}")


def randomise_weights(model: keras.Model, seed: int = 0) -> None:
    """Random values for every variable, BN moving statistics included (so a wrong mapping shows)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        kind = variable.path.rsplit("/", 1)[-1]
        if kind == "kernel":
            value = rng.normal(0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)
        elif kind in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        else:  # bias, beta, moving_mean
            value = rng.normal(0, 0.1, shape)
        variable.assign(value.astype("float32"))


def keras2_layers(model: keras.Model) -> list[Keras2Layer]:
    """Every layer of ``model`` (weightless ones too), weights named like Keras 2: ``conv2d_1/kernel:0``."""
    return [(layer.name, [(f"{layer.name}/{v.path.rsplit('/', 1)[-1]}:0", np.asarray(v.numpy())) for v in layer.weights])
            for layer in model.layers]


def write_keras2_h5(path: Path, layers: list[Keras2Layer]) -> Path:
    """Write ``layers`` in the Keras-2 ``save_weights`` layout: root attr ``layer_names``, per group ``weight_names``."""
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = np.array([name.encode() for name, _ in layers])
        file.attrs["backend"] = b"tensorflow"
        file.attrs["keras_version"] = b"2.2.4"
        for name, weights in layers:
            group = file.create_group(name)
            group.attrs["weight_names"] = np.array([w.encode() for w, _ in weights], dtype="S")
            for weight_name, array in weights:
                group.create_dataset(weight_name, data=array)
    return path


def write_openl3_file(path: Path, modality: str = "audio", filters=L3_FILTERS, seed: int = 0) -> Path:
    """An OpenL3-layout ``.h5`` file with random weights for the ``modality`` network of ``filters``."""
    model = openl3_reference_model(modality, (16, 16, 3 if modality == "image" else 1), filters)
    randomise_weights(model, seed)
    return write_keras2_h5(path, keras2_layers(model))
