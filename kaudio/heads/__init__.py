"""Heads: what the model outputs on top of the backbone's feature map."""
from kaudio.heads.embedding_pool import EmbeddingPoolHead, GridMaxPoolEmbedding
from kaudio.heads.hierarchical import FlatHead, GAPHead, GMPHead, HierarchicalHead, LevelwiseHead, LPHead, ResAttHead, TopDownHead  # noqa: F401
from kaudio.heads.tagging import TaggerHead  # noqa: F401

__all__ = ["EmbeddingPoolHead", "GridMaxPoolEmbedding", "TaggerHead"]
