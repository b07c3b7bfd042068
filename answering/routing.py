"""Which model answers, and what happens when it cannot.

Confidential collections always stay on the local model; otherwise the question's own choice, then
MODEL_POLICY. Under ``auto`` a hosted outage falls back to the local model, once per question, and
the user is told. Token usage and fallbacks are written to the run's log record.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig

from answering import prompts
from answering.context import Source, build_sources
from answering.run import Run
from answering.types import PipelineConfig
from models.chat import ChatModels, ModelUnavailable, invoke_chat

log = logging.getLogger(__name__)


class ModelRouter:
    """Picks the backend for a step and calls it, with the local fallback; thread-safe."""

    def __init__(self, config: PipelineConfig, models: ChatModels) -> None:
        self.config = config
        self.models = models

    def backend_for(self, collections: set[str] | None, requested: str | None) -> str:
        """Confidential collections always stay local; otherwise the question's model, then MODEL_POLICY.

        ``collections`` None means "could be any collection" (the rewrite step, before retrieval).
        """
        confidential = self.config.confidential
        if confidential and (collections is None or collections & confidential):
            return "local"
        if requested:
            return requested
        if self.config.policy == "auto":
            return "hosted" if self.config.hosted_configured else "local"
        return self.config.policy

    def ask(self, backend: str, question: str, run: Run, config: RunnableConfig, stream: bool = False,
            sources: list[Source] | None = None) -> tuple[list[Source], AIMessage, str]:
        """Ask ``backend`` from ``sources`` (by default as many as fit its window; ``stream``: token by token, to
        the callbacks of ``config``); on a hosted outage under auto, ask local instead, from the sources that
        fit its window. Returns the sources given, the reply and the backend that gave it."""
        streaming = {"stream": True} if stream else {}
        if self.settle(backend, run) != backend:
            backend, sources = "local", None
        try:
            sources = sources or self.fit_sources(backend, question, run)
            reply = self.call(backend, answer_messages(question, sources, run), config, run, fallback=False,
                              **streaming)
            return sources, reply, backend
        except ModelUnavailable as exc:
            if not self._may_fall_back(backend, run):
                raise
            self._note_fallback(run, exc, tell_user=True)
            sources = self.fit_sources("local", question, run)
            reply = self.call("local", answer_messages(question, sources, run), config, run, fallback=False,
                              **streaming)
            return sources, reply, "local"

    def settle(self, backend: str, run: Run) -> str:
        """The backend that will answer: ``backend``, or local when the hosted model already failed this
        run's rewrite under auto (do not wait for it twice)."""
        if self._may_fall_back(backend, run) and run.log.fallback_reason:
            self._note_fallback(run, None, tell_user=True)
            return "local"
        return backend

    def fit_sources(self, backend: str, question: str, run: Run) -> list[Source]:
        """As many of the run's hits as ``backend``'s context window leaves room for, numbered."""
        window = self.models.config(backend).context_tokens
        prompt = "\n".join(str(m.content) for m in answer_messages(question, [], run))
        overhead = self.models.count_tokens(backend, prompt) + 64
        budget = min(self.config.source_tokens, window - self.config.max_tokens - overhead)
        if budget < 100:
            raise ValueError(f"the {backend} model's context window ({window} tokens) leaves no room for sources")
        return build_sources(run.hits, budget, lambda t: self.models.count_tokens(backend, t))

    def call(self, backend: str, messages, config: RunnableConfig, run: Run, fallback: bool = True,
             **kwargs: Any) -> AIMessage:
        """One chat call; with ``fallback``, a hosted outage under auto is retried on the local model."""
        try:
            reply = self._invoke(backend, messages, config, run, **kwargs)
        except ModelUnavailable as exc:
            if not (fallback and self._may_fall_back(backend, run)):
                raise
            self._note_fallback(run, exc, tell_user=False)
            reply = self._invoke("local", messages, config, run, **kwargs)
        usage = reply.usage_metadata or {}
        run.log.input_tokens = (run.log.input_tokens or 0) + int(usage.get("input_tokens", 0))
        run.log.output_tokens = (run.log.output_tokens or 0) + int(usage.get("output_tokens", 0))
        return reply

    def _invoke(self, backend: str, messages, config: RunnableConfig, run: Run, **kwargs: Any) -> AIMessage:
        """A hosted model sees placeholders for the personal data in the question, thread and sources
        (HOSTED_REDACT); the placeholders it writes back are turned into their values again."""
        if backend != "hosted" or not self.config.hosted_redact:
            return invoke_chat(self.models.get(backend), messages, config=config, **kwargs)
        hidden = [m.model_copy(update={"content": run.pseudonyms.hide(str(m.content))}) for m in messages]
        reply = invoke_chat(self.models.get(backend), hidden, config=config, **kwargs)
        return reply.model_copy(update={"content": run.pseudonyms.reveal(str(reply.content))})

    def _may_fall_back(self, backend: str, run: Run) -> bool:
        return backend == "hosted" and self.config.policy == "auto" and run.question.model is None

    def _note_fallback(self, run: Run, exc: Exception | None, tell_user: bool) -> None:
        if exc is not None:
            log.warning("hosted model unavailable, using the local model: %s", exc)
            run.log.fallback_reason = str(exc)[:1000]
        if tell_user and prompts.FALLBACK[run.language] not in run.notices:
            run.notices.append(prompts.FALLBACK[run.language])


def render(sources: list[Source]) -> str:
    """The numbered sources as the model sees them."""
    return "\n\n".join(src.render() for src in sources)


def answer_messages(question: str, sources: list[Source], run: Run, retry: bool = False) -> list:
    """The generation prompt for ``run``: its language, and its channel's style."""
    return prompts.answer_messages(question, render(sources), run.language, retry=retry, style=run.question.style)
