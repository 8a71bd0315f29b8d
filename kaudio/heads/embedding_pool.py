"""Embedding head: max-pool the final feature map on a coarse grid and flatten it.

L3-Net (Cramer et al. §2): "the audio embedding is obtained from the final output layer of the
audio subnetwork, replacing the layer's non-linear activation with a max-pooling layer, the output
of which is flattened". OpenL3 pools with Keras ``MaxPooling2D(pool, padding='same')``, strides =
pool (``marl/openl3`` ``openl3/models.py``): mel256 (32, 24, 512) → (8, 8) → (4, 3, 512) → 6144,
or (32, 24) → 512.
The flatten order is channels-last: ((row · W) + col) · C + channel.
"""
from __future__ import annotations

import math
from typing import Sequence

import keras
from keras import ops

from kaudio.registry import register
from kaudio.spec.schema import Field, Schema


@keras.saving.register_keras_serializable(package="kaudio")
class GridMaxPoolEmbedding(keras.layers.Layer):
    """``(batch, H, W, C)`` → max-pool ``pool_size`` ('same', stride = pool) → ``(batch, ⌈H/ph⌉·⌈W/pw⌉·C)``."""

    def __init__(self, pool_size: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(int(p) for p in pool_size)

    def call(self, x):
        pooled = ops.max_pool(x, pool_size=self.pool_size, strides=self.pool_size, padding="same")
        return ops.reshape(pooled, (ops.shape(pooled)[0], -1))

    def compute_output_shape(self, input_shape):
        _, h, w, c = input_shape
        if h is None or w is None:
            return (input_shape[0], None)
        return (input_shape[0], math.ceil(h / self.pool_size[0]) * math.ceil(w / self.pool_size[1]) * c)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=list(self.pool_size))
        return config


@register("head", "embedding_pool")
class EmbeddingPoolHead:
    """Spec component ``head: {type: embedding_pool, embedding_size: N, pool_sizes: {N: [ph, pw], ...}}``.

    ``pool_sizes`` lists the embedding sizes a model offers and the pool that yields each; the
    builder checks that the pooled, flattened map really has ``embedding_size`` values.
    """

    spec_schema = Schema((
        Field("embedding_size", int, doc="length of the embedding vector", minimum=1),
        Field("pool_sizes", dict, doc="{embedding_size: [pool_height, pool_width]} offered by the model",
              key_kind=int, value_kind=list, value_length=2),
    ))

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        offered = params["pool_sizes"]
        if params["embedding_size"] not in offered:
            sizes = ", ".join(str(k) for k in offered)
            return [("embedding_size", f"got {params['embedding_size']}, this model offers {sizes} (head.pool_sizes)")]
        return []

    @staticmethod
    def output_size(params: dict, feature_shape: Sequence[int | None]) -> int | None:
        h, w, c = feature_shape
        ph, pw = params["pool_sizes"][params["embedding_size"]]
        if h is None or w is None:
            return None
        return math.ceil(h / ph) * math.ceil(w / pw) * c

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape) -> tuple[tuple | None, list[tuple[str, str]]]:
        """``(embedding_size,)`` if pooling the backbone's map really gives that many values."""
        if len(feature_shape) != 3:
            return None, [("", f"needs a (height, width, channels) feature map, the backbone gives {tuple(feature_shape)}")]
        size = cls.output_size(params, feature_shape)
        if size is not None and size != params["embedding_size"]:
            ph, pw = params["pool_sizes"][params["embedding_size"]]
            return None, [(f"pool_sizes.{params['embedding_size']}",
                           f"pooling the backbone's {tuple(feature_shape)} map by ({ph}, {pw}) gives {size} values, "
                           f"not embedding_size {params['embedding_size']}")]
        return (params["embedding_size"],), []

    @classmethod
    def from_spec(cls, params: dict, feature_shape, name: str = "head"):
        return GridMaxPoolEmbedding(params["pool_sizes"][params["embedding_size"]], name=name)
