"""Language-model and embedding backends, each kind behind one interface and one registry.

    registry.py                  backend names -> where each backend lives (imported on first use)
    embeddings.py, chat.py       the interfaces and their configs; names are checked against the registry
    *_embedder.py, *_chat.py     the backends; each imports only its interface module

Imports none of our other packages but ``core``.
"""

from models.embeddings import Embedder, EmbedderConfig, make_embedder
from models.registry import CHAT_MODELS, EMBEDDERS

__all__ = ["CHAT_MODELS", "EMBEDDERS", "Embedder", "EmbedderConfig", "make_embedder"]
