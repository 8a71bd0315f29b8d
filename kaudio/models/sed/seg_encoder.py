"""2APAE's shared segmentation encoder (Deshmukh et al., "Multi-Task Learning for Interpretable
Weakly Labelled Sound Event Detection", §III-B and Table I; ``soham97/MTL_Weakly_labelled_audio_data``
``models.py``, ``Block`` and ``SEDencoder``).

Input: the standardised log-mel, laid out ``(time, mel, 1)`` (front-end ``layout: time_freq``, as
the ``2apae`` preset gives it), so the axes match PyTorch's ``(N, 1, T, F)`` and a Conv2d kernel
(O, I, kH, kW) maps to a Keras kernel by ``transpose(2, 3, 1, 0)``.

Graph (layer names in brackets)::

    (T, F, 1) → per width in ``filters`` (32, 64, 128, 256):
        2 × (3×3 conv, no bias → BN → ReLU)                       [block{i}_conv{j}_conv / _bn / _relu]
        → 3×3 average pool, stride 1, zero padding 1, the padding counted in the divisor
                                                                    [block{i}_pool_pad, block{i}_pool]
    output: (T, F, filters[-1]) — T and F are never down-sampled (256 × 311 × 64 for 10 s)

The pooling is PyTorch's ``nn.AvgPool2d(3, stride=1, padding=1)`` with its default
``count_include_pad=True``: a border average divides by 9 even where some of the nine values are
padding. Keras's ``AveragePooling2D(padding="same")`` divides by the number of real values instead,
so the block pads explicitly with zeros and pools with ``padding="valid"``
(:func:`zero_padded_average_pool`).

BN: epsilon 1e-5, Keras momentum 0.9 (= PyTorch momentum 0.1). Init: He-uniform convs,
U(±sqrt(6 / fan_in)) (``init_layer`` in the reference's ``model_utils.py``), BN γ = 1, β = 0.
Parameters for the default widths: 1,170,720 conv weights + 1,920 BN (γ, β) trainable, 1,920 BN
moving statistics. The heads that read this map are in :mod:`kaudio.heads.sed`; the ``sed_2apae``
head's decoder is made of the same blocks (:func:`segmentation_block`).
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from kaudio.blocks import conv_block
from kaudio.dtypes import dtype_policy_scope
from kaudio.models.backbone import Backbone
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema

#: PyTorch's BatchNorm2d defaults in Keras terms (epsilon, momentum = 1 − 0.1).
BN_EPSILON, BN_MOMENTUM = 1e-5, 0.9


# === Layers ===


def zero_padded_average_pool(x, pool_size: int = 3, *, name: str):
    """Stride-1 ``pool_size``×``pool_size`` average pooling whose zero padding counts in the divisor
    (PyTorch's ``AvgPool2d(k, 1, k // 2)``): ``ZeroPadding2D`` then ``AveragePooling2D(padding="valid")``.
    Keeps the spatial size for an odd ``pool_size``. Layers ``{name}_pad`` and ``{name}``."""
    x = layers.ZeroPadding2D(pool_size // 2, name=f"{name}_pad")(x)
    return layers.AveragePooling2D(pool_size, strides=1, padding="valid", name=name)(x)


def segmentation_block(x, filters: int, *, name: str, bn_epsilon: float = BN_EPSILON,
                       bn_momentum: float = BN_MOMENTUM):
    """2APAE's ``Block``: 2 × (3×3 conv without bias → BN → ReLU) (:func:`kaudio.blocks.conv_block`)
    → :func:`zero_padded_average_pool` (3×3, stride 1). Shapes are kept; ``{name}_*`` layer names."""
    x = conv_block(x, int(filters), name=name, convs=2, pool_size=None, use_bias=False,
                   kernel_initializer="he_uniform", bn_epsilon=bn_epsilon, bn_momentum=bn_momentum)
    return zero_padded_average_pool(x, 3, name=f"{name}_pool")


def feature_problems(feature_shape: Sequence[int | None]) -> list[tuple[str, str]]:
    """``[(key, message)]`` when the features are not a ``(time, mel, channels)`` map with known mel bins."""
    if len(feature_shape) != 3:
        return [("", f"seg_encoder needs a (time, mel, channels) spectrogram, got feature shape {tuple(feature_shape)}")]
    if feature_shape[1] is None:
        return [("", "seg_encoder needs a known number of mel bins (the attention heads act on the mel axis)")]
    return []


# === Backbone ===


@keras.saving.register_keras_serializable(package="kaudio")
@register("backbone", "seg_encoder")
class SegmentationEncoder(Backbone):
    """2APAE's shared encoder: ``len(filters)`` :func:`segmentation_block`\\ s on ``(time, mel, 1)``
    (module docstring). ``get_config`` / ``from_config`` / ``from_spec`` come from
    :class:`~kaudio.models.backbone.Backbone`.

    Args:
        feature_shape: ``(time, mel, channels)``; time may be ``None`` (variable length).
        filters: output channels of each block (1 → 32 → 64 → 128 → 256 in the paper, Table I).
        bn_epsilon / bn_momentum: of every BatchNormalization (PyTorch defaults: 1e-5, 0.9).
        dtype: dtype policy of every layer (``None``: the policy in force).
    """

    spec_schema = Schema((
        Field("filters", list, [32, 64, 128, 256], "channels of each block (two 3x3 convs + 3x3 stride-1 average pool)",
              item_kind=int, minimum=1),
        Field("bn_epsilon", float, BN_EPSILON, "BatchNormalization epsilon (PyTorch default)", minimum=0.0,
              exclusive_minimum=True),
        Field("bn_momentum", float, BN_MOMENTUM, "BatchNormalization momentum, Keras convention (= 1 - PyTorch's 0.1)",
              minimum=0.0, maximum=1.0),
    ))

    def __init__(self, feature_shape: Sequence[int | None] = (311, 64, 1), filters: Sequence[int] = (32, 64, 128, 256),
                 bn_epsilon: float = BN_EPSILON, bn_momentum: float = BN_MOMENTUM, dtype=None, **kwargs):
        feature_shape = tuple(feature_shape)
        problems = feature_problems(feature_shape)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        # === Layers === (created inline) / === Functional Model ===
        with dtype_policy_scope(dtype):
            inputs = keras.Input(shape=feature_shape, name="features")
            x = inputs
            for i, width in enumerate(filters):
                x = segmentation_block(x, width, name=f"block{i + 1}", bn_epsilon=bn_epsilon, bn_momentum=bn_momentum)
        super().__init__(inputs=inputs, outputs=x, dtype=dtype, **kwargs)
        # === Config ===
        self.feature_shape = feature_shape
        self.filters = [int(f) for f in filters]
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)

    # --- spec component -----------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """The front end must give a (time, mel) spectrogram: the heads read axis 1 as time, axis 2 as mel."""
        frontend = context.sections.get("frontend")
        if frontend is not None and frontend.get("layout") != "time_freq":
            return [("", f"seg_encoder reads (time, mel, 1) spectrograms: set frontend.layout: time_freq (the 2apae "
                         f"preset does), got {frontend.get('layout')!r}")]
        return []

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape: tuple) -> tuple[tuple | None, list[tuple[str, str]]]:
        """``(time, mel, filters[-1])``: the blocks keep the input's time and mel sizes."""
        problems = feature_problems(feature_shape)
        if problems:
            return None, problems
        return (feature_shape[0], feature_shape[1], params["filters"][-1]), []
