"""PANNs CNN14 / CNN10 (Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for
Audio Pattern Recognition", 2020, Table 1 and §2.2; ``qiuqiangkong/audioset_tagging_cnn``
``pytorch/models.py``).

Input: the log-mel spectrogram from the front end, laid out ``(time, mel, 1)`` (front-end
``layout: time_freq``, what the ``panns_32k`` / ``panns_16k`` presets give), so the axes match
PyTorch's ``(N, 1, time, mel)`` and a Conv2d kernel (O, I, kH, kW) maps to a Keras kernel by
``transpose(2, 3, 1, 0)`` (:mod:`kaudio.convert.panns`).

Graph (layer names in brackets)::

    (T, F, 1) → bn0: BatchNormalization over the mel axis, one statistic per mel bin   [bn0]
                (``input_norm: single``: one γ/β pair for the whole input)
      → per width in ``filters``: 2 × (3×3 conv, no bias → BN → ReLU)               [conv_block{i}_conv{j}_*]
        (``convs_per_block``: another number of convs per block, e.g. a once-for-all
        sub-network whose last block keeps one conv, :mod:`kaudio.models.ofa`)
        → 2×2 average pooling (floor; not after the last block when
          ``pool_last_block`` is false, CNN14's conv_block6)                          [conv_block{i}_pool]
        → dropout ``dropout`` (0.2)                                                  [conv_block{i}_dropout]
      → mean over mel, then max over time + mean over time                           [global_pool]
      → dropout ``embedding_dropout`` (0.5) → fc1 + ReLU                             [embedding_dropout, fc1]
    output: (batch, embedding_size), the PANNs ``embedding``

PANNs also applies dropout 0.5 to the returned embedding in training, but its classifier
(``fc_audioset``) reads the fc1 activation *before* that dropout; this backbone outputs that
pre-dropout activation so the ``tagger`` head is exactly ``fc_audioset``. To train a new head on a
dropped-out embedding as PANNs' fine-tuning template does, set the head's ``dropout: 0.5``.

BN: epsilon 1e-5, Keras momentum 0.9 (= PyTorch momentum 0.1). Init: Xavier-uniform convs and
fc1, zero bias, BN γ=1 β=0 (``init_layer`` / ``init_bn`` in ``pytorch/models.py``). Training-only
SpecAugment / mixup are not part of the network (they belong to the trainer).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
from keras import layers, ops

from kaudio.blocks import conv_block
from kaudio.dtypes import dtype_policy_scope
from kaudio.models.backbone import Backbone
from kaudio.models.panns.panns_presets import ARCHITECTURES
from kaudio.registry import register
from kaudio.spec.schema import REQUIRED, Field, Schema

#: The ``preset:`` values of a spec's ``panns_cnn`` section, from :mod:`~kaudio.models.panns.panns_presets`.
PRESETS = ARCHITECTURES


@keras.saving.register_keras_serializable(package="kaudio")
class TimeFreqPooling(keras.layers.Layer):
    """PANNs' global pooling of a ``(batch, time, freq, C)`` map (Kong et al. §2.2):
    mean over frequency, then ``max over time + mean over time`` → ``(batch, C)``.

    The means are summed in float32 whatever the compute dtype (a bfloat16 mean over a long time
    axis loses the small terms); the result is cast back to the compute dtype."""

    def call(self, x):
        dtype = x.dtype
        x = ops.mean(ops.cast(x, "float32"), axis=2)
        return ops.cast(ops.max(x, axis=1) + ops.mean(x, axis=1), dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def pooled_blocks(filters: Sequence[int], pool_last_block: bool) -> int:
    """How many blocks halve time and frequency."""
    return len(filters) - (0 if pool_last_block else 1)


#: ``input_norm`` values: PANNs' bn0 normalises every mel bin on its own (``per_mel_bin``, as the released
#: checkpoints); ``single`` is one γ/β pair (and one mean/variance) over all mel bins of a channel.
INPUT_NORMS = ("per_mel_bin", "single")
#: The settings every PANNs conv shares (``ConvBlock`` in ``pytorch/models.py``): 3×3, no bias, Xavier-uniform.
CONV_SETTINGS = dict(use_bias=False, kernel_initializer="glorot_uniform")
#: ... and every block: those convs, then 2×2 average pooling.
BLOCK_SETTINGS = dict(CONV_SETTINGS, pool_type="avg")


def field(name: str, default=REQUIRED) -> Field:
    """The spec field ``name`` of the PANNs-shaped backbones (``panns_cnn``, ``ofa_cnn`` share them), with
    another default when given."""
    found = next(f for f in PANNS_FIELDS if f.name == name)
    return found if default is REQUIRED else dataclasses.replace(found, default=default)


PANNS_FIELDS = (
    Field("filters", list, [64, 128, 256, 512], "channels of each conv block (two 3x3 convs)", item_kind=int, minimum=1),
    Field("embedding_size", int, 512, "width of fc1, the output embedding", minimum=1),
    Field("input_norm", str, "per_mel_bin", "bn0: one statistic per mel bin (PANNs) or one for the whole input",
          choices=INPUT_NORMS),
    Field("dropout", float, 0.2, "dropout after each conv block", minimum=0.0, maximum=0.95),
    Field("embedding_dropout", float, 0.5, "dropout before fc1", minimum=0.0, maximum=0.95),
    Field("bn_epsilon", float, 1e-5, "BatchNormalization epsilon (PyTorch default)", minimum=0.0, exclusive_minimum=True),
    Field("bn_momentum", float, 0.9, "BatchNormalization momentum, Keras convention (= 1 - PyTorch's 0.1)",
          minimum=0.0, maximum=1.0),
)


def input_normalization(x, input_norm: str, bn_epsilon: float, bn_momentum: float):
    """``bn0`` on a ``(time, mel, channels)`` input: per mel bin (axis 2, PANNs) or ``single`` (axis -1)."""
    if input_norm not in INPUT_NORMS:
        raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {input_norm!r}")
    axis = 2 if input_norm == "per_mel_bin" else -1
    return layers.BatchNormalization(axis=axis, epsilon=bn_epsilon, momentum=bn_momentum, name="bn0")(x)


def embedding_output(x, embedding_size: int, embedding_dropout: float, dense_class: type = layers.Dense):
    """The end of the network: PANNs' global pooling → dropout → ``fc1`` + ReLU (the embedding).
    ``dense_class``: ``Dense`` or a drop-in subclass (the supernet's elastic-width fc1)."""
    x = TimeFreqPooling(name="global_pool")(x)
    if embedding_dropout:
        x = layers.Dropout(embedding_dropout, name="embedding_dropout")(x)
    return dense_class(embedding_size, activation="relu", kernel_initializer="glorot_uniform", bias_initializer="zeros",
                       name="fc1")(x)


def block_convs(filters: Sequence[int], convs_per_block: Sequence[int] | None) -> list[int]:
    """The number of convs of each block (two each when ``convs_per_block`` is ``None``)."""
    return [2] * len(filters) if convs_per_block is None else [int(n) for n in convs_per_block]


def feature_problems(feature_shape: Sequence[int | None], filters: Sequence[int], pool_last_block: bool,
                     backbone_type: str = "panns_cnn") -> list[tuple[str, str]]:
    """``[(key, message)]`` when a ``(time, mel, channels)`` input cannot go through the blocks."""
    if len(feature_shape) != 3:
        return [("", f"{backbone_type} needs a (time, mel, channels) spectrogram, got feature shape "
                     f"{tuple(feature_shape)}")]
    time, freq, _ = feature_shape
    if freq is None:
        return [("", f"{backbone_type} needs a known number of mel bins (bn0 has one statistic per mel bin)")]
    n = pooled_blocks(filters, pool_last_block)
    problems = []
    for axis, size in (("time", time), ("mel", freq)):
        if size is not None and size // 2 ** n < 1:
            problems.append(("filters", f"{len(filters)} blocks pool the {axis} axis {n} times (÷{2 ** n}) but the "
                                        f"input has only {size} {axis} steps; use fewer blocks or a longer/larger input "
                                        f"(at least {2 ** n} {axis} steps)"))
    return problems


@keras.saving.register_keras_serializable(package="kaudio")
@register("backbone", "panns_cnn")
class PannsCNN(Backbone):
    """PANNs CNN14 / CNN10 and narrower variants on a ``(time, mel, 1)`` log-mel (module docstring).

    ``get_config`` / ``from_config`` / ``from_spec`` / ``from_preset`` come from
    :class:`~kaudio.models.backbone.Backbone`; the presets (``cnn14``, ``cnn10``, ``cnn14_16k``) are
    in :mod:`kaudio.models.panns.panns_presets`.

    Parameters (computed from the layer shapes, 527-class tagger head included): CNN14 80,753,615 trainable +
    16,256 BN moving statistics; CNN10 5,219,279 + 3,968.

    Args:
        feature_shape: ``(time, mel, channels)``; time may be ``None`` (variable length).
        filters: channels of each conv block.
        embedding_size: width of fc1 (the output).
        pool_last_block: 2×2 average pooling after the last block too (False for CNN14).
        dropout: dropout after each block (0.2).
        embedding_dropout: dropout before fc1 (0.5).
        bn_epsilon / bn_momentum: of every BatchNormalization (PyTorch defaults: 1e-5, 0.9).
        input_norm: ``"per_mel_bin"`` (PANNs' bn0, one γ/β/mean/variance per mel bin) or ``"single"`` (one for
            the whole input: 2 trainable parameters instead of 2 × mel bins).
        convs_per_block: the number of 3×3 convs of each block (``None``: two each, as PANNs).
        dtype: dtype policy of every layer (``"mixed_bfloat16"`` …; ``None``: the policy in force).
    """

    spec_schema = Schema((
        field("filters"),
        field("embedding_size"),
        Field("pool_last_block", bool, True, "2x2 average pooling after the last block too (cnn14: false)"),
        Field("convs_per_block", list, None, "3x3 convs in each block (null: 2 each, as PANNs)", item_kind=int,
              minimum=1, nullable=True),
        *(field(name) for name in ("input_norm", "dropout", "embedding_dropout", "bn_epsilon", "bn_momentum")),
    ))
    spec_presets = PRESETS

    def __init__(self, feature_shape: Sequence[int | None] = (1001, 64, 1), filters: Sequence[int] = (64, 128, 256, 512),
                 embedding_size: int = 512, pool_last_block: bool = True, dropout: float = 0.2,
                 embedding_dropout: float = 0.5, bn_epsilon: float = 1e-5, bn_momentum: float = 0.9,
                 input_norm: str = "per_mel_bin", convs_per_block: Sequence[int] | None = None, dtype=None, **kwargs):
        feature_shape = tuple(feature_shape)
        problems = feature_problems(feature_shape, filters, pool_last_block) + convs_problems(filters, convs_per_block)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        # === Layers === (created inline) / === Functional Model ===
        with dtype_policy_scope(dtype):
            inputs = keras.Input(shape=feature_shape, name="features")
            x = input_normalization(inputs, input_norm, bn_epsilon, bn_momentum)
            for i, (width, convs) in enumerate(zip(filters, block_convs(filters, convs_per_block))):
                last = i == len(filters) - 1
                x = conv_block(x, int(width), name=f"conv_block{i + 1}", convs=convs,
                               pool_size=None if (last and not pool_last_block) else (2, 2), dropout=dropout,
                               bn_epsilon=bn_epsilon, bn_momentum=bn_momentum, **BLOCK_SETTINGS)
            outputs = embedding_output(x, embedding_size, embedding_dropout)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        # === Config ===
        self.feature_shape = feature_shape
        self.filters = [int(f) for f in filters]
        self.embedding_size = int(embedding_size)
        self.pool_last_block = bool(pool_last_block)
        self.dropout = float(dropout)
        self.embedding_dropout = float(embedding_dropout)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)
        self.input_norm = input_norm
        self.convs_per_block = None if convs_per_block is None else [int(n) for n in convs_per_block]

    # --- spec component -----------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """The front end must give a (time, mel) log-mel; ``convs_per_block`` one number per block."""
        return layout_problems(context, "panns_cnn") + convs_problems(params["filters"], params["convs_per_block"])

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape: tuple) -> tuple[tuple | None, list[tuple[str, str]]]:
        """``(embedding_size,)``, or the problems of a ``(time, mel, channels)`` input too small for the pools."""
        problems = feature_problems(feature_shape, params["filters"], params["pool_last_block"])
        return (None if problems else (params["embedding_size"],)), problems


def layout_problems(context, backbone_type: str) -> list[tuple[str, str]]:
    """The front end of a PANNs-shaped backbone must give ``(time, mel, 1)``."""
    frontend = context.sections.get("frontend")
    if frontend is not None and frontend.get("layout") != "time_freq":
        return [("", f"{backbone_type} reads (time, mel, 1) spectrograms: set frontend.layout: time_freq "
                     f"(the panns_32k / panns_16k presets do), got {frontend.get('layout')!r}")]
    return []


def convs_problems(filters: Sequence[int], convs_per_block: Sequence[int] | None) -> list[tuple[str, str]]:
    """``convs_per_block`` must give one number per block."""
    if convs_per_block is not None and len(convs_per_block) != len(filters):
        return [("convs_per_block", f"got {len(convs_per_block)} numbers for {len(filters)} blocks (filters); give one "
                                    "per block")]
    return []

