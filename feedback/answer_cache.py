"""The approved-answer cache: answers colleagues approved, or admins wrote, served without a model.

A cached entry answers a new question when both are asked in the same collection scope and
language, every source document of the entry is unchanged (content hash), and either

- the normalised texts are equal (case, whitespace, punctuation), or
- the question embeddings are within ``similarity`` (cosine) **and** the two questions are not
  one slot apart: near-misses share almost every word and differ in one or two terms the
  knowledge base knows ("vacation days for interns" / "for contractors", SEV1 / SEV2,
  Seoul / Berlin). Embeddings alone put those closer than many true paraphrases (see
  ``samples/cache-calibration.json`` and ``python -m bot bench cache``).

An entry's status follows the votes: ``active`` while approved (net 👍 ≥ ``min_approvals``, no
open 👎 unless allowed), ``demoted`` otherwise or after any 👎 on an answer it served,
``stale`` once a source document changed or vanished (for good: a new answer must be approved).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import Connection, Engine, text

from feedback.mentions import strip_mentions
from feedback.votes import tally
from models import Embedder
from retrieval.keywords import keyword_text
from retrieval.search import vector_literal
from retrieval.store import document_hashes

# Question words and fillers that say nothing about *which* thing is asked about.
GENERIC_TERMS = frozenset({
    "mani", "much", "get", "per", "need",
    "그", "이", "저", "것", "수", "때", "등", "밖", "안", "되", "하", "있", "없", "같", "해", "하나요",
    "어떻", "얼마", "몇", "며칠", "무엇", "뭐", "언제", "어디", "누구", "왜",
})
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class CacheParams:
    """When an answer counts as approved, and how close a new question must be to reuse it."""

    # Chosen on samples/cache-calibration.json with `python -m bot bench cache` (see README).
    similarity: float = 0.88
    max_substitution: int = 4  # differing known terms (both sides together) that make a near-miss
    min_approvals: int = 1  # net 👍 (👍 minus 👎) for an answer to be served from the cache
    allow_downvoted: bool = False  # serve approved answers that also have a 👎
    candidates: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.similarity <= 1:
            raise ValueError("CACHE_SIMILARITY is a cosine similarity in (0, 1]")
        if self.min_approvals < 1:
            raise ValueError("CACHE_MIN_APPROVALS must be at least 1")
        if self.max_substitution < 0 or self.candidates < 1:
            raise ValueError("max_substitution must be >= 0 and candidates >= 1")


@dataclass(frozen=True)
class CachedAnswer:
    id: int
    interaction_id: int
    question: str
    answer: str
    language: str
    sources: list[dict]
    approvals: int
    curated: bool
    match: str  # "exact" | "similar"
    similarity: float | None = None


def normalize(question: str) -> str:
    """Case, width, punctuation, whitespace and Slack mentions folded away: "What's X?" == "what s x"."""
    folded = unicodedata.normalize("NFKC", strip_mentions(question)).casefold()
    kept = "".join(ch if not unicodedata.category(ch).startswith(("P", "S")) else " " for ch in folded)
    return " ".join(kept.split())


def scope_key(collections: Sequence[str] | None) -> str:
    """The scope a question was asked in: ``*`` for every collection, else the sorted names."""
    return "*" if collections is None else ",".join(sorted(set(collections)))


def is_substitution(approved: dict[str, int], asked: dict[str, int], limit: int) -> bool:
    """True when the two questions differ only in a few terms the knowledge base knows, on both sides,
    or in a number or ID on both sides (ERR-555 / ERR-556, known to the knowledge base or not).

    ``approved`` / ``asked`` map each question's search terms to their document frequency in scope.
    Terms unknown to the knowledge base (df 0, e.g. "receive" for "get") are wording, not meaning.
    """
    def differing(terms: dict[str, int], other: dict[str, int]) -> tuple[set[str], set[str]]:
        own = {t: df for t, df in terms.items() if t not in other and t not in GENERIC_TERMS}
        return {t for t, df in own.items() if df > 0}, {t for t in own if _DIGIT.search(t)}

    (known_a, ids_a), (known_b, ids_b) = differing(approved, asked), differing(asked, approved)
    if ids_a and ids_b:
        return True
    return bool(known_a) and bool(known_b) and len(known_a) + len(known_b) <= limit


class AnswerCacheStore:
    """Finds, creates and re-rates cached answers; build once and share (thread-safe)."""

    def __init__(self, engine: Engine, embedder: Embedder, params: CacheParams = CacheParams()) -> None:
        self.engine = engine
        self.embedder = embedder
        self.params = params

    # -- lookup ------------------------------------------------------------------------------

    def find(self, question: str, collections: Sequence[str] | None, language: str) -> CachedAnswer | None:
        """The best fresh, active entry for ``question`` in this scope and language, or None."""
        norm, key = normalize(question), scope_key(collections)
        if not norm:
            return None
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"""
                SELECT {_COLUMNS}, NULL::float8 AS similarity FROM cached_answers
                WHERE status = 'active' AND scope_key = :key AND normalized = :norm
                ORDER BY curated_by IS NULL, id DESC
            """), {"key": key, "norm": norm}).mappings().all()
            exact = bool(rows)
            if not exact:
                vector = vector_literal(self.embedder.embed_array([strip_mentions(question)], is_query=True)[0])
                rows = conn.execute(text(f"""
                    SELECT * FROM (
                        SELECT {_COLUMNS}, 1 - (embedding <=> CAST(:v AS vector)) AS similarity
                        FROM cached_answers
                        WHERE status = 'active' AND scope_key = :key AND language = :lang
                          AND embedding_model = :model AND vector_dims(embedding) = :dim
                        ORDER BY embedding <=> CAST(:v AS vector) LIMIT :n
                    ) c WHERE similarity >= :min ORDER BY similarity DESC
                """), {"key": key, "lang": language, "model": self.embedder.name, "dim": self.embedder.dim,
                       "v": vector, "n": self.params.candidates, "min": self.params.similarity}).mappings().all()
            for row in rows:
                if not exact and is_substitution(*self._terms(conn, row["question"], question, collections),
                                                 self.params.max_substitution):
                    continue  # a near-miss: asks about something else
                changed = _changed_sources(conn, row["sources"])
                if changed:
                    self._mark_stale(row["id"], changed)
                    continue
                return CachedAnswer(
                    id=row["id"], interaction_id=row["interaction_id"], question=row["question"],
                    answer=row["answer"], language=row["language"], sources=list(row["sources"]),
                    approvals=_approvals(conn, row["id"], row["interaction_id"]),
                    curated=row["curated_by"] is not None, match="exact" if exact else "similar",
                    similarity=row["similarity"],
                )
        return None

    def compare(self, approved: str, asked: str, collections: Sequence[str] | None) -> tuple[float, bool]:
        """(cosine similarity, near-miss?) for two questions, exactly as ``find`` judges a candidate."""
        a, b = self.embedder.embed_array([strip_mentions(approved), strip_mentions(asked)], is_query=True)
        similarity = float(a @ b / ((a @ a) ** 0.5 * (b @ b) ** 0.5))
        with self.engine.connect() as conn:
            terms = self._terms(conn, approved, asked, collections)
        return similarity, is_substitution(*terms, self.params.max_substitution)

    def _terms(self, conn: Connection, approved: str, asked: str,
               collections: Sequence[str] | None) -> tuple[dict[str, int], dict[str, int]]:
        rows = conn.execute(text("""
            SELECT q.i, t.lexeme, coalesce(sum(s.df), 0) AS df
            FROM (VALUES (0, CAST(:a AS text)), (1, CAST(:b AS text))) q(i, body)
            CROSS JOIN LATERAL unnest(to_tsvector('kb_text', q.body)) t
            LEFT JOIN lexeme_stats s ON s.lexeme = t.lexeme AND s.collection_id IN (
                SELECT id FROM collections WHERE CAST(:all AS boolean) OR name = ANY(:names))
            GROUP BY q.i, t.lexeme
        """), {"a": keyword_text(strip_mentions(approved)), "b": keyword_text(strip_mentions(asked)),
               "all": collections is None, "names": list(collections or [])}).all()
        terms: tuple[dict[str, int], dict[str, int]] = ({}, {})
        for i, lexeme, df in rows:
            terms[i][lexeme] = int(df)
        return terms

    def _mark_stale(self, entry_id: int, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE cached_answers SET status = 'stale', status_reason = :r, updated_at = now() "
                              "WHERE id = :i"), {"i": entry_id, "r": reason[:500]})

    # -- votes and curation --------------------------------------------------------------------

    def refresh(self, interaction_id: int) -> None:
        """Bring the cache up to date after a vote on ``interaction_id``: create, re-rate or demote."""
        with self.engine.connect() as conn:
            row = conn.execute(text("""
                SELECT i.id, i.route, i.question, i.rewritten_question, i.language, i.collections, i.answer,
                       i.sources, i.cached_answer_id, i.prompt_version, i.place, e.id AS entry_id
                FROM interactions i LEFT JOIN cached_answers e ON e.interaction_id = i.id
                WHERE i.id = :i
            """), {"i": interaction_id}).mappings().first()
        if row is None:
            return
        entries = {e for e in (row["entry_id"], row["cached_answer_id"]) if e is not None}
        # Votes approve for everyone only what was asked where everyone could see it (a private question's
        # answer may echo what its asker confided); an admin's curation may make any answer shared.
        if (row["entry_id"] is None and row["place"] == "public" and self._cacheable(row)
                and self._approved_votes(interaction_id)):
            entries.add(self._insert(row, row["question"], row["answer"], curated_by=None))
        for entry_id in entries:
            self._rerate(entry_id)

    def curate(self, interaction_id: int, answer: str, admin: str) -> int:
        """An admin's answer to the question of ``interaction_id``; served from the cache from now on."""
        answer = answer.strip()
        if not answer:
            raise ValueError("a curated answer cannot be empty")
        with self.engine.connect() as conn:
            row = conn.execute(text("""
                SELECT id, route, question, rewritten_question, language, collections, answer, sources
                FROM interactions WHERE id = :i
            """), {"i": interaction_id}).mappings().first()
        if row is None:
            raise LookupError(f"no answer #{interaction_id}")
        question = row["rewritten_question"] or row["question"]
        return self._insert(row, question, answer, curated_by=admin)

    def _cacheable(self, row) -> bool:
        # Thread follow-ups are only meaningful with their thread; answers without text are not answers;
        # an answer written in one channel's style (its /kb channel instruction) is not served elsewhere.
        return (row["route"] in ("answer", "extractive") and bool((row["answer"] or "").strip())
                and not row["rewritten_question"] and not (row.get("prompt_version") or "").endswith("+style"))

    def _approved_votes(self, interaction_id: int) -> bool:
        with self.engine.connect() as conn:
            up, down = conn.execute(text(f"SELECT {tally()} FROM feedback f WHERE f.interaction_id = :i"),
                                    {"i": interaction_id}).one()
        return self.qualifies(up, down)

    def qualifies(self, up: int, down: int) -> bool:
        """Do these vote counts approve an answer?"""
        return up - down >= self.params.min_approvals and (self.params.allow_downvoted or down == 0)

    def _insert(self, row, question: str, answer: str, curated_by: str | None) -> int:
        sources = _dependencies(row["sources"])
        vector = vector_literal(self.embedder.embed_array([strip_mentions(question)], is_query=True)[0])
        values = {"i": row["id"], "q": question, "n": normalize(question), "lang": row["language"] or "en",
                  "key": scope_key(row["collections"]), "v": vector, "model": self.embedder.name,
                  "a": answer, "s": json.dumps(sources, ensure_ascii=False), "by": curated_by}
        with self.engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO cached_answers (interaction_id, question, normalized, language, scope_key, embedding,
                                            embedding_model, answer, sources, curated_by, status)
                VALUES (:i, :q, :n, :lang, :key, CAST(:v AS vector), :model, :a, CAST(:s AS jsonb), :by, 'active')
                ON CONFLICT (interaction_id) DO UPDATE SET
                    question = EXCLUDED.question, normalized = EXCLUDED.normalized, embedding = EXCLUDED.embedding,
                    embedding_model = EXCLUDED.embedding_model, answer = EXCLUDED.answer,
                    sources = EXCLUDED.sources, curated_by = EXCLUDED.curated_by, status = 'active',
                    status_reason = NULL, updated_at = now()
                WHERE EXCLUDED.curated_by IS NOT NULL
            """), values)
            return conn.execute(text("SELECT id FROM cached_answers WHERE interaction_id = :i"),
                                {"i": row["id"]}).scalar_one()

    def _rerate(self, entry_id: int) -> None:
        with self.engine.begin() as conn:
            entry = conn.execute(text("SELECT id, interaction_id, curated_by, status FROM cached_answers "
                                      "WHERE id = :e FOR UPDATE"), {"e": entry_id}).mappings().first()
            if entry is None or entry["status"] == "stale":
                return
            up, down, served_down = conn.execute(text(f"""
                SELECT {tally()}, count(*) FILTER (WHERE f.vote = -1 AND i.id <> :own)
                FROM feedback f JOIN interactions i ON i.id = f.interaction_id
                WHERE i.id = :own OR i.cached_answer_id = :e
            """), {"own": entry["interaction_id"], "e": entry_id}).one()
            if served_down:
                status, reason = "demoted", "👎 on an answer served from the cache"
            elif entry["curated_by"] is not None or self.qualifies(up, down):
                status, reason = "active", None
            else:
                status, reason = "demoted", f"votes {up} 👍 / {down} 👎"
            conn.execute(text("UPDATE cached_answers SET status = :s, status_reason = :r, updated_at = now() "
                              "WHERE id = :e AND (status <> :s OR status_reason IS DISTINCT FROM :r)"),
                         {"s": status, "r": reason, "e": entry_id})

    def sweep(self) -> int:
        """Mark every active entry whose source documents changed or vanished as stale (after a reindex)."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, sources FROM cached_answers WHERE status = 'active'")).all()
            changed = [(entry_id, reason) for entry_id, sources in rows
                       if (reason := _changed_sources(conn, sources))]
        for entry_id, reason in changed:
            self._mark_stale(entry_id, reason)
        return len(changed)

    def stats(self) -> dict[str, int]:
        """Entries by status, and answers served from the cache."""
        with self.engine.connect() as conn:
            counts = dict(conn.execute(text("SELECT status, count(*) FROM cached_answers GROUP BY status")).all())
            served = conn.execute(text("SELECT count(*) FROM interactions WHERE route = 'cached'")).scalar_one()
        return {"active": counts.get("active", 0), "demoted": counts.get("demoted", 0),
                "stale": counts.get("stale", 0), "served": served}

    def entries(self) -> list[dict]:
        """Every entry with its vote counts, newest first (for status pages and tests)."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {_COLUMNS}, status, status_reason FROM cached_answers "
                                     "ORDER BY id DESC")).mappings().all()
            return [{**row, "approvals": _approvals(conn, row["id"], row["interaction_id"])} for row in rows]


_COLUMNS = "id, interaction_id, question, answer, language, sources, curated_by"


def _dependencies(sources: list[dict]) -> list[dict]:
    """The documents an answer rests on: the cited ones, or every source it was given when it cited none."""
    cited = [s for s in sources if s.get("cited")]
    return [{k: s.get(k) for k in ("number", "title", "section", "source", "url", "collection", "document_id",
                                   "content_hash")} for s in (cited or sources)]


def _changed_sources(conn: Connection, sources: list[dict]) -> str | None:
    """None when every source document still has the hash it had; else what changed."""
    wanted = {int(s["document_id"]): s.get("content_hash") for s in sources if s.get("document_id") is not None}
    if not wanted:
        return None
    now = document_hashes(conn, list(wanted))
    for doc_id, digest in wanted.items():
        title = next((s.get("title") for s in sources if s.get("document_id") == doc_id), doc_id)
        if doc_id not in now:
            return f"source removed: {title}"
        if now[doc_id] != digest:
            return f"source changed: {title}"
    return None


def _approvals(conn: Connection, entry_id: int, interaction_id: int) -> int:
    """People with a 👍 on the approved answer or on any answer the entry served."""
    return conn.execute(text(f"""
        SELECT {tally(people=True)} FROM feedback f JOIN interactions i ON i.id = f.interaction_id
        WHERE i.id = :own OR i.cached_answer_id = :e
    """), {"own": interaction_id, "e": entry_id}).one().up
