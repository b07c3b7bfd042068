"""The pipeline's approved-answer cache: ``feedback.answer_cache`` entries as Answers."""

from __future__ import annotations

from answering.context import Source
from answering.types import Answer, Question, Route
from feedback.answer_cache import AnswerCacheStore, CachedAnswer


class ApprovedAnswers:
    """Implements ``answering.types.AnswerCache`` over the cache table."""

    def __init__(self, store: AnswerCacheStore) -> None:
        self.store = store

    def lookup(self, question: Question, language: str) -> Answer | None:
        hit = self.store.find(question.text, question.collections, language)
        return None if hit is None else as_answer(hit, language)


def as_answer(hit: CachedAnswer, language: str) -> Answer:
    sources = [Source(number=int(s.get("number") or i), title=s.get("title") or "", section=s.get("section") or "",
                      text="", source=s.get("source") or "", url=s.get("url"), collection=s.get("collection") or "",
                      document_id=int(s.get("document_id") or 0), chunk_ids=(), score=0.0,
                      content_hash=s.get("content_hash"))
               for i, s in enumerate(hit.sources, start=1)]
    return Answer(hit.answer, route=Route.CACHED, language=language, sources=sources, verified=True,
                  cached_answer_id=hit.id, approvals=hit.approvals, curated=hit.curated)
