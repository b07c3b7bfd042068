"""Language-model and embedding backends. Imports none of our other packages."""

from models.embeddings import EMBEDDING_BACKENDS, Embedder, EmbedderConfig, make_embedder
from models.errors import ModelError

__all__ = ["EMBEDDING_BACKENDS", "Embedder", "EmbedderConfig", "ModelError", "make_embedder"]
