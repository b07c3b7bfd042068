"""Exports of what people approved and rejected: fine-tuning data and a retrieval regression set.

All three are JSON Lines, one record per line, in interaction order (so the same database gives
the same bytes), with personal data scrubbed (see ``scrub``):

- ``training --format chat``: the OpenAI fine-tuning chat format,
  ``{"messages": [system, user, assistant]}``. The system and user messages are the answer
  prompt rebuilt with the current prompt text around the question and the sources exactly as
  the model was given them; the assistant message is the approved answer, or an admin's
  curated correction. Answers without logged sources (cached, "I don't know") are skipped.
- ``training --format preference``: ``{"prompt": [system, user], "chosen": [assistant],
  "rejected": [assistant]}`` (the conversational preference format of TRL's DPO trainer):
  a 👎 answer (rejected) paired with an approved or curated answer (chosen) to the same
  question, or to one the answer cache would match. The prompt is the rejected answer's.
- ``eval``: ``{"id", "question", "language", "collections", "expected": [{"collection",
  "source", "title"}], "evidence"}``: questions with the documents their approved answer rests
  on (the cited ones, ``evidence: "cited"``; or every source it was given when it cited none,
  ``"given"``). ``python -m bot eval retrieval --from FILE`` scores the live index against it.

Each export takes a ``Selection`` of collections, judged by the documents each answer was given:
``--collection`` keeps only answers from those, ``--exclude-collection`` leaves answers that used
them out, and a confidential collection (CONFIDENTIAL_COLLECTIONS) is left out unless named.

An answer is approved when its votes satisfy the cache rule (net 👍 ≥ CACHE_MIN_APPROVALS,
no 👎 unless CACHE_ALLOW_DOWNVOTED), and rejected when it has more 👎 than 👍.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable, Sequence

from sqlalchemy import Engine, text

from core.redact import redact
from feedback.answer_cache import AnswerCacheStore, normalize, scope_key
from feedback.votes import tally

FORMATS = ("chat", "preference")


@dataclass
class ExportReport:
    records: int = 0
    scrubbed_records: int = 0
    scrubbed: Counter = field(default_factory=Counter)  # replacements by kind
    skipped: Counter = field(default_factory=Counter)  # records left out, by reason

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.scrubbed.items())) or "nothing"
        text_ = f"{self.records} records; personal data scrubbed in {self.scrubbed_records} ({kinds})"
        if self.skipped:
            text_ += "; skipped " + ", ".join(f"{n} {k}" for k, n in sorted(self.skipped.items()))
        return text_


def scrub(value: str, counts: Counter) -> str:
    """Replace personal data (``core.redact``: e-mail addresses, phone numbers, resident registration and
    card numbers, Slack mentions); count what was replaced."""
    return redact(value, counts)


def _scrubbed(record, report: ExportReport):
    counts: Counter = Counter()

    def walk(value):
        if isinstance(value, str):
            return scrub(value, counts)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    clean = walk(record)
    if sum(counts.values()):
        report.scrubbed_records += 1
        report.scrubbed.update(counts)
    report.records += 1
    return clean


@dataclass(frozen=True)
class Selection:
    """Which answers an export takes, by the collections of the documents each was given: only those of
    ``collections`` when any are named; none that used an ``excluded`` one, or a ``confidential`` one
    that is not named."""

    collections: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()
    confidential: frozenset[str] = frozenset()

    def takes(self, row: dict) -> bool:
        used = {s.get("collection") for s in row.get("sources") or []} | set(_asked_against(row))
        if self.collections and not (used and used <= self.collections):
            return False
        return not used & (self.excluded | (self.confidential - self.collections))


def _asked_against(row: dict) -> list[str]:
    """An answer with no logged sources (cached, "I don't know") is judged by the collections it was asked against."""
    return [] if row.get("sources") else list(row.get("collections") or [])


def _rated(engine: Engine, since: date | None) -> list[dict]:
    """Every voted-on or curated interaction, oldest first, with its votes and any curated answer."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT i.id, i.question, i.rewritten_question, i.language, i.collections, i.route, i.answer,
                   i.context, i.sources, v.up, v.down, e.answer AS curated_answer, e.curated_by
            FROM interactions i
            LEFT JOIN cached_answers e ON e.interaction_id = i.id AND e.curated_by IS NOT NULL
            CROSS JOIN LATERAL (SELECT {tally()} FROM feedback f WHERE f.interaction_id = i.id) v
            WHERE (v.up + v.down > 0 OR e.id IS NOT NULL)
              AND (CAST(:since AS date) IS NULL OR i.created_at >= CAST(:since AS date))
            ORDER BY i.id
        """), {"since": since}).mappings().all()
    return [dict(r) for r in rows]


class Exporter:
    def __init__(self, engine: Engine, cache: AnswerCacheStore, prompt: Callable[[str, str, str], Sequence],
                 confidential: frozenset[str] = frozenset()) -> None:
        """``prompt(question, context, language)``: the answer prompt's messages, as the pipeline builds them
        (``answering.prompts.answer_messages``); passed in because the pipeline's layer sits above this one.
        ``confidential``: collections no export takes unless they are named."""
        self.engine = engine
        self.confidential = confidential
        self.cache = cache
        self.prompt = prompt

    def _rows(self, since: date | None, collections: Sequence[str], excluded: Sequence[str],
              report: ExportReport) -> list[dict]:
        selection = Selection(frozenset(collections), frozenset(excluded), self.confidential)
        rows = _rated(self.engine, since)
        taken = [r for r in rows if selection.takes(r)]
        if len(taken) < len(rows):
            report.skipped["from collections left out"] += len(rows) - len(taken)
        return taken

    def _approved(self, row: dict) -> bool:
        return row["route"] == "answer" and bool(row["answer"]) and self.cache.qualifies(row["up"], row["down"])

    @staticmethod
    def _rejected(row: dict) -> bool:
        return row["route"] in ("answer", "extractive", "cached") and bool(row["answer"]) and row["down"] > row["up"]

    @staticmethod
    def _question(row: dict) -> str:
        return row["rewritten_question"] or row["question"]

    def _prompt(self, row: dict, context: str) -> list[dict]:
        messages = self.prompt(self._question(row), context, row["language"] or "en")
        return [{"role": "system" if m.type == "system" else "user", "content": str(m.content)} for m in messages]

    # -- the three exports ---------------------------------------------------------------------

    def chat(self, since: date | None = None, collections: Sequence[str] = (),
             excluded: Sequence[str] = ()) -> tuple[list[dict], ExportReport]:
        report, records = ExportReport(), []
        for row in self._rows(since, collections, excluded, report):
            if row["curated_answer"]:
                answer = row["curated_answer"]
            elif self._approved(row):
                answer = row["answer"]
            else:
                continue
            if not row["context"]:
                report.skipped["without logged sources"] += 1
                continue
            messages = self._prompt(row, row["context"]) + [{"role": "assistant", "content": answer}]
            records.append(_scrubbed({"messages": messages}, report))
        return records, report

    def preference(self, since: date | None = None, collections: Sequence[str] = (),
                   excluded: Sequence[str] = ()) -> tuple[list[dict], ExportReport]:
        report, records = ExportReport(), []
        rows = self._rows(since, collections, excluded, report)
        chosen = [r for r in rows if r["curated_answer"] or self._approved(r)]
        for bad in (r for r in rows if self._rejected(r)):
            for good in self._partners(bad, chosen):
                answer = good["curated_answer"] or good["answer"]
                if answer.strip() == bad["answer"].strip():
                    continue
                context = bad["context"] or good["context"] or ""
                records.append(_scrubbed({"prompt": self._prompt(bad, context),
                                          "chosen": [{"role": "assistant", "content": answer}],
                                          "rejected": [{"role": "assistant", "content": bad["answer"]}]}, report))
        return records, report

    def _partners(self, bad: dict, chosen: list[dict]) -> Iterable[dict]:
        """Chosen answers to the same question (the curated correction of ``bad`` itself first)."""
        if bad["curated_answer"]:
            yield bad
        question, scope = normalize(self._question(bad)), scope_key(bad["collections"])
        for good in chosen:
            if good["id"] == bad["id"] or scope_key(good["collections"]) != scope:
                continue
            if normalize(self._question(good)) == question or self._matches(good, bad):
                yield good

    def _matches(self, good: dict, bad: dict) -> bool:
        """Would the cache serve ``good``'s answer to ``bad``'s question?"""
        if (good["language"] or "en") != (bad["language"] or "en"):
            return False
        similarity, near_miss = self.cache.compare(self._question(good), self._question(bad), bad["collections"])
        return similarity >= self.cache.params.similarity and not near_miss

    def eval_set(self, since: date | None = None, collections: Sequence[str] = (),
                 excluded: Sequence[str] = ()) -> tuple[list[dict], ExportReport]:
        report = ExportReport()
        latest: dict[tuple[str, str], dict] = {}
        for row in self._rows(since, collections, excluded, report):
            if not (row["curated_answer"] or self._approved(row)):
                continue
            sources = row["sources"] or []
            cited = [s for s in sources if s.get("cited")]
            evidence = cited or sources
            if not evidence:
                report.skipped["without sources"] += 1
                continue
            expected = sorted({(s["collection"], s["source"], s["title"]) for s in evidence})
            latest[(scope_key(row["collections"]), normalize(self._question(row)))] = {
                "id": row["id"], "question": self._question(row), "language": row["language"],
                "collections": row["collections"],
                "expected": [{"collection": c, "source": s, "title": t} for c, s, t in expected],
                "evidence": "cited" if cited else "given"}
        records = [_scrubbed(r, report) for r in sorted(latest.values(), key=lambda r: r["id"])]
        return records, report


def dumps(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
