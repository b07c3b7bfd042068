"""The answering pipeline as a LangChain runnable graph.

    help? ── yes ─> onboarding text with example questions           (no model)
      │ no
    approved-answer cache ── hit ─> cached answer                    (no model)
      │ miss
    rewrite (only with thread history) -> hybrid retrieval
      │
    answerable? ── no ─> "I don't know" + the closest sources        (no model)
      │         (close enough for this collection, and a source has the question's key terms)
      │ yes
    ANSWER_MODE=extractive ── the evidence quoted, with citations                    (no model)
      │ (auto, and the checks rejected most of this model's recent drafts here: the same, at once)
      │ auto | generate
    generate (hosted / local by policy; local fallback) -> language check
      │
    review: citations attached and checked, facts checked against the sources, evidence chosen
      │ auto, and the answer is a stub, unsupported, uncited or in the wrong language
      └──> the evidence quoted instead (or "I don't know" when no passage answers)

Every question ends in exactly one interaction-log row, including the ones that failed.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import time

from langchain_core.runnables import RunnableBranch, RunnableConfig, RunnableLambda
from sqlalchemy import Engine

from answering import prompts
from answering.answerable import UNCERTAIN, answering_chunks, assess, default_grader
from answering.citations import check_citations
from answering.context import Source, build_sources
from answering.drafts import DRAFTS_MEASURED, EXPLORE, Drafts, drafts_rejected, with_drafts
from answering.evidence import Evidence
from answering.extractive import attach_citations, extractive_answer
from answering.grounding import check_grounding
from answering.guard import Guard
from answering.language import detect_language, prose_language, written_in
from answering.prompts import usable_rewrite
from answering.review import choose_evidence, evidence_record, review, source_text
from answering.routing import ModelRouter, answer_messages, render
from answering.run import (
    ModelCallCounter,
    Run,
    finish_record,
    hit_record,
    ms_since,
    source_keys,
    source_record,
    start_record,
)
from answering.similarity import PassageSimilarity
from answering.types import Answer, AnswerCache, NoCache, PipelineConfig, Question, Route
from answering.wellformed import is_stub, tidy
from core.text import clean
from feedback.log import draft_verdicts, record
from models.chat import ChatModels, ModelUnavailable
from models.probe import Probe, same_vectors
from retrieval.calibration import load_calibrations
from retrieval.search import MAX_QUERY_CHARS, Searcher
from retrieval.store import document_hashes

log = logging.getLogger(__name__)

MAX_HISTORY_TURNS = 6
MAX_HISTORY_CHARS = 600


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
        self.router = ModelRouter(config, models)
        self.engine = engine
        self.cache = cache or NoCache()
        self.similarity = PassageSimilarity(searcher.embedder)
        self.guard = Guard(Probe.load("credential_request") if config.meaning_checks else None,
                           same_vectors(searcher.embedder))  # the default embedder is not loaded twice
        self.grader = default_grader()  # P(the sources answer it) -> confident, uncertain, out of scope
        self.explore = lambda: random.random() < EXPLORE  # a draft asked for although the record says to skip it
        self.graph = self._build_graph()

    def _build_graph(self):
        answer_path = (
            RunnableLambda(self._rewrite, name="rewrite")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableLambda(self._assess, name="answerable")
            | RunnableBranch(
                (lambda s: not s.answerable, RunnableLambda(self._dont_know, name="dont_know")),
                (lambda s: s.unsure or self._mode(s) == "extractive" or self._flagged_only(s) or self._skip_draft(s),
                 RunnableLambda(self._extractive, name="extractive")),
                RunnableLambda(self._generate, name="generate") | RunnableLambda(self._review, name="review"),
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
        text = clean(question.text).strip()
        language = detect_language(text)
        if language == "unknown":
            language = detect_language(" ".join(t for _, t in question.history)) if question.history else "en"
            language = "en" if language == "unknown" else language
        entry = start_record(question, text, language)
        state = Run(question=question, text=text, language=language, log=entry)
        counter = ModelCallCounter()
        try:
            if len(text) > MAX_QUERY_CHARS:
                state.answer = Answer(prompts.TOO_LONG[language].format(n=len(text), limit=MAX_QUERY_CHARS),
                                      route=Route.REJECTED, language=language)
            else:
                config: RunnableConfig = {"callbacks": [counter], "run_name": "answer"}
                state = self.graph.invoke(state, config=config)
        except Exception as exc:  # the edge of the pipeline: log it, answer with an apology
            log.exception("answering failed")
            entry.error = f"{type(exc).__name__}: {exc}"[:4000]
            state.answer = Answer("", route=Route.ERROR, language=language, error=entry.error)
        answer = state.answer
        finish_record(entry, answer, started, counter.calls)
        try:
            answer.interaction_id = record(self.engine, entry, self.config.redact_stored, source_keys(state.hits))
        except Exception:
            log.exception("could not write the interaction log")
        if answer.route == Route.ERROR:
            ref = f"#{answer.interaction_id}" if answer.interaction_id else time.strftime("%Y%m%d-%H%M%S")
            answer.text = prompts.APOLOGY[language].format(ref=ref)
        return answer

    # -- steps ------------------------------------------------------------------------------

    def _help(self, s: Run) -> Run:
        examples = "\n".join(f"• {q}" for q in self.config.examples)
        s.answer = Answer(f"{prompts.HELP[s.language]}\n{examples}", route=Route.HELP, language=s.language)
        return s

    def _lookup_cache(self, s: Run) -> Run:
        # A thread follow-up means something only with its thread, so it is never looked up; nor is a
        # question where a channel asks for its own style, which approved answers were not written in.
        if not s.question.use_cache or s.question.history or s.question.style:
            return s
        t0 = time.perf_counter()
        cached = self.cache.lookup(dataclasses.replace(s.question, text=s.text), s.language)  # cleaned text
        s.log.latency_ms["cache"] = ms_since(t0)
        if cached is not None:
            cached.route = Route.CACHED
            s.answer = cached
            s.log.cached_answer_id = cached.cached_answer_id
            s.log.sources = [{**source_record(src), "cited": True} for src in cached.sources]
            s.log.citations = [source_record(src) for src in cached.sources]
        return s

    def _rewrite(self, s: Run, config: RunnableConfig) -> Run:
        """With thread history, turn a follow-up into a standalone question; otherwise no model call."""
        t0 = time.perf_counter()
        s.search_text = s.text
        history = [(role, clean(t)[:MAX_HISTORY_CHARS]) for role, t in s.question.history][-MAX_HISTORY_TURNS:]
        if history:
            previous = next((t for role, t in reversed(history) if role == "user"), "")
            fallback = f"{previous} {s.text}".strip()[:MAX_QUERY_CHARS]
            scope = set(s.question.collections) if s.question.collections else None
            backend = self.router.backend_for(scope, s.question.model)
            try:
                reply = self.router.call(backend, prompts.rewrite_messages(history, s.text), config, s, max_tokens=96)
                s.search_text = usable_rewrite(str(reply.content), s.text, fallback) or fallback
            except Exception as exc:  # a failed rewrite must not lose the question
                log.warning("query rewrite failed (%s); searching with the thread's last question", exc)
                s.search_text = fallback
            s.log.rewritten_question = s.search_text
        # Keyword search sees both texts: the rewrite may drop the exact word the user typed.
        s.keyword_text = s.text if s.search_text == s.text else f"{s.text}\n{s.search_text}"
        s.log.latency_ms["rewrite"] = ms_since(t0)
        return s

    def _retrieve(self, s: Run) -> Run:
        t0 = time.perf_counter()
        if s.question.collections is not None and not s.question.collections:
            s.hits = []  # nothing may be searched here (e.g. every collection is bound to other channels)
            s.log.latency_ms["retrieve"] = ms_since(t0)
            return s
        s.hits = self.searcher.search(s.search_text, self.config.retrieval, collections=s.question.collections,
                                      keyword_query=s.keyword_text)
        s.log.retrieved = [hit_record(h) for h in s.hits]
        s.log.latency_ms["retrieve"] = ms_since(t0)
        return s

    def _focus(self, s: Run) -> str:
        """A follow-up's own words, which the evidence weighs above the rest of its rewritten question."""
        return s.text if s.question.history else ""

    def _mode(self, s: Run) -> str:
        return s.question.mode or self.config.answer_mode

    def _assess(self, s: Run) -> Run:
        """Can the hits answer the question at all? (answering.answerable; no model call)"""
        t0 = time.perf_counter()
        sources = build_sources(s.hits, self.config.source_tokens, count_tokens=approx_tokens)
        with self.engine.connect() as conn:
            calibrations = load_calibrations(conn, self.searcher.embedder.name)
        unused = self.searcher.unused_words(s.search_text, s.question.collections) if s.hits else []
        verdict = assess(s.search_text, s.language, s.hits, sources, calibrations, self.config.relevance_threshold,
                         self.grader, self.similarity, unused)
        if verdict.reason in ("key_terms", "out_of_scope", "uncertain") and s.question.history:
            # a poor rewrite must not lose the thread's topic
            previous = next((t for role, t in reversed(s.question.history) if role == "user"), "")
            asked = f"{previous}\n{s.text}"
            verdict = assess(asked, s.language, s.hits, sources, calibrations, self.config.relevance_threshold,
                             self.grader, self.similarity, self.searcher.unused_words(asked, s.question.collections))
        s.answerable = verdict.answerable
        s.unsure = verdict.grade == UNCERTAIN
        s.answering = answering_chunks(verdict, sources)  # the evidence is then chosen by meaning
        s.log.answerability = verdict.as_dict()
        s.log.latency_ms["answerable"] = ms_since(t0)
        return s

    def _skip_draft(self, s: Run) -> bool:
        """Auto mode, with a model whose recent drafts for these collections the checks rejected
        (``skip_drafts_rejected`` of the last DRAFTS_MEASURED): the evidence is quoted at once rather than after
        a draft that would be thrown away. One question in ten (EXPLORE) still gets a draft, so the record stays
        current; an evaluation's questions always do, and do not count."""
        if self._mode(s) != "auto" or s.question.origin == "eval" or self.config.skip_drafts_rejected > 1:
            return False
        backend = self.router.backend_for({h.collection for h in s.hits}, s.question.model)
        verdicts = draft_verdicts(self.engine, self.models.config(backend).name, s.log.collections, DRAFTS_MEASURED)
        if not drafts_rejected(verdicts, self.config.skip_drafts_rejected) or self.explore():
            return False
        s.skipped = "drafts_rejected"
        return True

    def _flagged_only(self, s: Run) -> bool:
        """Every source is a flagged document, which is quoted only, never given to a model (FLAGGED_DOCUMENTS)."""
        return self.config.flagged_documents == "quote" and bool(s.hits) and all(h.flagged for h in s.hits)

    def _dont_know(self, s: Run) -> Run:
        closest = build_sources(s.hits, budget_tokens=10**9, count_tokens=len)[: self.config.closest_sources]
        s.answer = Answer(prompts.DONT_KNOW[s.language], route=Route.DONT_KNOW, language=s.language, sources=closest)
        return s

    def _generate(self, s: Run, config: RunnableConfig) -> Run:
        """The model's answer from the sources, in the asker's language (one retry), citations checked."""
        t0 = time.perf_counter()
        if self.config.flagged_documents == "quote":  # a flagged document is quoted only, never given to a model
            s.hits = [h for h in s.hits if not h.flagged]
        backend = self.router.settle(self.router.backend_for({h.collection for h in s.hits}, s.question.model), s)
        question = s.search_text  # the standalone form when there was a thread
        s.log.prompt_version = prompts.ANSWER_PROMPT_VERSION + ("+style" if s.question.style else "")
        streamed = s.question.on_draft is not None  # the draft goes out as it is written
        drafts = Drafts(s.question.on_draft, s.pseudonyms, self.guard) if streamed else None
        draft_config = with_drafts(config, drafts) if drafts else config
        sources = self._show_sources(s, backend, question) if s.question.on_found is not None else None
        s.sources, reply, backend = self.router.ask(backend, question, s, draft_config, stream=streamed,
                                                    sources=sources)
        text = tidy(clean(str(reply.content)))  # the model's text, minus invisible and bidi controls
        answer_language, language_ok = _language_of(text, s.language)
        retried = not language_ok
        if retried:  # regenerate once, then mark
            messages = answer_messages(question, s.sources, s, retry=True)
            try:
                retry = self.router.call(backend, messages, config, s, fallback=False)
            except ModelUnavailable as exc:
                log.warning("language retry failed, keeping the first answer: %s", exc)
            else:
                text = tidy(clean(str(retry.content)))
                answer_language, language_ok = _language_of(text, s.language)
        config_used = self.models.config(backend)
        s.log.model_name = config_used.name
        s.log.model_version = str(reply.response_metadata.get("model_name") or "") or None
        s.log.answer_language = answer_language
        s.log.context = render(s.sources)
        s.log.latency_ms["generate"] = ms_since(t0)
        s.answer = Answer(text, route=Route.ANSWER, language=s.language, language_ok=language_ok,
                          language_retried=retried, notices=list(s.notices), model=config_used.name)
        return s

    def _show_sources(self, s: Run, backend: str, question: str) -> list[Source] | None:
        """Hand the caller the sources ``backend`` will answer from and their best passages before it is asked
        (``Question.on_found``): a local model takes seconds to read them. Returns those sources."""
        t0 = time.perf_counter()
        try:
            sources = self.router.fit_sources(backend, question, s)
        except ValueError:
            return None  # no room for sources: asking the model says so
        evidence = self._evidence(s, sources)
        s.shown = (sources, evidence)
        try:
            s.question.on_found(sources, list(evidence.passages))
        except Exception:  # showing them is a courtesy; the answer must not depend on it
            log.warning("could not show the sources before the answer", exc_info=True)
        s.log.latency_ms["shown"] = ms_since(t0)
        return sources

    def _review(self, s: Run) -> Run:
        """Check the generated answer against its sources; in auto mode give the evidence instead of an
        answer that fails (a stub, unsupported facts, no valid citation, the wrong language)."""
        t0 = time.perf_counter()
        draft = s.answer
        evidence = self._evidence(s)
        given = source_text(s.sources)
        text = draft.text if is_stub(draft.text) else attach_citations(draft.text, s.sources)
        check = check_citations(text, len(s.sources))
        asked = f"{s.text}\n{s.search_text}"  # what the answer may repeat without a source
        grounding = check_grounding(check.text, given, asked)
        reason = review(draft, check, grounding, evidence, asked)
        refused = self.guard.withheld(check.text, given)
        if refused:  # whatever the mode: a request for a secret, or an address no source gives
            reason, grounding.withheld = "withheld", refused
        draft.text = check.text or prompts.DONT_KNOW[s.language]
        draft.sources = [s.sources[n - 1] for n in check.cited]
        draft.uncited = [src for src in s.sources if src.number not in check.cited]
        draft.verified, draft.grounding, draft.evidence = check.verified, grounding, list(evidence.passages)
        if not check.verified:
            draft.notices.append(prompts.UNVERIFIED[s.language])
        s.log.grounding = {**grounding.as_dict(), "review": reason or "passed"}  # the model's record (_skip_draft)
        s.log.latency_ms["review"] = ms_since(t0)
        if reason == "withheld" or (reason and self._mode(s) == "auto"):
            s.log.grounding["draft"] = draft.text  # the evidence then comes from every source, not the few it read
            s.sources = build_sources(s.hits, self.config.source_tokens, count_tokens=approx_tokens)
            return self._give_evidence(s, self._evidence(s), reason, draft)
        s.log.evidence = evidence_record(evidence)
        s.log.verified = check.verified
        s.log.citations = [source_record(src) for src in draft.sources]
        self._log_sources(s, set(check.cited))
        return s

    def _extractive(self, s: Run) -> Run:
        """ANSWER_MODE=extractive, or sources that may not answer exactly this: the evidence of the best sources
        (then only the closest passage, said to be so), no model call."""
        s.sources = build_sources(s.hits, self.config.source_tokens, count_tokens=approx_tokens)
        evidence = self._evidence(s)
        if s.unsure:
            evidence = dataclasses.replace(evidence, passages=evidence.passages[:1])
        return self._give_evidence(s, evidence, "uncertain" if s.unsure else s.skipped, None)

    def _evidence(self, s: Run, sources: list[Source] | None = None) -> Evidence:
        """The evidence in ``sources`` (by default the run's), chosen once: shown while the model wrote, then
        given with the answer."""
        sources = s.sources if sources is None else sources
        if s.shown is not None and s.shown[0] == sources:
            return s.shown[1]
        return choose_evidence(s.search_text, sources, self.similarity, s.answering, focus=self._focus(s))

    def _give_evidence(self, s: Run, evidence: Evidence, reason: str | None, draft: Answer | None) -> Run:
        """The extractive answer (or, with no passage to quote, "I don't know" and the closest sources)."""
        s.log.fallback = reason
        s.log.evidence = evidence_record(evidence)
        if not evidence.passages:
            s = self._dont_know(s)
            s.answer.draft, s.answer.fallback = draft, reason
            return s
        s.answer = extractive_answer(list(evidence.passages), s.sources, s.language, unsure=s.unsure)
        s.answer.fallback, s.answer.draft, s.answer.model = reason, draft, draft.model if draft else None
        s.log.verified = True
        s.log.citations = [source_record(src) for src in s.answer.sources]
        self._log_sources(s, set(evidence.numbers()))
        return s

    def _log_sources(self, s: Run, cited: set[int]) -> None:
        with self.engine.connect() as conn:
            hashes = document_hashes(conn, sorted({src.document_id for src in s.sources}))
        s.log.sources = [{**source_record(src), "cited": src.number in cited,
                          "content_hash": hashes.get(src.document_id)} for src in s.sources]


def _language_of(text: str, asked_in: str) -> tuple[str, bool]:
    """The language a model's answer is written in, and whether it is the asker's (its code is in none)."""
    return prose_language(text), written_in(text, asked_in)


def approx_tokens(text: str) -> int:
    """A model-free token estimate (about three characters a token, for English and Korean alike)."""
    return len(text) // 3 + 1
