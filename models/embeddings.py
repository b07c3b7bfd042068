"""One embedding interface, several backends, picked by name from settings.

Every backend is a LangChain ``Embeddings`` with two more facts: ``name`` (recorded
with each collection, so vectors from different models are never mixed) and ``dim``.
Backends subclass ``Embedder`` and are registered by name in ``models.registry.EMBEDDERS``.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from core.errors import InvalidInput, ModelError
from models.registry import EMBEDDERS


@dataclass(frozen=True)
class EmbedderConfig:
    """Plain values an embedding backend is built from."""

    backend: str = EMBEDDERS.default
    model: str = ""
    model_path: str = ""
    base_url: str = ""
    api_key: str = ""
    dimensions: int | None = None
    query_prefix: str = ""
    document_prefix: str = ""
    threads: int | None = None
    batch_size: int = 32
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        EMBEDDERS.check(self.backend)
        if self.batch_size < 1:
            raise InvalidInput("embedding batch size must be at least 1")
        if self.dimensions is not None and self.dimensions < 1:
            raise InvalidInput("embedding dimensions must be positive")


class Embedder(Embeddings):
    """Base for our backends: L2-normalised float vectors, loaded lazily and once."""

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._loaded = False

    @property
    @abstractmethod
    def name(self) -> str:
        """Identifies the vectors: two embedders with the same name give comparable vectors."""

    @property
    def dim(self) -> int:
        self._ensure_loaded()
        return self._dim

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @abstractmethod
    def _load(self) -> None:
        """Load weights or open the client; must set ``self._dim``."""

    @abstractmethod
    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Return an (n, dim) float32 array for ``texts``."""

    def embed_array(self, texts: list[str], *, is_query: bool = False) -> np.ndarray:
        """Embed ``texts`` in batches; rows are L2-normalised."""
        self._ensure_loaded()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        size = self.config.batch_size
        parts = [self._embed(texts[i : i + size], is_query) for i in range(0, len(texts), size)]
        vectors = np.vstack(parts).astype(np.float32, copy=False)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text], is_query=True)[0].tolist()


def make_embedder(config: EmbedderConfig) -> Embedder:
    """Build the backend named by ``config.backend`` (weights load on first use)."""
    try:
        return EMBEDDERS.load(config.backend)(config)
    except ImportError as exc:
        raise ModelError(
            f"embedding backend {config.backend!r} needs a package that is not installed ({exc.name}); "
            "see the README's configuration table"
        ) from exc
