"""kaudio's custom Keras layers (all ``register_keras_serializable(package="kaudio")``)."""
from kaudio.layers.augment import SeededSpecAugment
from kaudio.layers.decibel import Decibel
from kaudio.layers.elastic import ElasticBatchNormalization, ElasticConv2D, ElasticDense, ElasticDepth
from kaudio.layers.hierarchical import GroupedPooling, LinearProjection, ResidualAttention, TopDownSoftTree
from kaudio.layers.padding import FramePadding
from kaudio.layers.sed import FrequencyMean, GlobalWeightedRankPooling, TimeAttentionPooling, TwoStepAttention
from kaudio.layers.spectral import MelFilterbank, Power
from kaudio.layers.standardize import Standardization, feature_statistics

__all__ = ["Decibel", "ElasticBatchNormalization", "ElasticConv2D", "ElasticDense", "ElasticDepth", "FramePadding",
           "FrequencyMean", "GlobalWeightedRankPooling", "GroupedPooling", "LinearProjection", "MelFilterbank", "Power",
           "ResidualAttention", "SeededSpecAugment", "Standardization", "TimeAttentionPooling", "TopDownSoftTree", "TwoStepAttention",
           "feature_statistics"]
