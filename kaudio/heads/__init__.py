"""Heads: what the model outputs on top of the backbone's feature map."""
from kaudio.heads.embedding_pool import EmbeddingPoolHead, GridMaxPoolEmbedding
from kaudio.heads.hierarchical import FlatHead, GAPHead, GMPHead, HierarchicalHead, LevelwiseHead, LPHead, ResAttHead, TopDownHead
from kaudio.heads.tagging import TaggerHead

__all__ = ["EmbeddingPoolHead", "FlatHead", "GAPHead", "GMPHead", "GridMaxPoolEmbedding", "HierarchicalHead", "LPHead",
           "LevelwiseHead", "ResAttHead", "TaggerHead", "TopDownHead"]
