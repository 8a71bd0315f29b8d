"""The convolutional trunk shared by the L3-Net audio and vision subnetworks.

Cramer et al. §2 (and Arandjelović & Zisserman's L3-Net): four blocks of two 3×3 convolutions
with batch norm and ReLU, 2×2 max pooling after the first three, channels 64/128/256/512; the
last convolution is linear and its output is the embedding map. Layer settings follow the
released OpenL3 networks (``marl/openl3`` ``openl3/models.py``): he_normal init, L2 1e-5 on kernels,
Keras BN defaults.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from kaudio.blocks import conv_block, conv_bn_act
from kaudio.dtypes import dtype_policy_scope


def l3_conv_trunk(x, filters: Sequence[int], *, l2: float, pool_padding: str, embedding_layer_name: str,
                  first_block_orders: Sequence[str] = ("conv_bn_act", "conv_bn_act"), dtype=None):
    """Input BN → blocks (2 convs + max-pool) for ``filters[:-1]`` → conv-BN-ReLU → linear embedding conv.

    Weighted layers, in order (what openl3's order-based ``.h5`` files expect): input BN, then
    per conv its kernel and its BN, the embedding conv last (16 weighted layers for 4 blocks).
    ``dtype``: the dtype policy of every layer (``None``: the policy in force).
    """
    regularizer = keras.regularizers.L2(l2) if l2 else None
    with dtype_policy_scope(dtype):
        x = layers.BatchNormalization(name="input_bn")(x)
        for i, f in enumerate(filters[:-1]):
            orders = first_block_orders if i == 0 else None
            x = conv_block(x, f, name=f"block{i + 1}", pool_padding=pool_padding, orders=orders, l2=l2)
        last = len(filters)
        x = conv_bn_act(x, filters[-1], name=f"block{last}_conv1", l2=l2)
        return layers.Conv2D(filters[-1], 3, padding="same", kernel_initializer="he_normal",
                             kernel_regularizer=regularizer, name=embedding_layer_name)(x)
