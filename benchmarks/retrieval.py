"""Retrieval benchmark on any SQuAD v1.1 JSON file: keyword vs vector vs hybrid (adaptive fusion and
fixed RRF), in one run.

Each distinct paragraph becomes one document (titled by its article) in a scratch collection named
after the file; questions are sampled with a fixed seed; a question is answered when its paragraph's
document appears in the top k (chunks of one document count once). benchmarks/data/kolaw-squad.json
is a Korean set in the same layout (see benchmarks/data/README.md).
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import time
from pathlib import Path
from typing import Callable

from evals.squad import load_squad, scratch_collection
from retrieval import store
from retrieval.search import RetrievalParams

DEPTH = 10
# method -> how it differs from the configured parameters; both hybrids are measured side by side
METHODS: dict[str, dict] = {
    "hybrid": {"mode": "hybrid", "fusion": "adaptive"},
    "hybrid-rrf": {"mode": "hybrid", "fusion": "rrf"},
    "keyword": {"mode": "keyword"},
    "vector": {"mode": "vector"},
}


def method_params(base: RetrievalParams) -> dict[str, RetrievalParams]:
    return {name: dataclasses.replace(base, k=2 * DEPTH, candidates=max(base.candidates, 2 * DEPTH), **change)
            for name, change in METHODS.items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def run_retrieval_benchmark(services, squad_json: Path, *, questions: int = 2000, seed: int = 13,
                            log: Callable[[str], None] | None = None, progress=None,
                            reuse_index: bool = False) -> dict:
    """Run the benchmark; ``reuse_index`` keeps the scratch collection between runs (for tuning),
    and then the indexing figures describe an incremental re-index, not a fresh one."""
    say = log or (lambda _msg: None)
    items, pairs = load_squad(squad_json)
    sample = random.Random(seed).sample(pairs, min(questions, len(pairs)))
    say(f"{len(items)} paragraphs, {len(pairs)} questions; sampling {len(sample)} (seed {seed})")

    scratch = scratch_collection(squad_json)
    if not reuse_index:
        with services.engine.begin() as conn:
            store.delete_collection(conn, scratch)
    say(f"indexing paragraphs into the scratch collection {scratch} …")
    started = time.perf_counter()
    report = services.indexer.index_items(items, scratch, progress)
    index_seconds = time.perf_counter() - started
    if report.failed:
        say(f"{len(report.failed)} paragraphs failed to index, e.g. {report.failed[0]}")

    base = services.settings.retrieval_params
    params = method_params(base)
    searcher = services.searcher
    for question, _ in sample[:20]:  # warm caches and the model before timing
        for method in METHODS:
            searcher.search(question, params[method], collections=[scratch])

    ranks: dict[str, list[int | None]] = {m: [] for m in METHODS}
    latencies: dict[str, list[float]] = {m: [] for m in METHODS}
    say(f"searching {len(sample)} questions × {len(METHODS)} methods …")
    for n, (question, gold) in enumerate(sample, 1):
        if progress:
            progress(n, len(sample), "searching")
        for method in METHODS:  # interleaved, so machine noise hits every method alike
            t0 = time.perf_counter()
            hits = searcher.search(question, params[method], collections=[scratch])
            latencies[method].append((time.perf_counter() - t0) * 1000)
            docs = list(dict.fromkeys(h.source for h in hits))[:DEPTH]
            ranks[method].append(docs.index(gold) + 1 if gold in docs else None)

    if not reuse_index:
        with services.engine.begin() as conn:
            store.delete_collection(conn, scratch)

    methods = {}
    for method in METHODS:
        r = ranks[method]
        n = len(r)
        methods[method] = {
            "recall@1": round(sum(1 for x in r if x and x <= 1) / n, 4),
            "recall@5": round(sum(1 for x in r if x and x <= 5) / n, 4),
            "recall@10": round(sum(1 for x in r if x and x <= 10) / n, 4),
            "mrr@10": round(sum(1 / x for x in r if x) / n, 4),
            "p50_ms": round(statistics.median(latencies[method]), 2),
            "p95_ms": round(percentile(latencies[method], 95), 2),
        }
    return {
        "methods": methods,
        "index": {
            "paragraphs": len(items),
            "chunks": report.chunks_written,
            "seconds": round(index_seconds, 2),
            "paragraphs_per_s": round(len(items) / index_seconds, 2) if index_seconds else None,
            "reused": len(report.unchanged),
        },
        "questions": len(sample),
        "seed": seed,
        "embedding_model": services.embedder.name,
        "params": dataclasses.asdict(base),
    }


def render_table(result: dict):
    from rich.table import Table

    table = Table(title=f"{result['questions']} questions (seed {result['seed']}), {result['embedding_model']}",
                  title_justify="left")
    columns = ["recall@1", "recall@5", "recall@10", "mrr@10", "p50_ms", "p95_ms"]
    table.add_column("method")
    for c in columns:
        table.add_column(c, justify="right")
    for mode, row in result["methods"].items():
        table.add_row(mode, *(f"{row[c]}" for c in columns))
    idx = result["index"]
    table.caption = (f"indexed {idx['paragraphs']} paragraphs ({idx['chunks']} chunks) in {idx['seconds']} s "
                     f"= {idx['paragraphs_per_s']} paragraphs/s")
    return table
