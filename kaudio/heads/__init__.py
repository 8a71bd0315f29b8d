"""Heads: what the model outputs on top of the backbone's feature map."""
from kaudio.heads.embedding_pool import EmbeddingPoolHead, GridMaxPoolEmbedding
from kaudio.heads.hierarchical import FlatHead, GAPHead, GMPHead, HierarchicalHead, LevelwiseHead, LPHead, ResAttHead, TopDownHead
from kaudio.heads.tagging import ClassifierHead, TaggerHead
from kaudio.heads.pooling import GlobalPoolHead
from kaudio.heads.fusion import ConcatMLPFusion
from kaudio.heads.sed import (AttentionPoolingSEDHead, GlobalAveragePoolingSEDHead, GlobalMaxPoolingSEDHead,
                              GlobalWeightedRankPoolingSEDHead, SEDHead, TwoStepAttentionAEHead)

__all__ = ["AttentionPoolingSEDHead", "ClassifierHead", "ConcatMLPFusion", "EmbeddingPoolHead", "GlobalAveragePoolingSEDHead",
           "GlobalMaxPoolingSEDHead", "GlobalPoolHead", "GlobalWeightedRankPoolingSEDHead", "FlatHead", "GAPHead", "GMPHead",
           "GridMaxPoolEmbedding", "HierarchicalHead", "LPHead", "LevelwiseHead", "ResAttHead", "SEDHead", "TaggerHead",
           "TopDownHead", "TwoStepAttentionAEHead"]
