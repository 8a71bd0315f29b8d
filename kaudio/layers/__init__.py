"""kaudio's custom Keras layers (all ``register_keras_serializable(package="kaudio")``)."""
from kaudio.layers.decibel import Decibel
from kaudio.layers.hierarchical import GroupedPooling, LinearProjection, ResidualAttention, TopDownSoftTree
from kaudio.layers.padding import FramePadding
from kaudio.layers.spectral import MelFilterbank, Power

__all__ = ["Decibel", "FramePadding", "GroupedPooling", "LinearProjection", "MelFilterbank", "Power", "ResidualAttention",
           "TopDownSoftTree"]
