"""Language-model and embedding backends. Imports none of our other packages but ``core``."""

from models.embeddings import EMBEDDING_BACKENDS, Embedder, EmbedderConfig, make_embedder

__all__ = ["EMBEDDING_BACKENDS", "Embedder", "EmbedderConfig", "make_embedder"]
