"""`python -m benchmarks tables`: what repeating a split table's header buys retrieval.

The corpus (``benchmarks/table_corpus.py``) is indexed three times, each into its own scratch
collection, chunked three ways:

- ``no-header``: chunker v1, a chunk that starts inside a table has only its rows;
- ``header``: chunker v2 (the product), the header row and rule repeated at the top of such a chunk;
- ``pairs``: every row of a table written as a list item of "column: value" pairs before chunking,
  so each line names its columns wherever the table is cut.

Every question is asked of each collection in hybrid, keyword and vector mode (interleaved). A hit
answers it when it is the right page and one of its lines holds the asked row with the asked cell.
"evidence@3" asks whether ``answering.evidence.select_evidence`` then quotes that cell from the top
hybrid hits (fitted to the answer's 1,800-token source budget), as it would under an answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Callable

from answering.context import build_sources
from answering.evidence import select_evidence
from answering.types import PipelineConfig
from benchmarks.table_corpus import Page, TableQuestion, build_corpus
from models.chat import approx_tokens
from retrieval import store
from retrieval.chunking import TABLE_RULE, Chunk, ChunkingParams, chunk_document
from retrieval.keywords import keyword_text
from retrieval.loaders import ParsedDocument, Section, parse_markdown
from retrieval.search import MODES, Searcher, SearchHit

VARIANTS = ("no-header", "header", "pairs")
PREFIX = "bench-tables-"
DEPTH = 10


def rows_as_pairs(text: str) -> str:
    """``text`` with each row of a Markdown table that has a header written as "- column: value; …"."""
    lines = text.split("\n")
    out: list[str] = []
    header: list[str] | None = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("|"):
            header = None
            out.append(line)
            continue
        cells = [c.strip() for c in stripped.strip("|").split("|")]
        if TABLE_RULE.match(stripped) and header is not None:
            continue
        if i + 1 < len(lines) and TABLE_RULE.match(lines[i + 1].strip()) and not TABLE_RULE.match(stripped):
            header = cells
            continue
        if header and len(cells) == len(header):
            out.append("- " + "; ".join(f"{h}: {c}" for h, c in zip(header, cells) if c))
        else:
            out.append(line)
    return "\n".join(out)


def _chunks_without_header(doc: ParsedDocument, params: ChunkingParams) -> list[Chunk]:
    """Chunker v1: ``chunk_document``'s splitting (same separators) without ``with_table_header``."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=params.size, chunk_overlap=params.overlap,
                                              separators=["\n\n", "\n", ". ", "。", "? ", "! ", " ", ""],
                                              keep_separator="end", strip_whitespace=True)
    return [Chunk(n, section.heading, piece.strip())
            for section in doc.sections
            for n, piece in enumerate(p for p in splitter.split_text(section.text) if p.strip())]


def chunk_variant(doc: ParsedDocument, params: ChunkingParams, variant: str) -> list[Chunk]:
    if variant == "no-header":
        chunks = _chunks_without_header(doc, params)
        return [dataclasses.replace(c, ordinal=i) for i, c in enumerate(chunks)]
    if variant == "pairs":
        doc = dataclasses.replace(doc, sections=[Section(s.heading, rows_as_pairs(s.text)) for s in doc.sections])
    return chunk_document(doc, params)


def _index(services, pages: list[Page], variant: str, params: ChunkingParams) -> dict:
    name = PREFIX + variant
    embedder = services.embedder
    with services.engine.begin() as conn:
        store.delete_collection(conn, name)
        coll = store.create_collection(conn, name, embedder.name, embedder.dim)
    sizes = []
    for page in pages:
        doc = parse_markdown(page.text, page.title)
        chunks = chunk_variant(doc, params, variant)
        contexts = [c.context(doc.title) for c in chunks]
        vectors = embedder.embed_array(contexts)
        sizes.extend(len(c.text) for c in chunks)
        with services.engine.begin() as conn:
            store.replace_document(conn, coll.id, source=page.source, title=doc.title, url=None, kind="markdown",
                                   content_hash=hashlib.sha256(page.text.encode()).hexdigest(),
                                   pipeline=f"bench/{variant}", size_bytes=len(page.text.encode()), chunks=chunks,
                                   vectors=vectors, keyword_texts=[keyword_text(c) for c in contexts])
    return {"collection": name, "chunks": len(sizes), "mean_chars": round(sum(sizes) / len(sizes)),
            "max_chars": max(sizes)}


class _QueryMemo:
    """The embedder, remembering query vectors: each question is searched nine times."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self._queries: dict[str, object] = {}

    def __getattr__(self, name: str):
        return getattr(self._embedder, name)

    def embed_array(self, texts, is_query: bool = False):
        if not is_query or len(texts) != 1:
            return self._embedder.embed_array(texts, is_query=is_query)
        if texts[0] not in self._queries:
            self._queries[texts[0]] = self._embedder.embed_array(texts, is_query=True)
        return self._queries[texts[0]]


def _rank(hits: list[SearchHit], q: TableQuestion) -> int | None:
    return next((i for i, h in enumerate(hits[:DEPTH], 1) if h.source == q.source and q.answered_by(h.text)), None)


def _evidence_has_cell(hits: list[SearchHit], q: TableQuestion, budget: int) -> bool:
    sources = build_sources(hits, budget, approx_tokens)
    return any(q.answered_by(p.text) for p in select_evidence(q.question, sources, k=3).passages)


def _metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)
    return {"recall@1": round(sum(1 for r in ranks if r == 1) / n, 4),
            "recall@5": round(sum(1 for r in ranks if r and r <= 5) / n, 4),
            "mrr@10": round(sum(1 / r for r in ranks if r) / n, 4), "questions": n}


def run_tables_benchmark(services, *, seed: int = 7, keep: bool = False,
                         log: Callable[[str], None] | None = None) -> dict:
    say = log or (lambda _msg: None)
    pages, questions = build_corpus(seed)
    params = services.settings.chunking_params
    say(f"{len(pages)} pages, {len(questions)} questions; indexing {len(VARIANTS)} variants …")
    index = {v: _index(services, pages, v, params) for v in VARIANTS}
    base = services.settings.retrieval_params
    search = {m: dataclasses.replace(base, mode=m, k=DEPTH, candidates=max(base.candidates, DEPTH)) for m in MODES}
    budget = PipelineConfig.source_tokens
    ranks = {(v, m): [] for v in VARIANTS for m in MODES}
    evidence = {v: [] for v in VARIANTS}
    searcher = Searcher(services.engine, _QueryMemo(services.embedder))
    say("searching …")
    for q in questions:
        for v in VARIANTS:  # interleaved, so the machine's noise hits every variant alike
            for m in MODES:
                hits = searcher.search(q.question, search[m], collections=[index[v]["collection"]])
                ranks[(v, m)].append(_rank(hits, q))
                if m == "hybrid":
                    evidence[v].append(_evidence_has_cell(hits[:base.k], q, budget))
    if not keep:
        with services.engine.begin() as conn:
            for v in VARIANTS:
                store.delete_collection(conn, index[v]["collection"])

    def subset(pick) -> dict:
        chosen = [i for i, q in enumerate(questions) if pick(q)]
        return {v: _metrics([ranks[(v, "hybrid")][i] for i in chosen]) for v in VARIANTS}

    return {
        "variants": {v: {"index": index[v],
                         "modes": {m: _metrics(ranks[(v, m)]) for m in MODES},
                         "evidence@3": round(sum(evidence[v]) / len(questions), 4)} for v in VARIANTS},
        "hybrid_by_language": {lang: subset(lambda q, lang=lang: q.language == lang) for lang in ("en", "ko")},
        "hybrid_by_table": {kind: subset(lambda q, kind=kind: q.kind == kind)
                            for kind in ("levels", "holidays", "errors")},
        "pages": len(pages), "questions": len(questions), "seed": seed,
        "chunking": {"size": params.size, "overlap": params.overlap},
        "embedding_model": services.embedder.name,
    }


def render_tables(result: dict):
    from rich.console import Group
    from rich.table import Table

    main = Table(title=f"Split tables: {result['questions']} questions on {result['pages']} pages "
                       f"({result['embedding_model']}, chunks of {result['chunking']['size']} chars)",
                 title_justify="left")
    for col in ("variant", "chunks", "chars", "hybrid R@1", "R@5", "MRR@10", "keyword MRR", "vector MRR",
                "evidence@3"):
        main.add_column(col, justify="left" if col == "variant" else "right")
    for v, row in result["variants"].items():
        modes = row["modes"]
        main.add_row(v, str(row["index"]["chunks"]), str(row["index"]["mean_chars"]),
                     *(f"{modes['hybrid'][m]:.3f}" for m in ("recall@1", "recall@5", "mrr@10")),
                     f"{modes['keyword']['mrr@10']:.3f}", f"{modes['vector']['mrr@10']:.3f}",
                     f"{row['evidence@3']:.3f}")
    split = Table(title="hybrid recall@1 / mrr@10 by slice", title_justify="left")
    split.add_column("slice")
    for v in result["variants"]:
        split.add_column(v, justify="right")
    for group in ("hybrid_by_language", "hybrid_by_table"):
        for name, row in result[group].items():
            n = next(iter(row.values()))["questions"]
            split.add_row(f"{name} ({n})", *(f"{row[v]['recall@1']:.3f} / {row[v]['mrr@10']:.3f}" for v in row))
    return Group(main, split)
