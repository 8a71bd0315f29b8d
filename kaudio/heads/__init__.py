"""Heads: what the model outputs on top of the backbone's feature map."""
from kaudio.heads.embedding_pool import EmbeddingPoolHead, GridMaxPoolEmbedding

__all__ = ["EmbeddingPoolHead", "GridMaxPoolEmbedding"]
