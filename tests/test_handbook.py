"""The sample handbook with the real default embedder: what the README demo shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.search import RetrievalParams, Searcher
from tests.conftest import HANDBOOK, ROOT

QUERIES = json.loads((ROOT / "samples" / "handbook-queries.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def handbook(handbook_db, e5_embedder):
    engine, first, second = handbook_db
    return first, second, Searcher(engine, e5_embedder)


def test_handbook_has_twenty_documents_some_korean(handbook):
    first, _, _ = handbook
    names = [Path(s).name for s in first.added]
    assert len(names) == 20 and not first.failed
    assert sum(name.endswith("-ko.md") for name in names) == 5


def test_reindexing_the_unchanged_handbook_skips_every_file(handbook):
    first, second, _ = handbook
    assert second.counts() == {"added": 0, "updated": 0, "unchanged": 20, "removed": 0, "failed": 0}
    assert second.chunks_written == 0


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_hybrid_search_finds_the_expected_document(handbook, lang):
    _, _, searcher = handbook
    questions = [q for q in QUERIES if q["lang"] == lang]
    found = []
    for q in questions:
        hits = searcher.search(q["question"], RetrievalParams(k=5), collections=["handbook"])
        top3 = list(dict.fromkeys(Path(h.source).name for h in hits))[:3]
        found.append(any(name in q["expected"] for name in top3))
    misses = [q["question"] for q, ok in zip(questions, found) if not ok]
    assert len(misses) <= len(questions) // 10, misses


def test_korean_question_finds_particle_bearing_document_by_keyword_alone(handbook):
    _, _, searcher = handbook
    hits = searcher.search("휴가 신청", RetrievalParams(mode="keyword", k=3), collections=["handbook"])
    assert Path(hits[0].source).name == "vacation-policy-ko.md"
    assert "휴가를 신청하려면" in (HANDBOOK / "vacation-policy-ko.md").read_text(encoding="utf-8")
