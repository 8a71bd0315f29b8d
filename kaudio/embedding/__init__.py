"""OpenL3-style embeddings: audio arrays and files, images, videos (see ``kaudio.embed``)."""
