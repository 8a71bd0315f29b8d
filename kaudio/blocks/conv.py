"""Convolutional building blocks shared by every backbone (L3, and later CNN14/CNN10, OFA, 2APAE).

Blocks are functions that create standard Keras layers, so models built from them serialise with
no custom objects and keep a predictable, ordered list of weighted layers.

``dtype``: the Keras dtype policy of the block's layers (e.g. ``"mixed_bfloat16"``); ``None``
keeps the policy in force, so a block inside a backbone built under a policy
(:func:`kaudio.dtypes.dtype_policy_scope`) gets the backbone's.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from kaudio.dtypes import dtype_policy_scope

ORDERS = ("conv_bn_act", "conv_act_bn")


def conv_bn_act(x, filters: int, kernel_size: int | Sequence[int] = 3, *, name: str, l2: float | None = None,
                use_bias: bool = True, kernel_initializer: str = "he_normal", bn_epsilon: float = 1e-3,
                bn_momentum: float = 0.99, activation: str | None = "relu", order: str = "conv_bn_act", dtype=None,
                conv_class: type = layers.Conv2D, bn_class: type = layers.BatchNormalization):
    """Conv2D ('same', stride 1) → BatchNormalization → activation (or → activation → BN).

    Layer names: ``{name}_conv``, ``{name}_bn``, ``{name}_{activation}``. With ``activation=None``
    no activation layer is added. ``dtype``: dtype policy of the layers (module docstring).
    ``conv_class`` / ``bn_class``: drop-in subclasses of ``Conv2D`` / ``BatchNormalization``
    taking the same arguments (the once-for-all supernet's elastic-width layers,
    :mod:`kaudio.layers.elastic`).
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    regularizer = keras.regularizers.L2(l2) if l2 else None
    with dtype_policy_scope(dtype):
        x = conv_class(filters, kernel_size, padding="same", use_bias=use_bias,
                       kernel_initializer=kernel_initializer, kernel_regularizer=regularizer, name=f"{name}_conv")(x)
        bn = bn_class(epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn")
        act = layers.Activation(activation, name=f"{name}_{activation}") if activation else None
    if order == "conv_bn_act" or act is None:
        x = bn(x)
        return act(x) if act else x
    return bn(act(x))


def conv_block(x, filters: int, *, name: str, convs: int = 2, pool_size: int | Sequence[int] | None = (2, 2),
               pool_type: str = "max", pool_padding: str = "valid", dropout: float = 0.0,
               orders: Sequence[str] | None = None, dtype=None, **conv_kwargs):
    """``convs`` × :func:`conv_bn_act`, then pooling (``max``/``avg``, stride = pool size) and dropout.

    Sub-layer names: ``{name}_conv{i}_*`` (i from 1), ``{name}_pool``, ``{name}_dropout``.
    ``orders`` gives the conv/BN/activation order per conv (default all ``conv_bn_act``);
    ``dtype`` the dtype policy of every layer (module docstring).
    """
    orders = list(orders) if orders else ["conv_bn_act"] * convs
    with dtype_policy_scope(dtype):
        for i in range(convs):
            x = conv_bn_act(x, filters, name=f"{name}_conv{i + 1}", order=orders[i], **conv_kwargs)
    return pool_dropout(x, name=name, pool_size=pool_size, pool_type=pool_type, pool_padding=pool_padding,
                        dropout=dropout, dtype=dtype)


def pool_dropout(x, *, name: str, pool_size: int | Sequence[int] | None = (2, 2), pool_type: str = "max",
                 pool_padding: str = "valid", dropout: float = 0.0, dtype=None):
    """The end of a :func:`conv_block`: pooling (``max``/``avg``, stride = pool size; none when
    ``pool_size`` is ``None``) and dropout, named ``{name}_pool``, ``{name}_dropout``. Separate so a
    block that joins its convs in its own way (the supernet's elastic depth) ends like the others."""
    with dtype_policy_scope(dtype):
        if pool_size is not None:
            pool_cls = {"max": layers.MaxPooling2D, "avg": layers.AveragePooling2D}[pool_type]
            x = pool_cls(pool_size, padding=pool_padding, name=f"{name}_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x
