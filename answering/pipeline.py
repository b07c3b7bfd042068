"""The answering pipeline as a LangChain runnable graph.

    help? ── yes ─> onboarding text with example questions           (no model)
      │ no
    approved-answer cache ── hit ─> cached answer                    (no model)
      │ miss
    rewrite (only with thread history) -> hybrid retrieval
      │
    relevant? ── no ─> "I don't know" + the closest sources          (no model)
      │ yes
    generate (hosted / local by policy; local fallback) -> language check -> citation check

Every question ends in exactly one interaction-log row, including the ones that failed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableBranch, RunnableConfig, RunnableLambda
from sqlalchemy import Engine

from answering import prompts
from answering.citations import check_citations
from answering.context import Source, build_sources
from answering.language import detect_language
from answering.relevance import best_similarity
from feedback.log import Interaction, record
from models.chat import ChatModels, ModelUnavailable, invoke_chat
from retrieval.loaders import clean_text
from retrieval.search import MAX_QUERY_CHARS, RetrievalParams, Searcher, SearchHit
from retrieval.store import document_hashes

log = logging.getLogger(__name__)

POLICIES = ("auto", "hosted", "local")
ROUTES = ("help", "cached", "dont_know", "answer", "rejected", "error")
MAX_HISTORY_TURNS = 6
MAX_HISTORY_CHARS = 600


@dataclass(frozen=True)
class PipelineConfig:
    """How to answer: model policy, the "I don't know" threshold, the token budgets, onboarding examples."""

    policy: str = "auto"
    confidential: frozenset[str] = frozenset()
    hosted_configured: bool = False
    # Best cosine similarity (default embedder) below which nothing counts as relevant;
    # chosen with `python -m bot eval relevance` (see README).
    relevance_threshold: float = 0.845
    max_tokens: int = 400
    source_tokens: int = 1800
    examples: tuple[str, ...] = (
        "How many vacation days do employees in Seoul get?",
        "What does VPN-ERR-619 mean?",
        "경비 정산은 며칠 안에 해야 하나요?",
    )
    retrieval: RetrievalParams = RetrievalParams()
    closest_sources: int = 3

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"MODEL_POLICY must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if self.policy == "hosted" and not self.hosted_configured:
            raise ValueError("MODEL_POLICY=hosted needs HOSTED_MODEL (and HOSTED_BASE_URL or AZURE_OPENAI_ENDPOINT)")
        if not 0 <= self.relevance_threshold <= 1:
            raise ValueError("RELEVANCE_THRESHOLD is a cosine similarity between 0 and 1")


@dataclass(frozen=True)
class Question:
    """One question as plain values; Slack details are optional and only logged."""

    text: str
    history: tuple[tuple[str, str], ...] = ()  # (role "user" | "assistant", text), oldest first
    collections: tuple[str, ...] | None = None  # None = every collection
    model: str | None = None  # "hosted" | "local" overrides MODEL_POLICY
    origin: str = "cli"
    asker: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    use_cache: bool = True  # False: "ask the model instead" of a cached answer


@dataclass
class Answer:
    text: str
    route: str
    language: str
    sources: list[Source] = field(default_factory=list)  # cited ones (closest ones for "dont_know")
    uncited: list[Source] = field(default_factory=list)  # given to the model but not cited
    verified: bool | None = None
    language_ok: bool | None = None
    language_retried: bool = False  # the first answer was in another language
    notices: list[str] = field(default_factory=list)
    model: str | None = None
    model_calls: int = 0
    rewritten_question: str | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    interaction_id: int | None = None
    error: str | None = None
    cached_answer_id: int | None = None  # route "cached": the entry served
    approvals: int = 0  # route "cached": people who approved it
    curated: bool = False  # route "cached": written by an admin


class AnswerCache(Protocol):
    """Approved answers served without a model call (``answering.cache.ApprovedAnswers``)."""

    def lookup(self, question: Question, language: str) -> Answer | None: ...


class NoCache:
    def lookup(self, question: Question, language: str) -> Answer | None:
        return None


class ModelCallCounter(BaseCallbackHandler):
    """Counts chat/LLM calls made under one pipeline run, whatever the backend."""

    def __init__(self) -> None:
        self.calls = 0

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls += 1

    def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.calls += 1


@dataclass
class _State:
    question: Question
    text: str
    language: str
    log: Interaction
    search_text: str = ""
    keyword_text: str = ""
    hits: list[SearchHit] = field(default_factory=list)
    answer: Answer | None = None
    notices: list[str] = field(default_factory=list)


_HELP = re.compile(
    r"^(help|hi|hello|hey|start|what can you do|how do i use (you|this)|도움말|도움|안녕|안녕하세요|사용법|"
    r"뭘 할 수 있어|무엇을 할 수 있나요|뭐 할 수 있어)?$"
)


def is_help(text: str) -> bool:
    """A bare mention, "help", a greeting: things that ask what the bot does, not a question."""
    return bool(_HELP.match(re.sub(r"[\s\W_]+", " ", text.lower()).strip()))


class Pipeline:
    """Answers a Question; build once and share (thread-safe)."""

    def __init__(self, config: PipelineConfig, searcher: Searcher, models: ChatModels, engine: Engine,
                 cache: AnswerCache | None = None) -> None:
        self.config = config
        self.searcher = searcher
        self.models = models
        self.engine = engine
        self.cache = cache or NoCache()
        self.graph = self._build_graph()

    def _build_graph(self):
        answer_path = (
            RunnableLambda(self._rewrite, name="rewrite")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableBranch(
                (lambda s: not self._relevant(s.hits), RunnableLambda(self._dont_know, name="dont_know")),
                RunnableLambda(self._generate, name="generate"),
            )
        )
        return RunnableBranch(
            (lambda s: is_help(s.text), RunnableLambda(self._help, name="help")),
            RunnableLambda(self._lookup_cache, name="cache")
            | RunnableBranch((lambda s: s.answer is not None, RunnableLambda(lambda s: s, name="cached")),
                             answer_path),
        )

    # -- entry point ------------------------------------------------------------------------

    def answer(self, question: Question) -> Answer:
        """Run the graph; whatever happens, log one interaction and return an Answer."""
        started = time.perf_counter()
        text = clean_text(question.text).strip()
        language = detect_language(text)
        if language == "unknown":
            language = detect_language(" ".join(t for _, t in question.history)) if question.history else "en"
            language = "en" if language == "unknown" else language
        entry = Interaction(
            question=text[:20000], origin=question.origin, asker=question.asker, channel=question.channel,
            thread_ts=question.thread_ts, message_ts=question.message_ts, language=language,
            collections=list(question.collections) if question.collections else None,
        )
        state = _State(question=question, text=text, language=language, log=entry)
        counter = ModelCallCounter()
        try:
            if len(text) > MAX_QUERY_CHARS:
                state.answer = Answer(prompts.TOO_LONG[language].format(n=len(text), limit=MAX_QUERY_CHARS),
                                      route="rejected", language=language)
            else:
                config: RunnableConfig = {"callbacks": [counter], "run_name": "answer"}
                state = self.graph.invoke(state, config=config)
        except Exception as exc:  # the edge of the pipeline: log it, answer with an apology
            log.exception("answering failed")
            entry.error = f"{type(exc).__name__}: {exc}"[:4000]
            state.answer = Answer("", route="error", language=language, error=entry.error)
        answer = state.answer
        answer.model_calls = counter.calls
        answer.latency_ms = {**entry.latency_ms, "total": _ms(started)}
        answer.rewritten_question = entry.rewritten_question
        entry.route = answer.route
        entry.latency_ms = answer.latency_ms
        entry.answer = answer.text if answer.route != "error" else None
        try:
            answer.interaction_id = record(self.engine, entry)
        except Exception:
            log.exception("could not write the interaction log")
        if answer.route == "error":
            ref = f"#{answer.interaction_id}" if answer.interaction_id else time.strftime("%Y%m%d-%H%M%S")
            answer.text = prompts.APOLOGY[language].format(ref=ref)
        return answer

    # -- steps ------------------------------------------------------------------------------

    def _help(self, s: _State) -> _State:
        examples = "\n".join(f"• {q}" for q in self.config.examples)
        s.answer = Answer(f"{prompts.HELP[s.language]}\n{examples}", route="help", language=s.language)
        return s

    def _lookup_cache(self, s: _State) -> _State:
        # A thread follow-up means something only with its thread, so it is never looked up.
        if not s.question.use_cache or s.question.history:
            return s
        t0 = time.perf_counter()
        cached = self.cache.lookup(dataclasses.replace(s.question, text=s.text), s.language)  # cleaned text
        s.log.latency_ms["cache"] = _ms(t0)
        if cached is not None:
            cached.route = "cached"
            s.answer = cached
            s.log.cached_answer_id = cached.cached_answer_id
            s.log.sources = [{**_source_record(src), "cited": True} for src in cached.sources]
            s.log.citations = [_source_record(src) for src in cached.sources]
        return s

    def _rewrite(self, s: _State, config: RunnableConfig) -> _State:
        """With thread history, turn a follow-up into a standalone question; otherwise no model call."""
        t0 = time.perf_counter()
        s.search_text = s.text
        history = [(role, clean_text(t)[:MAX_HISTORY_CHARS]) for role, t in s.question.history][-MAX_HISTORY_TURNS:]
        if history:
            previous = next((t for role, t in reversed(history) if role == "user"), "")
            fallback = f"{previous} {s.text}".strip()[:MAX_QUERY_CHARS]
            scope = set(s.question.collections) if s.question.collections else None
            backend = self.backend_for(scope, s.question.model)
            try:
                reply = self._call(backend, prompts.rewrite_messages(history, s.text), config, s, max_tokens=96)
                s.search_text = _usable_rewrite(str(reply.content), s.text) or fallback
            except Exception as exc:  # a failed rewrite must not lose the question
                log.warning("query rewrite failed (%s); searching with the thread's last question", exc)
                s.search_text = fallback
            s.log.rewritten_question = s.search_text
        # Keyword search sees both texts: the rewrite may drop the exact word the user typed.
        s.keyword_text = s.text if s.search_text == s.text else f"{s.text}\n{s.search_text}"
        s.log.latency_ms["rewrite"] = _ms(t0)
        return s

    def _retrieve(self, s: _State) -> _State:
        t0 = time.perf_counter()
        if s.question.collections is not None and not s.question.collections:
            s.hits = []  # nothing may be searched here (e.g. every collection is bound to other channels)
            s.log.latency_ms["retrieve"] = _ms(t0)
            return s
        s.hits = self.searcher.search(s.search_text, self.config.retrieval, collections=s.question.collections,
                                      keyword_query=s.keyword_text)
        s.log.retrieved = [_hit_record(h) for h in s.hits]
        s.log.latency_ms["retrieve"] = _ms(t0)
        return s

    def _relevant(self, hits: list[SearchHit]) -> bool:
        if not hits:
            return False
        best = best_similarity(hits)
        return best is None or best >= self.config.relevance_threshold  # keyword-only search: any hit

    def _dont_know(self, s: _State) -> _State:
        closest = build_sources(s.hits, budget_tokens=10**9, count_tokens=len)[: self.config.closest_sources]
        s.answer = Answer(prompts.DONT_KNOW[s.language], route="dont_know", language=s.language, sources=closest)
        return s

    def _generate(self, s: _State, config: RunnableConfig) -> _State:
        t0 = time.perf_counter()
        backend = self.backend_for({h.collection for h in s.hits}, s.question.model)
        question = s.search_text  # the standalone form when there was a thread
        s.log.prompt_version = prompts.ANSWER_PROMPT_VERSION
        sources, reply, backend = self._ask_model(backend, question, s, config)
        text = str(reply.content).strip()
        answer_language = detect_language(text)
        language_ok = answer_language in (s.language, "unknown")
        retried = not language_ok
        if retried:  # regenerate once, then mark
            messages = prompts.answer_messages(question, _render(sources), s.language, retry=True)
            try:
                retry = self._call(backend, messages, config, s, fallback=False)
            except ModelUnavailable as exc:
                log.warning("language retry failed, keeping the first answer: %s", exc)
            else:
                text = str(retry.content).strip()
                answer_language = detect_language(text)
                language_ok = answer_language in (s.language, "unknown")
        check = check_citations(text, len(sources))
        cited = [sources[n - 1] for n in check.cited]
        notices = list(s.notices)
        if not check.verified:
            notices.append(prompts.UNVERIFIED[s.language])
        config_used = self.models.config(backend)
        s.log.model_name = config_used.name
        s.log.model_version = str(reply.response_metadata.get("model_name") or "") or None
        s.log.answer_language = answer_language
        s.log.verified = check.verified
        s.log.citations = [_source_record(src) for src in cited]
        s.log.context = _render(sources)
        with self.engine.connect() as conn:
            hashes = document_hashes(conn, sorted({src.document_id for src in sources}))
        s.log.sources = [{**_source_record(src), "cited": src.number in check.cited,
                          "content_hash": hashes.get(src.document_id)} for src in sources]
        s.log.latency_ms["generate"] = _ms(t0)
        s.answer = Answer(
            text=check.text or prompts.DONT_KNOW[s.language], route="answer", language=s.language, sources=cited,
            uncited=[src for src in sources if src.number not in check.cited], verified=check.verified,
            language_ok=language_ok, language_retried=retried, notices=notices, model=config_used.name,
        )
        return s

    # -- models -----------------------------------------------------------------------------

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

    def _ask_model(self, backend: str, question: str, s: _State, config: RunnableConfig):
        """Fit sources to ``backend``'s window and ask it; on a hosted outage under auto, ask local instead."""
        if self._may_fall_back(backend, s) and s.log.fallback_reason:  # it failed the rewrite: do not wait twice
            self._note_fallback(s, None, tell_user=True)
            backend = "local"
        try:
            sources = self._fit_sources(backend, question, s)
            reply = self._call(backend, prompts.answer_messages(question, _render(sources), s.language),
                               config, s, fallback=False)
            return sources, reply, backend
        except ModelUnavailable as exc:
            if not self._may_fall_back(backend, s):
                raise
            self._note_fallback(s, exc, tell_user=True)
            sources = self._fit_sources("local", question, s)
            reply = self._call("local", prompts.answer_messages(question, _render(sources), s.language),
                               config, s, fallback=False)
            return sources, reply, "local"

    def _fit_sources(self, backend: str, question: str, s: _State) -> list[Source]:
        window = self.models.config(backend).context_tokens
        overhead = self.models.count_tokens(backend, _render_prompt(question, s.language)) + 64
        budget = min(self.config.source_tokens, window - self.config.max_tokens - overhead)
        if budget < 100:
            raise ValueError(f"the {backend} model's context window ({window} tokens) leaves no room for sources")
        return build_sources(s.hits, budget, lambda t: self.models.count_tokens(backend, t))

    def _call(self, backend: str, messages, config: RunnableConfig, s: _State, fallback: bool = True,
              **kwargs: Any) -> AIMessage:
        try:
            reply = invoke_chat(self.models.get(backend), messages, config=config, **kwargs)
        except ModelUnavailable as exc:
            if not (fallback and self._may_fall_back(backend, s)):
                raise
            self._note_fallback(s, exc, tell_user=False)
            reply = invoke_chat(self.models.get("local"), messages, config=config, **kwargs)
        usage = reply.usage_metadata or {}
        s.log.input_tokens = (s.log.input_tokens or 0) + int(usage.get("input_tokens", 0))
        s.log.output_tokens = (s.log.output_tokens or 0) + int(usage.get("output_tokens", 0))
        return reply

    def _may_fall_back(self, backend: str, s: _State) -> bool:
        return backend == "hosted" and self.config.policy == "auto" and s.question.model is None

    def _note_fallback(self, s: _State, exc: Exception | None, tell_user: bool) -> None:
        if exc is not None:
            log.warning("hosted model unavailable, using the local model: %s", exc)
            s.log.fallback_reason = str(exc)[:1000]
        if tell_user and prompts.FALLBACK[s.language] not in s.notices:
            s.notices.append(prompts.FALLBACK[s.language])


def _usable_rewrite(candidate: str, original: str) -> str | None:
    """The model's rewrite if it looks like one question in the user's language, else None."""
    text = candidate.strip().strip('"\'“”').strip()
    text = re.sub(r"^(standalone question|question|질문)\s*[:：]\s*", "", text, flags=re.I).strip()
    if not text or "\n" in text or len(text) > max(300, 3 * len(original)):
        return None
    if detect_language(text) not in (detect_language(original), "unknown"):
        return None
    return text


def _render(sources: list[Source]) -> str:
    return "\n\n".join(src.render() for src in sources)


def _render_prompt(question: str, language: str) -> str:
    return "\n".join(str(m.content) for m in prompts.answer_messages(question, "", language))


def _hit_record(hit: SearchHit) -> dict:
    record = hit.as_dict()
    del record["text"]
    return record


def _source_record(source: Source) -> dict:
    return {"number": source.number, "title": source.title, "section": source.section, "source": source.source,
            "url": source.url, "collection": source.collection, "document_id": source.document_id,
            "chunk_ids": list(source.chunk_ids), "content_hash": source.content_hash}


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)
