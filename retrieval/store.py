"""Writes to the knowledge base. Each document is replaced in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sqlalchemy import Connection, text

from retrieval.chunking import Chunk
from retrieval.search import FLAGGED, vector_literal


@dataclass(frozen=True)
class Collection:
    id: int
    name: str
    embedding_model: str
    embedding_dim: int


@dataclass(frozen=True)
class StoredDocument:
    id: int
    source: str
    content_hash: str
    pipeline: str


def get_collection(conn: Connection, name: str) -> Collection | None:
    row = conn.execute(
        text("SELECT id, name, embedding_model, embedding_dim FROM collections WHERE name = :n"), {"n": name}
    ).first()
    return Collection(*row) if row else None


def create_collection(conn: Connection, name: str, model: str, dim: int) -> Collection:
    row = conn.execute(
        text(
            "INSERT INTO collections (name, embedding_model, embedding_dim) VALUES (:n, :m, :d) "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name "
            "RETURNING id, name, embedding_model, embedding_dim"
        ),
        {"n": name, "m": model, "d": dim},
    ).one()
    return Collection(*row)


def list_documents(conn: Connection, collection_id: int) -> dict[str, StoredDocument]:
    rows = conn.execute(
        text("SELECT id, source, content_hash, pipeline FROM documents WHERE collection_id = :c"),
        {"c": collection_id},
    )
    return {row.source: StoredDocument(*row) for row in rows}


def replace_document(
    conn: Connection,
    collection_id: int,
    *,
    source: str,
    title: str,
    url: str | None,
    kind: str,
    content_hash: str,
    pipeline: str,
    size_bytes: int,
    chunks: list[Chunk],
    vectors: np.ndarray,
    keyword_texts: list[str],
    flags: Sequence[dict] = (),
) -> None:
    """Insert or replace a document and all its chunks; ``flags`` are its injection findings
    (``[{"pattern", "excerpt"}]``, see retrieval.injection), replacing any it had.

    Call inside a transaction: readers see the old chunks until it commits.
    """
    doc_id = conn.execute(
        text(
            """
            INSERT INTO documents (collection_id, source, title, url, kind, content_hash, pipeline,
                                   size_bytes, chunk_count, flags)
            VALUES (:c, :source, :title, :url, :kind, :hash, :pipeline, :size, :n, CAST(:flags AS jsonb))
            ON CONFLICT (collection_id, source) DO UPDATE
               SET title = EXCLUDED.title, url = EXCLUDED.url, kind = EXCLUDED.kind,
                   content_hash = EXCLUDED.content_hash, pipeline = EXCLUDED.pipeline,
                   size_bytes = EXCLUDED.size_bytes, chunk_count = EXCLUDED.chunk_count, flags = EXCLUDED.flags,
                   indexed_at = now()
            RETURNING id
            """
        ),
        {"c": collection_id, "source": source, "title": title, "url": url, "kind": kind, "hash": content_hash,
         "pipeline": pipeline, "size": size_bytes, "n": len(chunks),
         "flags": json.dumps(list(flags), ensure_ascii=False)},
    ).scalar_one()
    conn.execute(text("DELETE FROM chunks WHERE document_id = :d"), {"d": doc_id})
    conn.execute(
        text(
            """
            INSERT INTO chunks (document_id, collection_id, ordinal, section, text, embedding, terms)
            SELECT :d, :c, u.ordinal, u.section, u.body, CAST(u.embedding AS vector), to_tsvector('kb_text', u.kw)
            FROM unnest(CAST(:ordinals AS integer[]), CAST(:sections AS text[]), CAST(:bodies AS text[]),
                        CAST(:embeddings AS text[]), CAST(:kws AS text[])) AS u(ordinal, section, body, embedding, kw)
            """
        ),
        {
            "d": doc_id,
            "c": collection_id,
            "ordinals": [c.ordinal for c in chunks],
            "sections": [c.section for c in chunks],
            "bodies": [c.text for c in chunks],
            "embeddings": [vector_literal(v) for v in vectors],
            "kws": keyword_texts,
        },
    )


def delete_documents(conn: Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(text("DELETE FROM documents WHERE id = ANY(:ids)"), {"ids": ids})


def delete_collection(conn: Connection, name: str) -> bool:
    return conn.execute(text("DELETE FROM collections WHERE name = :n"), {"n": name}).rowcount > 0


def collection_chunks(conn: Connection, collection_id: int) -> list[tuple[int, str, str, str]]:
    """(chunk id, document title, section, text) for re-embedding a whole collection."""
    rows = conn.execute(
        text(
            "SELECT c.id, d.title, c.section, c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.collection_id = :c ORDER BY c.id"
        ),
        {"c": collection_id},
    )
    return [tuple(r) for r in rows]


def set_embeddings(conn: Connection, collection_id: int, ids: list[int], vectors: np.ndarray,
                   model: str, dim: int) -> None:
    conn.execute(
        text(
            "UPDATE chunks SET embedding = CAST(u.e AS vector) "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:embs AS text[])) AS u(id, e) WHERE chunks.id = u.id"
        ),
        {"ids": ids, "embs": [vector_literal(v) for v in vectors]},
    )
    conn.execute(
        text("UPDATE collections SET embedding_model = :m, embedding_dim = :d WHERE id = :c"),
        {"m": model, "d": dim, "c": collection_id},
    )


def touch_collection(conn: Connection, collection_id: int) -> None:
    conn.execute(text("UPDATE collections SET last_indexed_at = now() WHERE id = :c"), {"c": collection_id})


def collection_summaries(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"""
                SELECT c.name, c.embedding_model, c.last_indexed_at,
                       (SELECT count(*) FROM documents d WHERE d.collection_id = c.id) AS documents,
                       (SELECT count(*) FROM documents d WHERE d.collection_id = c.id AND {FLAGGED})
                           AS flagged,
                       coalesce((SELECT chunks FROM collection_stats s WHERE s.collection_id = c.id), 0) AS chunks
                FROM collections c ORDER BY c.name
                """
            )
        ).mappings()
        return [dict(r) for r in rows]


def collection_names(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM collections ORDER BY name")).scalars())


def document_hashes(conn: Connection, ids: list[int]) -> dict[int, str]:
    """The current content hash of each document id that still exists."""
    if not ids:
        return {}
    return dict(conn.execute(text("SELECT id, content_hash FROM documents WHERE id = ANY(:ids)"),
                             {"ids": list(ids)}).all())


@dataclass(frozen=True)
class FlaggedDocument:
    """A document whose text addresses an assistant (``flags`` as stored: ``[{"pattern", "excerpt"}]``)."""

    collection: str
    title: str
    source: str
    flags: list[dict]


def flagged_documents(engine, limit: int = 50,
                      collections: Sequence[str] | None = None) -> tuple[int, list[FlaggedDocument]]:
    """How many documents carry injection flags, and the first ``limit`` of them (by collection, title),
    of ``collections`` (None: of all)."""
    within = "(CAST(:cols AS text[]) IS NULL OR c.name = ANY(CAST(:cols AS text[])))"
    bind = {"cols": list(collections) if collections is not None else None, "n": limit}
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id "
                                  f"WHERE {FLAGGED} AND {within}"), bind).scalar_one()
        rows = conn.execute(
            text(
                "SELECT c.name, d.title, d.source, d.flags FROM documents d "
                f"JOIN collections c ON c.id = d.collection_id WHERE {FLAGGED} AND {within} "
                "ORDER BY c.name, d.title, d.source LIMIT :n"
            ),
            bind,
        ).all()
    return total, [FlaggedDocument(*row) for row in rows]


def clear_flags(engine, source: str, by: str, collection: str | None = None) -> list[str]:
    """An admin has read the flagged document(s) at ``source`` (a path, URL or title; in ``collection`` if
    given) and lets them answer again: this version is cleared (a changed text is scanned and flagged anew).
    Returns the titles cleared."""
    with engine.begin() as conn:
        rows = conn.execute(text(
            f"UPDATE documents d SET cleared_hash = d.content_hash, cleared_by = :by, cleared_at = now() "
            f"FROM collections c WHERE c.id = d.collection_id AND {FLAGGED} "
            "AND (d.source = :s OR d.title = :s OR d.url = :s) AND (CAST(:col AS text) IS NULL OR c.name = :col) "
            "RETURNING d.title"), {"s": source, "by": by, "col": collection}).scalars().all()
    return list(rows)
