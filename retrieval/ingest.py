"""Incremental indexing: unchanged files are skipped, changed ones replaced atomically, gone ones removed.

Nothing is removed from a folder that has become empty or cannot be listed (an unmounted
share) unless the caller allows it, and nothing at all from a run that was cancelled.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from core.errors import Cancelled, InvalidInput, ModelError, UnreadableFile
from models import Embedder
from models.probe import Probe, same_vectors
from retrieval import store
from retrieval.calibration import load_calibrations, recalibrate
from retrieval.chunking import Chunk, ChunkingParams, chunk_document
from retrieval.injection import SCANNER_VERSION, Finding, scan_document
from retrieval.keywords import keyword_text
from retrieval.loaders import ParsedDocument, too_many
from retrieval.parse_worker import ParseWorker
from retrieval.search import Searcher
from retrieval.sources import SourceItem, discover, under

__all__ = ["COLLECTION_NAME", "MAX_FILE_CHUNKS", "MAX_FILE_PAGES", "IndexReport", "Indexer", "SourceItem"]

# Mirrors the CHECK constraint on collections.name.
COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
# A file's size in bytes says little about the work it makes: PDF pages can share one content stream.
# These bound that work per file (defaults of MAX_FILE_PAGES and MAX_FILE_CHUNKS; see .env.example).
MAX_FILE_PAGES = 2000
MAX_FILE_CHUNKS = 5000


@dataclass
class IndexReport:
    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # not removed: their folder looks empty or unreadable
    empty_folders: list[tuple[str, str, int]] = field(default_factory=list)  # (folder, why, documents kept)
    stopped: bool = False  # cancelled before the last file; nothing was removed
    chunks_written: int = 0
    reembedded_chunks: int = 0
    calibrated: bool = False  # the collection's "I don't know" floor was measured again (retrieval.calibration)
    floors: dict[str, float] = field(default_factory=dict)  # ... and what it is now, by the probes' language
    seconds: float = 0.0

    @property
    def warnings(self) -> list[str]:
        """What the user should know although nothing failed."""
        notes = [f"{folder} {why}: kept its {_documents(n)}" for folder, why, n in self.empty_folders]
        if self.stopped:
            notes.append("stopped before the last file: nothing was removed, files not reached keep their "
                         "previous version")
        return notes

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
            "kept": len(self.kept),
            "warnings": self.warnings,
            "stopped": self.stopped,
            "chunks_written": self.chunks_written,
            "reembedded_chunks": self.reembedded_chunks,
            "calibrated": self.calibrated,
            "floors": self.floors,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[int, int | None, str], None]


@dataclass(frozen=True)
class _Scope:
    """Which stored documents a run may remove: those under ``roots`` (None: any), except under ``keep``."""

    roots: list[str] | None
    keep: list[tuple[str, str]] = field(default_factory=list)  # (folder, why it looks empty)

    def removes(self, source: str) -> bool:
        inside = self.roots is None or under(source, self.roots)
        return inside and not under(source, [folder for folder, _ in self.keep])


def _documents(n: int) -> str:
    return f"{n} document" if n == 1 else f"{n} documents"


@dataclass
class _Pending:
    item: SourceItem
    doc: ParsedDocument
    chunks: list[Chunk]
    content_hash: str
    size: int
    existed: bool
    flags: list[Finding]

    @property
    def contexts(self) -> list[str]:
        """What is embedded and keyword-indexed for each chunk."""
        return [c.context(self.doc.title) for c in self.chunks]


class Indexer:
    """Turns sources into chunks, embeddings and rows; one transaction per document."""

    def __init__(self, engine: Engine, embedder: Embedder, chunking: ChunkingParams = ChunkingParams(),
                 max_file_bytes: int = 20 * 1024 * 1024, parse_seconds: float | None = 60.0,
                 max_file_pages: int = MAX_FILE_PAGES, max_file_chunks: int = MAX_FILE_CHUNKS,
                 injection_probe: Probe | None = None) -> None:
        """``parse_seconds`` is each file's parse budget (in a child process); None parses in this process.

        A file over ``max_file_bytes``, ``max_file_pages`` (PDF) or ``max_file_chunks`` is skipped, its
        previous version kept; pages are counted before text is extracted, chunks before any is embedded.
        """
        if max_file_pages < 1 or max_file_chunks < 1:
            raise InvalidInput("the page and chunk limits of a file must be at least 1")
        self.engine = engine
        self.embedder = embedder
        self.chunking = chunking
        self.max_file_bytes = max_file_bytes
        self.parse_seconds = parse_seconds
        self.max_file_pages = max_file_pages
        self.max_file_chunks = max_file_chunks
        self.injection_probe = injection_probe  # reads documents for instructions to an assistant by meaning
        self._probe_vectors = same_vectors(embedder) if injection_probe else None  # one model, not two

    def index_paths(self, paths: Sequence[Path], collection: str, progress: Progress | None = None,
                    allow_empty: bool = False, cancel: threading.Event | None = None) -> IndexReport:
        """Index files and folders into ``collection``; documents gone from these paths are removed.

        A folder that yields no indexable file, or cannot be listed, keeps its documents (see
        ``IndexReport.warnings``) unless ``allow_empty``. Setting ``cancel`` stops the run between
        files (or while one is parsed) and then nothing is removed.
        """
        report = IndexReport(collection)
        found = discover(paths)
        report.failed.extend(found.failed)
        report.ignored.extend(found.ignored)
        scope = _Scope(found.roots, [] if allow_empty else found.empty)
        return self._run(found.items, collection, report, progress, scope, cancel)

    def index_items(self, items: Iterable[SourceItem], collection: str, progress: Progress | None = None,
                    remove_missing: bool = False, cancel: threading.Event | None = None) -> IndexReport:
        """Index in-memory or file items; with ``remove_missing`` every other document is removed."""
        report = IndexReport(collection)
        return self._run(list(items), collection, report, progress, _Scope(None if remove_missing else []), cancel)

    def _run(self, items: list[SourceItem], collection: str, report: IndexReport, progress: Progress | None,
             scope: _Scope, cancel: threading.Event | None) -> IndexReport:
        started = time.perf_counter()
        if not items and scope.roots == []:
            report.seconds = time.perf_counter() - started
            return report
        coll = self._collection(collection, report)
        with self.engine.connect() as conn:
            existing = store.list_documents(conn, coll.id)
        seen = self._index_all(items, coll, existing, report, progress, cancel)
        if report.stopped:
            report.seconds = time.perf_counter() - started
            return report
        gone = [doc for source, doc in existing.items() if source not in seen and scope.removes(source)]
        for folder, why in scope.keep:
            kept = sorted(source for source in existing if source not in seen and under(source, [folder]))
            if kept:
                report.kept.extend(kept)
                report.empty_folders.append((folder, why, len(kept)))
        with self.engine.begin() as conn:
            store.delete_documents(conn, [doc.id for doc in gone])
            store.touch_collection(conn, coll.id)
        report.removed.extend(sorted(doc.source for doc in gone))
        if report.added or report.updated or report.removed or report.reembedded_chunks or self._uncalibrated(coll):
            calibration = recalibrate(self.engine, Searcher(self.engine, self.embedder), coll.name)
            report.calibrated = True
            spreads = calibration.languages if calibration else {}
            report.floors = {lang: round(spread.floor, 4) for lang, spread in spreads.items()}
        report.seconds = time.perf_counter() - started
        return report

    def _index_all(self, items: list[SourceItem], coll: store.Collection, existing: dict[str, store.StoredDocument],
                   report: IndexReport, progress: Progress | None, cancel: threading.Event | None) -> set[str]:
        """Prepare and write every item; returns the sources looked at (all of them unless cancelled)."""
        pipeline = f"{self.chunking.fingerprint}/scan={SCANNER_VERSION}"
        if self.injection_probe:  # retrained weights rescan every document once
            pipeline += f"+meaning:{self.injection_probe.version}"
        seen: set[str] = set()
        batch: list[_Pending] = []
        batch_chunks = 0
        with ParseWorker(self.parse_seconds) as worker:
            for n, item in enumerate(items, 1):
                try:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(item.source)
                    pending = self._prepare(item, existing, pipeline, report, worker, cancel)
                except Cancelled:
                    report.stopped = True
                    return seen  # what was prepared but not written keeps its previous version
                seen.add(item.source)
                if pending is not None:
                    batch.append(pending)
                    batch_chunks += len(pending.chunks)
                    if batch_chunks >= self.embedder.config.batch_size:
                        self._flush(coll, batch, pipeline, report)
                        batch, batch_chunks = [], 0
                if progress:
                    progress(n, len(items), item.source)
        self._flush(coll, batch, pipeline, report)
        return seen

    def _uncalibrated(self, coll: store.Collection) -> bool:
        with self.engine.connect() as conn:
            return coll.name not in load_calibrations(conn, self.embedder.name)

    def _collection(self, name: str, report: IndexReport) -> store.Collection:
        if not COLLECTION_NAME.fullmatch(name):
            raise InvalidInput(f"invalid collection name {name!r}: use letters, digits, '_', '.' and '-' "
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
                 report: IndexReport, worker: ParseWorker, cancel: threading.Event | None) -> _Pending | None:
        try:
            data = item.read(self.max_file_bytes)
        except UnreadableFile as exc:
            report.failed.append((item.source, str(exc)))
            return None
        digest = hashlib.sha256(data).hexdigest()
        old = existing.get(item.source)
        if old is not None and old.content_hash == digest and old.pipeline == pipeline:
            report.unchanged.append(item.source)
            return None
        try:
            doc = worker.parse(data, item.kind or "text", os.path.basename(item.source), cancel, self.max_file_pages)
        except UnreadableFile as exc:
            report.failed.append((item.source, str(exc)))
            return None
        if item.title:
            doc = ParsedDocument(title=item.title, kind=doc.kind, sections=doc.sections, url=doc.url)
        chunks = chunk_document(doc, self.chunking)
        if not chunks:
            report.failed.append((item.source, "empty: no text to index"))
            return None
        if len(chunks) > self.max_file_chunks:
            report.failed.append((item.source, too_many("chunks", len(chunks), self.max_file_chunks,
                                                        "MAX_FILE_CHUNKS")))
            return None
        findings = scan_document(doc, probe=self.injection_probe, embedder=self._probe_vectors)
        return _Pending(item, doc, chunks, digest, len(data), old is not None, findings)

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
                        vectors=mine, keyword_texts=keyword_texts, flags=[f.as_dict() for f in p.flags],
                    )
            except DBAPIError as exc:
                report.failed.append((p.item.source, f"database refused it: {str(exc.orig).strip()}"))
                continue
            (report.updated if p.existed else report.added).append(p.item.source)
            report.chunks_written += len(p.chunks)


