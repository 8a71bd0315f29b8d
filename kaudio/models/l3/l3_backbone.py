"""L3-Net / OpenL3 audio and vision subnetworks (Cramer et al., "Look, Listen and Learn More", §2, §3.1)."""
from __future__ import annotations

from typing import Sequence

import keras

from kaudio.dtypes import dtype_policy_scope
from kaudio.models.backbone import Backbone
from kaudio.models.l3.trunk import l3_conv_trunk
from kaudio.registry import register
from kaudio.spec.schema import Field, Schema


class L3Backbone(Backbone):
    """Base of the two L3 subnetworks: the shared trunk on a (height, width, channels) input.

    ``get_config`` / ``from_config`` / ``from_spec`` / ``from_preset`` come from
    :class:`~kaudio.models.backbone.Backbone`; the presets are in :mod:`kaudio.models.l3.l3_presets`.

    Args:
        feature_shape: (height, width, channels) of the input — (freq, time, 1) spectrograms for
            audio, (224, 224, 3) images for vision. ``None`` entries allow variable sizes.
        filters: channels per block; two convolutions each, the last one linear.
        l2_regularization: L2 factor on conv kernels (1e-5 in OpenL3).
        embedding_bn_relu: follow the embedding conv with batch normalisation and ReLU, as the
            audio-visual correspondence network is trained (marl/l3embedding's towers); the
            embedding that openl3 releases taps the conv *before* them (the layer named
            ``embedding_layer_name``), so the released networks have ``False``.
        dtype: dtype policy of every layer (``"mixed_bfloat16"`` …; ``None``: the policy in force).
    """

    embedding_layer_name = ""
    pool_padding = "valid"
    first_block_orders = ("conv_bn_act", "conv_bn_act")
    default_feature_shape: tuple = ()

    spec_schema = Schema((
        Field("filters", list, [64, 128, 256, 512], "channels of each two-conv block", item_kind=int, minimum=1),
        Field("l2_regularization", float, 1e-5, "L2 factor on conv kernels", minimum=0),
        Field("embedding_bn_relu", bool, False, "batch norm + ReLU after the embedding conv (the audio-visual "
              "training network; the released embedding taps the conv before them)"),
    ))

    def __init__(self, feature_shape: Sequence[int | None] | None = None, filters: Sequence[int] = (64, 128, 256, 512),
                 l2_regularization: float = 1e-5, embedding_bn_relu: bool = False, dtype=None, **kwargs):
        feature_shape = tuple(feature_shape or self.default_feature_shape)
        # === Layers === (created by the shared trunk) / === Functional Model ===
        with dtype_policy_scope(dtype):
            inputs = keras.Input(shape=feature_shape, name="features")
            outputs = l3_conv_trunk(inputs, filters, l2=l2_regularization, pool_padding=self.pool_padding,
                                    embedding_layer_name=self.embedding_layer_name,
                                    first_block_orders=self.first_block_orders)
            if embedding_bn_relu:
                outputs = keras.layers.BatchNormalization(name=f"{self.embedding_layer_name}_bn")(outputs)
                outputs = keras.layers.Activation("relu", name=f"{self.embedding_layer_name}_relu")(outputs)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        # === Config ===
        self.feature_shape = feature_shape
        self.filters = [int(f) for f in filters]
        self.l2_regularization = float(l2_regularization)
        self.embedding_bn_relu = bool(embedding_bn_relu)

    @classmethod
    def spec_output_shape(cls, params: dict, feature_shape: tuple) -> tuple[tuple | None, list[tuple[str, str]]]:
        """The embedding map after ``len(filters) - 1`` 2×2 max-pools ('valid' floors, 'same' rounds up)."""
        if len(feature_shape) != 3:
            return None, [("", f"{cls.registered_name} needs a (height, width, channels) input, got {tuple(feature_shape)}")]
        pools = len(params["filters"]) - 1
        sizes = []
        for size in feature_shape[:2]:
            if size is not None:
                if cls.pool_padding == "valid" and size < 2 ** pools or size < 1:
                    return None, [("", f"the input is {tuple(feature_shape)}: {pools} max-pools of 2x2 ('{cls.pool_padding}') "
                                       f"need at least {2 ** pools} rows and columns, got {size}; give the front end "
                                       "more bins/frames (e.g. frontend.n_mels) or the backbone fewer filters")]
                size = size // 2 ** pools if cls.pool_padding == "valid" else -(-size // 2 ** pools)
            sizes.append(size)
        return (*sizes, params["filters"][-1]), []


@keras.saving.register_keras_serializable(package="kaudio")
@register("backbone", "l3_audio")
class L3AudioBackbone(L3Backbone):
    """The OpenL3 audio network on a (freq, time, 1) spectrogram (``_construct_mel256_audio_network``
    and its linear / mel128 siblings in ``marl/openl3`` ``openl3/models.py``).

    Output: the linear ``audio_embedding_layer`` map, e.g. (32, 24, 512) for a 1-s mel256 input.
    4,689,860 parameters with the default filters (computed from the layer shapes) for linear,
    mel128 and mel256.
    """

    embedding_layer_name = "audio_embedding_layer"
    pool_padding = "valid"
    default_feature_shape = (256, 199, 1)


@keras.saving.register_keras_serializable(package="kaudio")
@register("backbone", "l3_image")
class L3ImageBackbone(L3Backbone):
    """The OpenL3 vision network on a (224, 224, 3) image (``_construct_image_network`` in
    ``openl3/models.py``); output ``vision_embedding_layer`` (28, 28, 512), 4,691,020 parameters.

    Two quirks of the released network are kept: the second conv of block 1 is
    Conv → ReLU → BN, and the max-pools use 'same' padding.
    """

    embedding_layer_name = "vision_embedding_layer"
    pool_padding = "same"
    first_block_orders = ("conv_bn_act", "conv_act_bn")
    default_feature_shape = (224, 224, 3)
