"""Shared building blocks."""
from kaudio.blocks.conv import conv_block, conv_bn_act, pool_dropout

__all__ = ["conv_block", "conv_bn_act", "pool_dropout"]
