"""Global pooling head: a feature map → one vector (``head: {type: global_pool, mode: max}``).

The L3-Net audio-visual network (Arandjelović & Zisserman; Cramer et al. §2) ends each tower with a
max-pool over the whole final map (28×28 for vision, 32×24 for mel256 audio) → a 512-d vector,
which the fusion layers read. Towers use it as their ``pooling``; a chain can use it as its head.
"""
from __future__ import annotations

import keras

from kaudio.registry import register
from kaudio.spec.schema import Field, Schema

MODES = ("max", "avg")


@register("head", "global_pool")
class GlobalPoolHead:
    """``(H, W, C)`` or ``(T, C)`` → ``(C,)``: global max or average pooling over every position."""

    spec_schema = Schema((Field("mode", str, "max", "max or avg over all positions", choices=MODES),))

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape) -> tuple[tuple | None, list[tuple[str, str]]]:
        if len(feature_shape) not in (2, 3):
            return None, [("", f"global_pool needs a (height, width, channels) or (time, channels) map, the "
                               f"backbone gives {tuple(feature_shape)}")]
        return (feature_shape[-1],), []

    @classmethod
    def from_spec(cls, params: dict, feature_shape, name: str = "head"):
        two_d = len(feature_shape) == 3
        layer = {("max", True): keras.layers.GlobalMaxPooling2D, ("max", False): keras.layers.GlobalMaxPooling1D,
                 ("avg", True): keras.layers.GlobalAveragePooling2D,
                 ("avg", False): keras.layers.GlobalAveragePooling1D}[(params["mode"], two_d)]
        return layer(name=name)
