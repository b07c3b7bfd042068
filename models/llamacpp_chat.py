"""The local chat backend: a GGUF model run in-process by llama-cpp-python.

A model is loaded once per process and shared; llama.cpp contexts are not thread-safe, so
calls into one model are serialised.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from core.errors import ModelError
from models.chat import ChatBackend, ChatConfig, approx_tokens

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
    temperature: float = 0.0  # greedy: the same question and sources give the same answer
    max_tokens: int = 512
    # Small models fall into loops ("The answer is: … The answer is: …"); llama.cpp's
    # default of 1.0 applies no penalty.
    repeat_penalty: float = 1.1
    # One answer's time limit: past it the model is made to end its answer (what it wrote so far is its reply),
    # so a model stuck writing on a busy machine never holds the question, or the lock, for good.
    timeout_s: float = 120.0
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
            # Evaluate every prompt from scratch: reusing the previous prompt's cached prefix changes how
            # the rest is batched, and with it the floating-point sums, so the same question could get
            # a different greedy answer depending on what was asked before.
            llm.reset()
            try:
                out = llm.create_chat_completion(
                    messages=payload, temperature=kwargs.get("temperature", self.temperature),
                    max_tokens=kwargs.get("max_tokens", self.max_tokens), stop=stop,
                    repeat_penalty=kwargs.get("repeat_penalty", self.repeat_penalty),
                    logits_processor=_deadline(llm, self.timeout_s),
                )
            except ValueError as exc:  # e.g. the prompt does not fit the context window
                raise ModelError(f"the local model refused the request: {exc}") from exc
            except RuntimeError as exc:  # llama_decode failed, e.g. the KV cache ran out mid-answer
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


    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        """The same completion as ``_generate``, token by token (LangChain reports each to the callbacks)."""
        llm = self._model()
        payload = [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        with self._lock:
            llm.reset()  # as in _generate: the same answer, streamed or not
            try:
                pieces = llm.create_chat_completion(
                    messages=payload, temperature=kwargs.get("temperature", self.temperature),
                    max_tokens=kwargs.get("max_tokens", self.max_tokens), stop=stop,
                    repeat_penalty=kwargs.get("repeat_penalty", self.repeat_penalty), stream=True,
                    logits_processor=_deadline(llm, self.timeout_s),
                )
                written = ""
                for piece in pieces:
                    choice = piece["choices"][0]
                    text = (choice.get("delta") or {}).get("content") or ""
                    finish = choice.get("finish_reason")
                    written += text
                    if finish:  # llama.cpp's stream reports no usage: the context and the text tell it
                        used = _usage(llm.n_tokens + (finish == "length"), self.count_tokens(written))
                        yield ChatGenerationChunk(message=AIMessageChunk(
                            content=text, usage_metadata=used,
                            response_metadata={"finish_reason": finish, "model_name": self._version}))
                    elif text:
                        yield ChatGenerationChunk(message=AIMessageChunk(content=text))
            except ValueError as exc:
                raise ModelError(f"the local model refused the request: {exc}") from exc
            except RuntimeError as exc:
                raise ModelError(f"the local model failed: {exc}; try a larger LOCAL_CONTEXT_TOKENS") from exc


def _deadline(llm, seconds: float):
    """A llama.cpp logits processor that leaves only the end-of-text token once ``seconds`` have passed."""
    import numpy as np
    from llama_cpp import LogitsProcessorList

    deadline = time.monotonic() + seconds
    end = llm.token_eos()

    def end_when_late(input_ids, scores):
        if time.monotonic() < deadline:
            return scores
        ended = np.full_like(scores, -np.inf)
        ended[end] = 0.0
        return ended

    return LogitsProcessorList([end_when_late])


def _usage(total: int, written: int) -> dict:
    """Token usage of a streamed completion: ``total`` tokens (the prompt and every token written; the last one
    of an answer cut at max_tokens is never evaluated into the context), ``written`` of them the answer's
    (its text tokenized again: a character of several tokens comes as one piece)."""
    written = min(written, total)
    return {"input_tokens": total - written, "output_tokens": written, "total_tokens": total}


def _build(config: ChatConfig) -> BaseChatModel:
    return LlamaCppChat(model_path=config.model_path, context_tokens=config.context_tokens, threads=config.threads,
                        temperature=config.temperature, max_tokens=config.max_tokens, timeout_s=config.timeout_s)


def _model_name(config: ChatConfig) -> str:
    return f"llamacpp/{os.path.basename(config.model_path)}"


def _count_tokens(model: BaseChatModel, text: str) -> int:
    # A model built by ChatModels is a LlamaCppChat; anything else gets the estimate.
    return model.count_tokens(text) if isinstance(model, LlamaCppChat) else approx_tokens(text)


BACKEND = ChatBackend(build=_build, model_name=_model_name, count_tokens=_count_tokens)
