"""``ofa_cnn``: the once-for-all supernet backbone (Lin et al., "Weight-sharing supernet for
searching specialized acoustic event classification networks across device constraints",
ICASSP 2023, §2.2 and Fig. 2) — a PANNs CNN10-shaped network (Kong et al. 2020,
``qiuqiangkong/audioset_tagging_cnn`` ``pytorch/models.py``) whose dynamic blocks and fc1 are
built from the elastic layers of :mod:`kaudio.layers.elastic`.

Graph (layer names as :class:`~kaudio.models.panns.PannsCNN`'s, so weights map by name)::

    (T, F, 1) → bn0 (per mel bin, or ``input_norm: single``)                        [bn0]
      → static blocks: PANNs conv blocks                                           [conv_block{i}_*]
      → dynamic blocks: 2 × (ElasticConv2D 3×3 → ElasticBatchNormalization → ReLU) [conv_block{i}_conv{j}_*]
          (depth-elastic blocks: ElasticDepth picks the output after conv1 or conv2) [conv_block{i}_depth]
          → 2×2 average pooling → dropout                                          [conv_block{i}_pool, _dropout]
      → PANNs global pooling → dropout → fc1 + ReLU (ElasticDense when elastic_fc)  [global_pool, fc1]
    output: (batch, embedding_size); units beyond the active fc1 width are 0

The head is the ordinary ``tagger`` (or ``classifier``): its kernel rows for inactive fc1 units
see zeros, so the supernet's output *is* the active sub-network's.

Sub-network API (the supernet trainer and the search use these; stable):

* :attr:`OfaCNN.space` — the :class:`~kaudio.models.ofa.space.OfaSpace` (choices, validation,
  sampling, index encoding, analytic parameter counts);
* :meth:`OfaCNN.set_subnet` (eager, a configuration dict) and :meth:`OfaCNN.set_subnet_indices`
  (an int vector, graph-safe: call it inside the compiled train step, one trace for all
  sub-networks);
* :meth:`OfaCNN.active_config` — the configuration now set (eager).

:mod:`kaudio.models.ofa.subnet` offers the same on a whole :class:`~kaudio.models.KaudioModel`.
A fresh supernet is the full network (every width 1.0, every depth 2); the active configuration
is saved with the model.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import keras
from keras import layers, ops

from kaudio.blocks import conv_block, conv_bn_act, pool_dropout
from kaudio.dtypes import dtype_policy_scope
from kaudio.layers.elastic import ElasticBatchNormalization, ElasticConv2D, ElasticDense, ElasticDepth
from kaudio.models.backbone import Backbone
from kaudio.models.ofa.space import DEFAULT_WIDTH_RATIOS, MAX_DEPTH, OfaSpace, space_problems
from kaudio.models.panns.panns_cnn import (BLOCK_SETTINGS, CONV_SETTINGS, embedding_output, feature_problems, field,
                                           input_normalization, layout_problems)
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema

TYPE = "ofa_cnn"


@keras.saving.register_keras_serializable(package="kaudio")
@register("backbone", TYPE)
class OfaCNN(Backbone):
    """The once-for-all supernet (module docstring). ``get_config`` is the constructor arguments.

    Args:
        feature_shape: ``(time, mel, channels)`` log-mel (front-end ``layout: time_freq``).
        filters: full channels of each block (CNN10: 64, 128, 256, 512).
        static_blocks: leading blocks with a fixed width and depth (the paper's "static" block).
        width_ratios: width choices r of the dynamic blocks (and fc1): ⌊r·D⌋ channels.
        elastic_depth_blocks: ``conv_block`` numbers (1-based, static blocks counted) whose second conv
            may be skipped; ``None``: the last block (the paper's "[2,2,X]"); ``[]``: elastic width only.
        elastic_fc: fc1's width is elastic too (the paper's 0.6M smallest sub-network needs it).
        embedding_size: fc1's full width.
        input_norm: bn0 per mel bin (``"per_mel_bin"``, PANNs) or one γ/β (``"single"``).
        dropout / embedding_dropout / bn_epsilon / bn_momentum: as :class:`~kaudio.models.panns.PannsCNN`.
        dtype: dtype policy of every layer.
    """

    spec_schema = Schema((
        field("filters"),
        Field("static_blocks", int, 1, "leading blocks with a fixed width and depth", minimum=0),
        Field("width_ratios", list, list(DEFAULT_WIDTH_RATIOS), "width choices r of each dynamic block (floor(r*D) "
              "channels) and of fc1", item_kind=float, minimum=0.0, exclusive_minimum=True, maximum=1.0),
        Field("elastic_depth_blocks", list, None, "conv_block numbers (1-based) whose depth is 1 or 2 (null: the "
              "last block; []: none)", item_kind=int, minimum=1, nullable=True, allow_empty=True),
        Field("elastic_fc", bool, True, "fc1's width is elastic (same ratios)"),
        field("embedding_size"),
        *(field(name) for name in ("input_norm", "dropout", "embedding_dropout", "bn_epsilon", "bn_momentum")),
    ))

    def __init__(self, feature_shape: Sequence[int | None] = (1001, 64, 1), filters: Sequence[int] = (64, 128, 256, 512),
                 static_blocks: int = 1, width_ratios: Sequence[float] = DEFAULT_WIDTH_RATIOS,
                 elastic_depth_blocks: Sequence[int] | None = None, elastic_fc: bool = True,
                 embedding_size: int = 512, input_norm: str = "per_mel_bin", dropout: float = 0.2,
                 embedding_dropout: float = 0.5, bn_epsilon: float = 1e-5, bn_momentum: float = 0.9, dtype=None,
                 **kwargs):
        feature_shape = tuple(feature_shape)
        problems = feature_problems(feature_shape, filters, True, TYPE)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        space = OfaSpace(filters, static_blocks, width_ratios, elastic_depth_blocks, elastic_fc, embedding_size,
                         input_norm, n_mels=feature_shape[1], channels=feature_shape[2])
        # === Layers === (created inline) / === Functional Model ===
        bn = dict(bn_epsilon=bn_epsilon, bn_momentum=bn_momentum)
        with dtype_policy_scope(dtype):
            inputs = keras.Input(shape=feature_shape, name="features")
            x = input_normalization(inputs, input_norm, bn_epsilon, bn_momentum)
            for block, width in enumerate(space.filters, start=1):
                name = f"conv_block{block}"
                if block not in space.dynamic_blocks:
                    x = conv_block(x, width, name=name, convs=2, dropout=dropout, **bn, **BLOCK_SETTINGS)
                    continue
                elastic = dict(conv_class=ElasticConv2D, bn_class=ElasticBatchNormalization, **bn, **CONV_SETTINGS)
                outputs = []
                for j in range(1, MAX_DEPTH + 1):
                    x = conv_bn_act(x, width, name=f"{name}_conv{j}", **elastic)
                    outputs.append(x)
                if block in space.elastic_depth_blocks:
                    x = ElasticDepth(MAX_DEPTH, name=f"{name}_depth")(outputs)
                x = pool_dropout(x, name=name, pool_size=(2, 2), pool_type="avg", dropout=dropout)
            outputs = embedding_output(x, space.embedding_size, embedding_dropout,
                                       dense_class=ElasticDense if space.elastic_fc else layers.Dense)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        # === Config ===
        self.feature_shape = feature_shape
        self.filters = list(space.filters)
        self.static_blocks = space.static_blocks
        self.width_ratios = list(space.width_ratios)
        self.elastic_depth_blocks = list(space.elastic_depth_blocks)
        self.elastic_fc = space.elastic_fc
        self.embedding_size = space.embedding_size
        self.input_norm = input_norm
        self.dropout = float(dropout)
        self.embedding_dropout = float(embedding_dropout)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)
        self._space = space

    # --- sub-networks -------------------------------------------------------------------------

    @property
    def space(self) -> OfaSpace:
        """The sub-networks this supernet holds."""
        return self._space

    def width_layers(self, block: int) -> list[keras.layers.Layer]:
        """The elastic-width layers of dynamic block ``block`` (1-based): both convs and both BNs."""
        return [self.get_layer(f"conv_block{block}_conv{j}_{kind}") for j in range(1, MAX_DEPTH + 1)
                for kind in ("conv", "bn")]

    def set_subnet(self, config: Mapping[str, Any]) -> None:
        """Activate a configuration (eager; validated against :attr:`space`, KaudioError naming what is wrong)."""
        self.set_subnet_indices(self.space.to_indices(config))

    def set_subnet_indices(self, indices) -> None:
        """Activate the configuration of an index vector (``space.to_indices`` / a sampled int tensor of
        length ``len(space.choice_sizes)``). Graph-safe: only variable assignments, so a ``tf.function`` calling
        it is traced once for every sub-network. Indices are not range-checked here (``ops.take`` clips or
        fails depending on the device); sample them below ``space.choice_sizes``."""
        space = self.space
        indices = ops.cast(ops.convert_to_tensor(indices), "int32")
        n_dynamic = len(space.dynamic_blocks)
        for k, block in enumerate(space.dynamic_blocks):
            width = ops.take(ops.convert_to_tensor(space.block_widths(block), "int32"), indices[k])
            for layer in self.width_layers(block):
                layer.set_active_width(width)
        for j, block in enumerate(space.elastic_depth_blocks):
            self.get_layer(f"conv_block{block}_depth").set_active_depth(indices[n_dynamic + j] + 1)
        if space.elastic_fc:
            self.get_layer("fc1").set_active_width(ops.take(ops.convert_to_tensor(space.fc_widths, "int32"),
                                                            indices[-1]))

    def active_config(self) -> dict[str, Any]:
        """The configuration now active (eager), read from the layers' variables."""
        space = self.space
        indices = [space.block_widths(block).index(int(self.width_layers(block)[0].active_width.numpy()))
                   for block in space.dynamic_blocks]
        indices += [int(self.get_layer(f"conv_block{block}_depth").active_depth.numpy()) - 1
                    for block in space.elastic_depth_blocks]
        if space.elastic_fc:
            indices.append(space.fc_widths.index(int(self.get_layer("fc1").active_width.numpy())))
        return space.from_indices(indices)

    # --- spec component -----------------------------------------------------------------------

    @classmethod
    def check_spec(cls, params: dict, context) -> list[tuple[str, str]]:
        """A (time, mel) front end and a valid space; fills ``elastic_depth_blocks: null`` with the last block and
        sorts the ratios, so the built model's config says what it holds."""
        if params["elastic_depth_blocks"] is None:
            params["elastic_depth_blocks"] = [len(params["filters"])]
        problems = layout_problems(context, TYPE) + space_problems(
            params["filters"], params["static_blocks"], params["width_ratios"], params["elastic_depth_blocks"],
            params["elastic_fc"], params["embedding_size"])
        if not problems:
            params["width_ratios"] = sorted(params["width_ratios"])
            params["elastic_depth_blocks"] = sorted(params["elastic_depth_blocks"])
        return problems

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape: tuple) -> tuple[tuple | None, list[tuple[str, str]]]:
        """``(embedding_size,)``, or the problems of an input too small for the pools."""
        problems = feature_problems(feature_shape, params["filters"], True, TYPE)
        return (None if problems else (params["embedding_size"],)), problems
