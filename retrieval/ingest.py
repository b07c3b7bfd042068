"""Incremental indexing: unchanged files are skipped, changed ones replaced atomically, gone ones removed."""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from models import Embedder, ModelError
from retrieval import store
from retrieval.chunking import Chunk, ChunkingParams, chunk_document
from retrieval.keywords import keyword_text
from retrieval.loaders import ParsedDocument, UnreadableFile, kind_of, parse

# Mirrors the CHECK constraint on collections.name.
COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class SourceItem:
    """One thing to index: a file on disk, or text handed over in memory."""

    source: str
    kind: str | None
    path: Path | None = None
    data: bytes | None = None
    title: str | None = None

    def size(self) -> int:
        return len(self.data) if self.data is not None else self.path.stat().st_size

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


@dataclass
class IndexReport:
    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    chunks_written: int = 0
    reembedded_chunks: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "failed": len(self.failed),
        }

    def as_dict(self) -> dict:
        return {
            "collection": self.collection,
            **self.counts(),
            "failures": [{"source": s, "reason": r} for s, r in self.failed],
            "chunks_written": self.chunks_written,
            "reembedded_chunks": self.reembedded_chunks,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[int, int | None, str], None]


@dataclass
class _Pending:
    item: SourceItem
    doc: ParsedDocument
    chunks: list[Chunk]
    content_hash: str
    size: int
    existed: bool

    @property
    def contexts(self) -> list[str]:
        """What is embedded and keyword-indexed for each chunk."""
        return [c.context(self.doc.title) for c in self.chunks]


def discover(paths: Sequence[Path], report: IndexReport) -> tuple[list[SourceItem], list[str]]:
    """Expand files and folders into source items; returns the items and the roots they cover."""
    items: list[SourceItem] = []
    roots: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            report.failed.append((str(raw), "no such file or folder"))
            continue
        path = path.resolve()
        if path.is_dir():
            roots.append(str(path))
            for file in _walk(path):
                kind = kind_of(file)
                if kind is None:
                    report.ignored.append(str(file))
                else:
                    items.append(SourceItem(str(file), kind, path=file))
        else:
            roots.append(str(path))
            kind = kind_of(path)
            if kind is None:
                report.failed.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
            else:
                items.append(SourceItem(str(path), kind, path=path))
    return items, roots


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _under(source: str, roots: Sequence[str]) -> bool:
    return any(source == root or source.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class Indexer:
    """Turns sources into chunks, embeddings and rows; one transaction per document."""

    def __init__(self, engine: Engine, embedder: Embedder, chunking: ChunkingParams = ChunkingParams(),
                 max_file_bytes: int = 20 * 1024 * 1024) -> None:
        self.engine = engine
        self.embedder = embedder
        self.chunking = chunking
        self.max_file_bytes = max_file_bytes

    def index_paths(self, paths: Sequence[Path], collection: str, progress: Progress | None = None) -> IndexReport:
        """Index files and folders into ``collection``; documents gone from these paths are removed."""
        report = IndexReport(collection)
        items, roots = discover(paths, report)
        return self._run(items, collection, report, progress, removal_scope=roots)

    def index_items(self, items: Iterable[SourceItem], collection: str, progress: Progress | None = None,
                    remove_missing: bool = False) -> IndexReport:
        """Index in-memory or file items; with ``remove_missing`` every other document is removed."""
        report = IndexReport(collection)
        return self._run(list(items), collection, report, progress, removal_scope=None if remove_missing else [])

    def _run(self, items: list[SourceItem], collection: str, report: IndexReport, progress: Progress | None,
             removal_scope: list[str] | None) -> IndexReport:
        started = time.perf_counter()
        if not items and removal_scope == []:
            report.seconds = time.perf_counter() - started
            return report
        coll = self._collection(collection, report)
        with self.engine.connect() as conn:
            existing = store.list_documents(conn, coll.id)
        pipeline = self.chunking.fingerprint
        seen: set[str] = set()
        batch: list[_Pending] = []
        batch_chunks = 0
        for n, item in enumerate(items, 1):
            seen.add(item.source)
            pending = self._prepare(item, existing, pipeline, report)
            if pending is not None:
                batch.append(pending)
                batch_chunks += len(pending.chunks)
                if batch_chunks >= self.embedder.config.batch_size:
                    self._flush(coll, batch, pipeline, report)
                    batch, batch_chunks = [], 0
            if progress:
                progress(n, len(items), item.source)
        self._flush(coll, batch, pipeline, report)

        gone = [doc for source, doc in existing.items() if source not in seen and
                (removal_scope is None or _under(source, removal_scope))]
        with self.engine.begin() as conn:
            store.delete_documents(conn, [doc.id for doc in gone])
            store.touch_collection(conn, coll.id)
        report.removed.extend(sorted(doc.source for doc in gone))
        report.seconds = time.perf_counter() - started
        return report

    def _collection(self, name: str, report: IndexReport) -> store.Collection:
        if not COLLECTION_NAME.fullmatch(name):
            raise ValueError(f"invalid collection name {name!r}: use letters, digits, '_', '.' and '-' "
                             "(at most 63, starting with a letter or digit)")
        with self.engine.connect() as conn:
            coll = store.get_collection(conn, name)
        if coll is None:
            with self.engine.begin() as conn:
                return store.create_collection(conn, name, self.embedder.name, self.embedder.dim)
        if coll.embedding_model != self.embedder.name:
            report.reembedded_chunks = self._reembed(coll)
            coll = store.Collection(coll.id, coll.name, self.embedder.name, self.embedder.dim)
        return coll

    def _reembed(self, coll: store.Collection) -> int:
        """Switching models re-embeds every chunk of the collection in one transaction."""
        with self.engine.connect() as conn:
            rows = store.collection_chunks(conn, coll.id)
        contexts = [Chunk(0, section, body).context(title) for _, title, section, body in rows]
        vectors = self.embedder.embed_array(contexts)
        with self.engine.begin() as conn:
            store.set_embeddings(conn, coll.id, [r[0] for r in rows], vectors, self.embedder.name,
                                 self.embedder.dim)
        return len(rows)

    def _prepare(self, item: SourceItem, existing: dict[str, store.StoredDocument], pipeline: str,
                 report: IndexReport) -> _Pending | None:
        try:
            size = item.size()
            if size > self.max_file_bytes:
                raise UnreadableFile(
                    f"too large: {size / 1048576:.1f} MB, the limit is {self.max_file_bytes / 1048576:.1f} MB "
                    "(MAX_FILE_MB)"
                )
            data = item.read()
        except UnreadableFile as exc:
            report.failed.append((item.source, str(exc)))
            return None
        except OSError as exc:
            report.failed.append((item.source, f"cannot read: {exc.strerror or exc}"))
            return None
        digest = hashlib.sha256(data).hexdigest()
        old = existing.get(item.source)
        if old is not None and old.content_hash == digest and old.pipeline == pipeline:
            report.unchanged.append(item.source)
            return None
        try:
            doc = parse(data, item.kind or "text", os.path.basename(item.source))
        except UnreadableFile as exc:
            report.failed.append((item.source, str(exc)))
            return None
        if item.title:
            doc = ParsedDocument(title=item.title, kind=doc.kind, sections=doc.sections, url=doc.url)
        chunks = chunk_document(doc, self.chunking)
        if not chunks:
            report.failed.append((item.source, "empty: no text to index"))
            return None
        return _Pending(item, doc, chunks, digest, len(data), old is not None)

    def _flush(self, coll: store.Collection, batch: list[_Pending], pipeline: str, report: IndexReport) -> None:
        if not batch:
            return
        contexts = [p.contexts for p in batch]
        try:
            vectors = self.embedder.embed_array([ctx for doc in contexts for ctx in doc])
        except ModelError as exc:
            report.failed.extend((p.item.source, f"embedding failed: {exc}") for p in batch)
            return
        offset = 0
        for p, doc_contexts in zip(batch, contexts):
            mine = vectors[offset: offset + len(p.chunks)]
            offset += len(p.chunks)
            keyword_texts = [keyword_text(ctx) for ctx in doc_contexts]
            try:
                with self.engine.begin() as conn:
                    store.replace_document(
                        conn, coll.id, source=p.item.source, title=p.doc.title, url=p.doc.url, kind=p.doc.kind,
                        content_hash=p.content_hash, pipeline=pipeline, size_bytes=p.size, chunks=p.chunks,
                        vectors=mine, keyword_texts=keyword_texts,
                    )
            except DBAPIError as exc:
                report.failed.append((p.item.source, f"database refused it: {str(exc.orig).strip()}"))
                continue
            (report.updated if p.existed else report.added).append(p.item.source)
            report.chunks_written += len(p.chunks)


