"""Knowledge base: collections, documents, chunks with vectors, BM25 postings kept by triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Vector dimensions that get an HNSW index. Other dimensions work, searched exactly.
INDEXED_DIMS = (384, 768, 1024, 1536)


def upgrade() -> None:
    _tables()
    _bm25_statistics()
    _bm25_triggers()


def _tables() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    # English stemming and stop words; Korean arrives already split into morphemes.
    op.execute("CREATE TEXT SEARCH CONFIGURATION kb_text (COPY = pg_catalog.english)")
    op.execute(
        """
        CREATE FUNCTION kb_term_count(tsvector) RETURNS integer
        LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN
        (SELECT coalesce(sum(coalesce(array_length(positions, 1), 1)), 0)::integer FROM unnest($1))
        """
    )
    op.execute(
        """
        CREATE TABLE collections (
            id serial PRIMARY KEY,
            name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
            embedding_model text NOT NULL,
            embedding_dim integer NOT NULL CHECK (embedding_dim > 0),
            confidential boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_indexed_at timestamptz
        )
        """
    )
    op.execute(
        """
        CREATE TABLE documents (
            id bigserial PRIMARY KEY,
            collection_id integer NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            source text NOT NULL,
            title text NOT NULL,
            url text,
            kind text NOT NULL,
            content_hash text NOT NULL,
            pipeline text NOT NULL,
            size_bytes bigint NOT NULL,
            chunk_count integer NOT NULL,
            indexed_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (collection_id, source)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE chunks (
            id bigserial PRIMARY KEY,
            document_id bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
            collection_id integer NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            ordinal integer NOT NULL,
            section text NOT NULL DEFAULT '',
            text text NOT NULL,
            embedding vector NOT NULL,
            terms tsvector NOT NULL,
            length integer GENERATED ALWAYS AS (kb_term_count(terms)) STORED
        )
        """
    )
    op.execute("CREATE INDEX chunks_document_idx ON chunks (document_id, ordinal)")
    for dim in INDEXED_DIMS:
        op.execute(
            f"CREATE INDEX chunks_embedding_{dim}_idx ON chunks "
            f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WHERE vector_dims(embedding) = {dim}"
        )


def _bm25_statistics() -> None:
    # BM25 needs term frequencies, document lengths and document frequencies, which
    # ts_rank does not use. Triggers keep them exact inside the writing transaction.
    op.execute(
        """
        CREATE TABLE postings (
            lexeme text NOT NULL,
            collection_id integer NOT NULL,
            chunk_id bigint NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
            tf integer NOT NULL,
            doc_len integer NOT NULL,
            PRIMARY KEY (lexeme, collection_id, chunk_id) INCLUDE (tf, doc_len)
        )
        """
    )
    op.execute("CREATE INDEX postings_chunk_idx ON postings (chunk_id)")
    op.execute(
        """
        CREATE TABLE lexeme_stats (
            collection_id integer NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            lexeme text NOT NULL,
            df integer NOT NULL,
            PRIMARY KEY (lexeme, collection_id) INCLUDE (df)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE collection_stats (
            collection_id integer PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
            chunks bigint NOT NULL,
            total_length bigint NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION kb_chunks_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO postings (lexeme, collection_id, chunk_id, tf, doc_len)
            SELECT t.lexeme, c.collection_id, c.id, coalesce(array_length(t.positions, 1), 1), c.length
            FROM new_chunks c, unnest(c.terms) t;
            INSERT INTO collection_stats AS s (collection_id, chunks, total_length)
            SELECT collection_id, count(*), sum(length) FROM new_chunks GROUP BY collection_id
            ON CONFLICT (collection_id) DO UPDATE
                SET chunks = s.chunks + EXCLUDED.chunks, total_length = s.total_length + EXCLUDED.total_length;
            RETURN NULL;
        END $$
        """
    )


def _bm25_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION kb_chunks_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE collection_stats s
            SET chunks = s.chunks - d.n, total_length = s.total_length - d.len
            FROM (SELECT collection_id, count(*) AS n, sum(length) AS len FROM old_chunks GROUP BY collection_id) d
            WHERE s.collection_id = d.collection_id;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION kb_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO lexeme_stats AS s (collection_id, lexeme, df)
            SELECT collection_id, lexeme, count(*) FROM new_postings
            GROUP BY collection_id, lexeme ORDER BY lexeme, collection_id
            ON CONFLICT (lexeme, collection_id) DO UPDATE SET df = s.df + EXCLUDED.df;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION kb_postings_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE lexeme_stats s SET df = s.df - d.n
            FROM (SELECT collection_id, lexeme, count(*) AS n FROM old_postings
                  GROUP BY collection_id, lexeme ORDER BY lexeme, collection_id) d
            WHERE s.collection_id = d.collection_id AND s.lexeme = d.lexeme;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER chunks_inserted AFTER INSERT ON chunks REFERENCING NEW TABLE AS new_chunks "
        "FOR EACH STATEMENT EXECUTE FUNCTION kb_chunks_inserted()"
    )
    op.execute(
        "CREATE TRIGGER chunks_deleted AFTER DELETE ON chunks REFERENCING OLD TABLE AS old_chunks "
        "FOR EACH STATEMENT EXECUTE FUNCTION kb_chunks_deleted()"
    )
    op.execute(
        "CREATE TRIGGER postings_inserted AFTER INSERT ON postings REFERENCING NEW TABLE AS new_postings "
        "FOR EACH STATEMENT EXECUTE FUNCTION kb_postings_inserted()"
    )
    op.execute(
        "CREATE TRIGGER postings_deleted AFTER DELETE ON postings REFERENCING OLD TABLE AS old_postings "
        "FOR EACH STATEMENT EXECUTE FUNCTION kb_postings_deleted()"
    )


def downgrade() -> None:
    for table in ("postings", "lexeme_stats", "collection_stats", "chunks", "documents", "collections"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for fn in ("kb_chunks_inserted", "kb_chunks_deleted", "kb_postings_inserted", "kb_postings_deleted"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    op.execute("DROP FUNCTION IF EXISTS kb_term_count(tsvector)")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS kb_text")
