"""Deterministic fakes of our own interfaces (never of the code under test)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from models.chat import ChatConfig, ChatModels
from models.embeddings import Embedder, EmbedderConfig


class FakeEmbedder(Embedder):
    """Hashed bag of words: texts sharing words get similar vectors. Fast and repeatable."""

    def __init__(self, dim: int = 384, tag: str = "hash") -> None:
        super().__init__(EmbedderConfig(batch_size=64))
        self._fixed_dim = dim
        self.tag = tag
        self.calls = 0

    @property
    def name(self) -> str:
        return f"fake/{self.tag}-{self._fixed_dim}"

    def _load(self) -> None:
        self._dim = self._fixed_dim

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        # Real embeddings share a common direction; fully orthogonal vectors would make
        # outliers that HNSW graphs cannot reach, which no real model produces.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = out / np.where(norms == 0, 1.0, norms)
        out[:, 0] += 0.6
        return out


class ScriptedChat(BaseChatModel):
    """A chat model that replies with the given texts in order (the last one repeats) and keeps the prompts."""

    replies: list[str]
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    gate: Any = None  # a threading.Event the model waits for before replying (a deliberately slow model)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        if self.gate is not None:
            self.gate.wait(120)
        self.prompts.append(list(messages))
        reply = self.replies[min(len(self.prompts), len(self.replies)) - 1]
        message = AIMessage(reply, usage_metadata={"input_tokens": 100, "output_tokens": 10, "total_tokens": 110},
                            response_metadata={"model_name": "scripted-1"})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any):
        """The scripted reply a word at a time (what a streaming caller sees)."""
        reply = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
        for piece in re.findall(r"\S+\s*|\s+", str(reply.content)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=reply.usage_metadata,
                                                         response_metadata=reply.response_metadata))


class ScriptedModels(ChatModels):
    """ChatModels whose every backend is the one scripted model."""

    def __init__(self, model: ScriptedChat, context_tokens: int = 4096) -> None:
        super().__init__(lambda backend: ChatConfig(backend=backend, model="scripted", model_path="scripted.gguf",
                                                    context_tokens=context_tokens))
        self.model = model

    def get(self, backend: str) -> BaseChatModel:
        return self.model

    def count_tokens(self, backend: str, text: str) -> int:
        return len(text) // 4 + 1
