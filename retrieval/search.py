"""Hybrid retrieval in one SQL statement: HNSW vector search + BM25 keyword search, fused per query.

Fusion is adaptive by default (``fuse``): each arm's scores are normalised against that arm's own
candidates, and each arm is weighted by how clearly its first result stands out, so a confident arm
is not dragged down by a flat one. Fixed weighted reciprocal rank fusion (``fusion="rrf"``) stays
available, computed inside the statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from sqlalchemy import Engine, text

from core.errors import InvalidInput
from core.text import clean
from models import Embedder
from retrieval.keywords import keyword_text

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "vector", "keyword")
Fusion = Literal["adaptive", "rrf"]
FUSIONS: tuple[str, ...] = ("adaptive", "rrf")
MAX_QUERY_CHARS = 4000
# Adaptive fusion: an arm's weight is prior * (CONFIDENCE_FLOOR + margin) ** CONFIDENCE_POWER, where
# margin is its top-1 lead over its second result as a share of its whole score range. Chosen on
# SQuAD dev questions sampled with seed 1 and 140 questions of benchmarks/data/kolaw-squad.json
# (see README), not on the samples reported there; the plain sum (power 0) is within 0.01.
CONFIDENCE_FLOOR = 0.05
CONFIDENCE_POWER = 0.5


@dataclass(frozen=True)
class RetrievalParams:
    """How to search: k results, ``candidates`` per arm, fusion (adaptive, or fixed RRF with its constant),
    arm weights (the prior of each arm in either fusion), BM25 shape."""

    k: int = 5
    candidates: int = 40
    # Chosen on SQuAD dev questions sampled with seed 1 (see README); BM25 is the
    # stronger arm there, and a small RRF constant lets first places count.
    rrf_k: int = 10
    vector_weight: float = 1.0
    keyword_weight: float = 1.2
    mode: Mode = "hybrid"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    # Leave out chunks of documents flagged at index time for text aimed at an assistant (retrieval.injection).
    # They are dropped after fusion, so they still take candidate places: fewer than k results come back only
    # when nearly all candidates are flagged.
    exclude_flagged: bool = False
    fusion: Fusion = "adaptive"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.fusion not in FUSIONS:
            raise InvalidInput(f"fusion must be one of {', '.join(FUSIONS)}, not {self.fusion!r}")
        if not 1 <= self.k <= 1000:
            raise InvalidInput("k must be between 1 and 1000")
        if not self.k <= self.candidates <= 10000:
            raise InvalidInput(f"candidates per arm ({self.candidates}) must be at least k ({self.k}) "
                               "and at most 10000")
        if self.rrf_k < 0:
            raise InvalidInput("the RRF constant must not be negative")
        if self.vector_weight < 0 or self.keyword_weight < 0:
            raise InvalidInput("arm weights must not be negative")
        if self.mode == "hybrid" and self.vector_weight == 0 and self.keyword_weight == 0:
            raise InvalidInput("at least one arm needs a positive weight")
        if self.bm25_k1 <= 0 or not 0 <= self.bm25_b <= 1:
            raise InvalidInput("BM25 needs k1 > 0 and 0 <= b <= 1")

    @property
    def uses_vector(self) -> bool:
        return self.mode == "vector" or (self.mode == "hybrid" and self.vector_weight > 0)

    @property
    def uses_keyword(self) -> bool:
        return self.mode == "keyword" or (self.mode == "hybrid" and self.keyword_weight > 0)


@dataclass(frozen=True)
class SearchHit:
    chunk_id: int
    document_id: int
    collection: str
    title: str
    source: str
    url: str | None
    section: str
    text: str
    score: float
    ordinal: int = 0
    vector_rank: int | None = None
    keyword_rank: int | None = None
    vector_similarity: float | None = None  # cosine similarity to the question (None: a keyword-only search)
    keyword_score: float | None = None
    # what it says addresses an assistant (retrieval.injection), and no admin has cleared its document: its whole
    # document by a pattern, or this chunk holds a passage the probe alone found
    flagged: bool = False

    def as_dict(self) -> dict:
        return {
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "collection": self.collection,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "section": self.section,
            "ordinal": self.ordinal,
            "score": round(self.score, 6),
            "vector_rank": self.vector_rank,
            "keyword_rank": self.keyword_rank,
            "vector_similarity": None if self.vector_similarity is None else round(self.vector_similarity, 4),
            "keyword_score": None if self.keyword_score is None else round(self.keyword_score, 4),
            "text": self.text,
        }


_COLLECTIONS = "(CAST(:collections AS text[]) IS NULL OR name = ANY(CAST(:collections AS text[])))"

_KEYWORD_ARM = f"""
kcols AS (SELECT id FROM collections WHERE {_COLLECTIONS}),
qterms AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('kb_text', :keyword_text))),
cstats AS (
    SELECT sum(chunks)::float8 AS n, greatest(sum(total_length)::float8 / nullif(sum(chunks), 0), 1.0) AS avgdl
    FROM collection_stats WHERE collection_id IN (SELECT id FROM kcols)
),
idf AS (
    SELECT s.lexeme, ln(1 + (cs.n - sum(s.df) + 0.5) / (sum(s.df) + 0.5)) AS idf
    FROM lexeme_stats s JOIN qterms USING (lexeme) CROSS JOIN cstats cs
    WHERE s.collection_id IN (SELECT id FROM kcols)
    GROUP BY s.lexeme, cs.n HAVING sum(s.df) > 0
),
kw AS (
    SELECT p.chunk_id,
           sum(i.idf * p.tf * (:k1 + 1) / (p.tf + :k1 * (1 - :b + :b * p.doc_len / cs.avgdl))) AS score
    FROM postings p JOIN idf i USING (lexeme) CROSS JOIN cstats cs
    WHERE p.collection_id IN (SELECT id FROM kcols)
    GROUP BY p.chunk_id
    ORDER BY score DESC, p.chunk_id
    LIMIT :candidates
),
kw_ranked AS (SELECT chunk_id, score, row_number() OVER (ORDER BY score DESC, chunk_id) AS rank FROM kw)"""

_NO_KEYWORD_ARM = """
kw_ranked AS (SELECT NULL::bigint AS chunk_id, NULL::float8 AS score, NULL::bigint AS rank WHERE false)"""

# The cast to vector(dim) and the vector_dims() predicate match the partial HNSW
# indexes of migration 0001; iterative scans (set per connection) keep filtered
# searches returning `candidates` rows.
_VECTOR_ARM = f"""
vcols AS (SELECT id FROM collections WHERE embedding_model = :model AND {_COLLECTIONS}),
vec AS MATERIALIZED (
    SELECT c.id AS chunk_id, c.embedding::vector({{dim}}) <=> CAST(:qvec AS vector({{dim}})) AS distance
    FROM chunks c
    WHERE vector_dims(c.embedding) = {{dim}} AND c.collection_id IN (SELECT id FROM vcols)
    ORDER BY c.embedding::vector({{dim}}) <=> CAST(:qvec AS vector({{dim}}))
    LIMIT :candidates
),
vec_ranked AS (SELECT chunk_id, distance, row_number() OVER (ORDER BY distance, chunk_id) AS rank FROM vec)"""

_NO_VECTOR_ARM = """
vec_ranked AS (SELECT NULL::bigint AS chunk_id, NULL::float8 AS distance, NULL::bigint AS rank WHERE false)"""

# A document is flagged while its text addresses an assistant and no admin has cleared this version of it.
FLAGGED = "(d.flags <> '[]'::jsonb AND d.cleared_hash IS DISTINCT FROM d.content_hash)"
_FUSE = """
fused AS (
    SELECT coalesce(v.chunk_id, k.chunk_id) AS chunk_id,
           coalesce(:wv / (:rrf_k + v.rank), 0) + coalesce(:wk / (:rrf_k + k.rank), 0) AS score,
           v.rank AS vector_rank, k.rank AS keyword_rank, v.distance, k.score AS keyword_score
    FROM vec_ranked v FULL JOIN kw_ranked k ON v.chunk_id = k.chunk_id
)
SELECT f.chunk_id, f.score, f.vector_rank, f.keyword_rank, {distance} AS distance, f.keyword_score,
       c.document_id, c.ordinal, c.section, c.text, d.title, d.source, d.url, col.name AS collection,
       {FLAGGED} AND jsonb_path_exists(d.flags, '$[*] ? (@.pattern != "meaning")') AS flagged,
       CASE WHEN {FLAGGED} THEN ARRAY(SELECT f->>'excerpt' FROM jsonb_array_elements(d.flags) f
                                      WHERE f->>'pattern' = 'meaning') END AS flagged_passages
FROM fused f
JOIN chunks c ON c.id = f.chunk_id
JOIN documents d ON d.id = c.document_id
JOIN collections col ON col.id = c.collection_id
WHERE NOT (:exclude_flagged AND {FLAGGED})
ORDER BY f.score DESC, f.chunk_id
LIMIT :k"""


# Every result gets its cosine distance to the question, including those only the keyword arm found
# (answerability compares each source's similarity with its collection's calibration).
_ANY_DISTANCE = """coalesce(f.distance, CASE WHEN col.embedding_model = :model AND vector_dims(c.embedding) = {dim}
    THEN c.embedding::vector({dim}) <=> CAST(:qvec AS vector({dim})) END)"""


def build_sql(params: RetrievalParams, dim: int) -> str:
    """The one statement for ``params`` (exposed for EXPLAIN and tests)."""
    arms = [
        _VECTOR_ARM.format(dim=int(dim)) if params.uses_vector else _NO_VECTOR_ARM,
        _KEYWORD_ARM if params.uses_keyword else _NO_KEYWORD_ARM,
    ]
    distance = _ANY_DISTANCE.format(dim=int(dim)) if params.uses_vector else "f.distance"
    return "WITH " + ",".join(arms) + "," + _FUSE.format(distance=distance, FLAGGED=FLAGGED)


def _rescaled(ranked: Sequence[tuple[int, float]], background: float | None) -> tuple[dict[int, float], float]:
    """Scores mapped onto [0, 1] (first result 1, ``background`` or the last result 0), and the first
    result's lead over the second on that scale."""
    if not ranked:
        return {}, 0.0
    top = ranked[0][1]
    bottom = ranked[-1][1] if background is None else background
    span = top - bottom
    if span <= 0:  # every candidate scored the same: no order of its own to offer
        return {chunk_id: 1.0 for chunk_id, _ in ranked}, 0.0
    second = ranked[1][1] if len(ranked) > 1 else bottom
    return {chunk_id: (score - bottom) / span for chunk_id, score in ranked}, (top - second) / span


def fuse(vector: Sequence[tuple[int, float]], keyword: Sequence[tuple[int, float]],
         params: RetrievalParams) -> list[tuple[int, float]]:
    """Adaptive fusion of the two arms: (chunk_id, score) pairs, best first.

    ``vector`` holds (chunk_id, cosine similarity) and ``keyword`` (chunk_id, BM25 score), each best
    first and at most ``params.candidates`` long. Each arm's scores are rescaled to [0, 1] between its
    first result and its background: the last candidate for the vector arm (every chunk has a
    similarity), 0 for BM25 when it matched fewer chunks than ``candidates`` (nothing else matches at
    all), else its last candidate. An arm counts with its prior weight times
    (CONFIDENCE_FLOOR + margin) ** CONFIDENCE_POWER, margin being its first result's lead over its
    second on that scale: an arm whose first result stands out outweighs one with a flat top. A chunk
    scores the weighted sum over both arms (0 from an arm that did not return it), so what both arms
    put near the top stays there; ties go to the better rank in either arm.
    """
    vector_scores, vector_margin = _rescaled(vector, None)
    keyword_scores, keyword_margin = _rescaled(keyword, 0.0 if len(keyword) < params.candidates else None)
    weights = (params.vector_weight * (CONFIDENCE_FLOOR + vector_margin) ** CONFIDENCE_POWER,
               params.keyword_weight * (CONFIDENCE_FLOOR + keyword_margin) ** CONFIDENCE_POWER)
    fused: dict[int, float] = {}
    best_rank: dict[int, int] = {}
    for weight, scores in zip(weights, (vector_scores, keyword_scores)):
        for rank, (chunk_id, score) in enumerate(scores.items(), 1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * score
            best_rank[chunk_id] = min(best_rank.get(chunk_id, rank), rank)
    return sorted(fused.items(), key=lambda item: (-item[1], best_rank[item[0]], item[0]))


def vector_literal(vector) -> str:
    """The text form pgvector reads (`[x,y,...]`), for a ``CAST(:v AS vector)`` parameter, with seven
    significant digits (about a float32's precision). The pgvector Python package is not needed for this."""
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


class Searcher:
    """Runs hybrid searches; one database round trip per query."""

    def __init__(self, engine: Engine, embedder: Embedder) -> None:
        self.engine = engine
        self.embedder = embedder
        self._sql: dict[tuple[bool, bool], object] = {}  # by (uses_vector, uses_keyword)

    def search(
        self,
        query: str,
        params: RetrievalParams = RetrievalParams(),
        collections: Sequence[str] | None = None,
        keyword_query: str | None = None,
    ) -> list[SearchHit]:
        """Rank chunks for ``query``; ``keyword_query`` (if given) replaces it for the keyword arm."""
        query = clean(query).strip()
        if not query:
            raise InvalidInput("the search query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInput(f"the search query is too long ({len(query)} characters, at most {MAX_QUERY_CHARS})")
        hybrid = params.mode == "hybrid"
        adaptive = hybrid and params.fusion == "adaptive"
        bind = {
            "collections": list(collections) if collections else None,
            "candidates": params.candidates,
            # adaptive fusion happens here, over every candidate of both arms
            "k": 2 * params.candidates if adaptive else params.k,
            "rrf_k": float(params.rrf_k),
            # a single-arm search ranks by that arm alone; the other arm's CTE is empty
            "wv": float(params.vector_weight) if hybrid else 1.0,
            "wk": float(params.keyword_weight) if hybrid else 1.0,
            "k1": params.bm25_k1,
            "b": params.bm25_b,
            "exclude_flagged": params.exclude_flagged,
        }
        if params.uses_keyword:
            bind["keyword_text"] = keyword_text(clean(keyword_query) if keyword_query else query)
        if params.uses_vector:
            bind["qvec"] = vector_literal(self.embedder.embed_array([query], is_query=True)[0])
            bind["model"] = self.embedder.name
        shape = (params.uses_vector, params.uses_keyword)
        sql = self._sql.get(shape)
        if sql is None:
            sql = self._sql[shape] = text(build_sql(params, self.embedder.dim if params.uses_vector else 0))
        with self.engine.connect() as conn:
            rows = conn.execute(sql, bind).mappings().all()
        if not adaptive:
            return [_hit(row, float(row["score"])) for row in rows]
        by_id = {row["chunk_id"]: row for row in rows}
        vector = sorted((r for r in rows if r["vector_rank"] is not None), key=lambda r: r["vector_rank"])
        keyword = sorted((r for r in rows if r["keyword_rank"] is not None), key=lambda r: r["keyword_rank"])
        fused = fuse([(r["chunk_id"], 1.0 - float(r["distance"])) for r in vector],
                     [(r["chunk_id"], float(r["keyword_score"])) for r in keyword], params)
        return [_hit(by_id[chunk_id], score) for chunk_id, score in fused[:params.k]]

    def unused_words(self, query: str, collections: Sequence[str] | None = None) -> list[str]:
        """The words of ``query`` (as keyword search stems them) that no chunk of ``collections`` holds."""
        with self.engine.connect() as conn:
            return list(conn.execute(_UNUSED, {"keyword_text": keyword_text(clean(query)),
                                               "collections": list(collections) if collections else None}).scalars())


_UNUSED = text(f"""
SELECT q.lexeme FROM (SELECT DISTINCT lexeme FROM unnest(to_tsvector('kb_text', :keyword_text))) q
WHERE NOT EXISTS (SELECT 1 FROM lexeme_stats s JOIN collections c ON c.id = s.collection_id
                  WHERE s.lexeme = q.lexeme AND s.df > 0 AND {_COLLECTIONS.replace('name', 'c.name')})
ORDER BY q.lexeme""")


def _hit(row, score: float) -> SearchHit:
    return SearchHit(
        chunk_id=row["chunk_id"],
        document_id=row["document_id"],
        collection=row["collection"],
        title=row["title"],
        source=row["source"],
        url=row["url"],
        section=row["section"],
        text=row["text"],
        score=score,
        ordinal=row["ordinal"],
        vector_rank=row["vector_rank"],
        keyword_rank=row["keyword_rank"],
        vector_similarity=None if row["distance"] is None else 1.0 - float(row["distance"]),
        keyword_score=None if row["keyword_score"] is None else float(row["keyword_score"]),
        flagged=bool(row.get("flagged")) or _holds_any(row["text"], row.get("flagged_passages") or ()),
    )


def _holds_any(text: str, excerpts: Sequence[str]) -> bool:
    """Does ``text`` (a chunk) hold one of ``excerpts`` (flagged passages, whitespace collapsed, maybe cut with
    "…" at either end)? A passage split between two chunks is found in both by its start or its end."""
    if not excerpts:
        return False
    flat = " ".join(text.split())
    for excerpt in excerpts:
        core = excerpt.strip("… ")
        if core and (core[:60] in flat or core[-60:] in flat):
            return True
    return False
