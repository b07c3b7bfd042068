"""One run of the pipeline: the state its steps pass along, and the interaction-log record it fills."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from answering.context import Source
from answering.evidence import Evidence
from answering.types import Answer, Question, Route
from core.redact import Pseudonyms, keys
from feedback.log import Interaction
from retrieval.search import SearchHit


class ModelCallCounter(BaseCallbackHandler):
    """Counts chat/LLM calls made under one pipeline run, whatever the backend."""

    def __init__(self) -> None:
        self.calls = 0

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls += 1

    def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.calls += 1


@dataclass
class Run:
    question: Question
    text: str  # the question, cleaned
    language: str
    log: Interaction
    search_text: str = ""
    keyword_text: str = ""
    hits: list[SearchHit] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # the numbered sources answered from
    answerable: bool = False  # whether the sources can answer it (answering.answerable)
    unsure: bool = False  # ... and they may not answer exactly this: the closest passage is quoted, no model
    skipped: str | None = None  # why no draft is asked for in auto mode ("drafts_rejected"): the evidence is quoted
    answering: frozenset[int] = frozenset()  # the chunks of the sources that answer, when all are in another language
    answer: Answer | None = None
    notices: list[str] = field(default_factory=list)
    shown: tuple[list[Source], Evidence] | None = None  # the sources shown before the model wrote, and their evidence
    pseudonyms: Pseudonyms = field(default_factory=Pseudonyms)  # what a hosted model saw instead of personal data


def start_record(question: Question, text: str, language: str) -> Interaction:
    """The interaction-log row of a question, before anything ran."""
    return Interaction(
        question=text[:20000], origin=question.origin, asker=question.asker, channel=question.channel,
        thread_ts=question.thread_ts, message_ts=question.message_ts, language=language, place=question.place,
        collections=list(question.collections) if question.collections else None,
    )


def finish_record(entry: Interaction, answer: Answer, started: float, model_calls: int) -> None:
    """Copy the outcome into the answer and its log row (route, timings, model calls, the text)."""
    answer.model_calls = model_calls
    answer.latency_ms = {**entry.latency_ms, "total": ms_since(started)}
    answer.rewritten_question = entry.rewritten_question
    entry.route = str(answer.route)
    entry.latency_ms = answer.latency_ms
    entry.answer = answer.text if answer.route != Route.ERROR else None


def hit_record(hit: SearchHit) -> dict:
    record = hit.as_dict()
    del record["text"]
    return record


def source_keys(hits: list[SearchHit]) -> frozenset[str]:
    """What the retrieved documents say that looks like personal data (a help-desk number): the stored
    answer keeps it, since it is the documents' text, not the asker's."""
    return keys("\n".join(h.text for h in hits))


def source_record(source: Source) -> dict:
    return {"number": source.number, "title": source.title, "section": source.section, "source": source.source,
            "url": source.url, "collection": source.collection, "document_id": source.document_id,
            "chunk_ids": list(source.chunk_ids), "content_hash": source.content_hash}


def ms_since(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)
