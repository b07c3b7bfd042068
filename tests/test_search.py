"""Hybrid retrieval against the real PostgreSQL: fusion order, filters, Korean, atomic replacement."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import text

from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, SourceItem
from retrieval.retriever import KnowledgeBaseRetriever
from retrieval.search import RetrievalParams, Searcher


def items(docs: dict[str, str]) -> list[SourceItem]:
    return [SourceItem(f"mem:{name}", "markdown", data=body.encode(), title=name) for name, body in docs.items()]


@pytest.fixture
def indexer(engine, fake_embedder):
    return Indexer(engine, fake_embedder, ChunkingParams(size=500, overlap=50))


@pytest.fixture
def searcher(engine, fake_embedder):
    return Searcher(engine, fake_embedder)


def test_params_are_validated():
    with pytest.raises(ValueError, match="candidates"):
        RetrievalParams(k=10, candidates=5)
    with pytest.raises(ValueError, match="mode"):
        RetrievalParams(mode="fuzzy")
    with pytest.raises(ValueError, match="positive weight"):
        RetrievalParams(vector_weight=0, keyword_weight=0)
    with pytest.raises(ValueError, match="k must"):
        RetrievalParams(k=0)


def test_empty_and_huge_queries_are_refused(searcher):
    with pytest.raises(ValueError, match="empty"):
        searcher.search("   ")
    with pytest.raises(ValueError, match="too long"):
        searcher.search("vacation " * 1000)


def test_hostile_query_text_is_only_ever_data(indexer, searcher, engine):
    indexer.index_items(items({"a": "# a\n\nalpha"}), "c")
    for query in ["'; DROP TABLE chunks; --", "alpha & | ! <-> :* \\", "\x00\x01 alpha", "%s %(k)s {dim}"]:
        searcher.search(query, RetrievalParams(k=3))
    assert searcher.search("alpha", RetrievalParams(mode="keyword"))[0].title == "a"


def test_hybrid_order_is_reciprocal_rank_fusion_of_the_two_arms(indexer, searcher):
    corpus = {f"doc{i}": f"# doc{i}\n\n" + " ".join(f"w{(i * 7 + j) % 23}" for j in range(12)) for i in range(40)}
    corpus["exact"] = "# exact\n\nThe badge code ZX-4471 opens the loading dock."
    corpus["semantic"] = "# semantic\n\nbadge opens loading dock door badge loading dock"
    indexer.index_items(items(corpus), "c")
    base = RetrievalParams(k=10, candidates=30, rrf_k=60, vector_weight=1.0, keyword_weight=0.7, fusion="rrf")
    query = "badge ZX-4471 loading dock w3"

    vector = searcher.search(query, dataclasses.replace(base, mode="vector", k=30))
    keyword = searcher.search(query, dataclasses.replace(base, mode="keyword", k=30))
    hybrid = searcher.search(query, base)

    vrank = {h.chunk_id: r for r, h in enumerate(vector, 1)}
    krank = {h.chunk_id: r for r, h in enumerate(keyword, 1)}
    expected = {
        cid: (1.0 / (60 + vrank[cid]) if cid in vrank else 0.0) + (0.7 / (60 + krank[cid]) if cid in krank else 0.0)
        for cid in set(vrank) | set(krank)
    }
    ranked = sorted(expected, key=lambda cid: (-expected[cid], cid))[:10]

    assert [h.chunk_id for h in hybrid] == ranked
    for hit in hybrid:
        assert hit.score == pytest.approx(expected[hit.chunk_id])
        assert hit.vector_rank == vrank.get(hit.chunk_id) and hit.keyword_rank == krank.get(hit.chunk_id)
    # documents found by both arms rise above those only one arm found
    assert {h.title for h in hybrid[:2]} == {"exact", "semantic"}
    assert all(h.vector_rank and h.keyword_rank for h in hybrid[:2])


def test_adaptive_hybrid_is_the_fusion_of_the_two_arms(indexer, searcher):
    from retrieval.search import fuse

    corpus = {f"doc{i}": f"# doc{i}\n\n" + " ".join(f"w{(i * 7 + j) % 23}" for j in range(12)) for i in range(40)}
    corpus["exact"] = "# exact\n\nThe badge code ZX-4471 opens the loading dock."
    indexer.index_items(items(corpus), "c")
    base = RetrievalParams(k=8, candidates=30)
    assert base.fusion == "adaptive"
    query = "badge ZX-4471 loading dock w3"
    vector = searcher.search(query, dataclasses.replace(base, mode="vector", k=30))
    keyword = searcher.search(query, dataclasses.replace(base, mode="keyword", k=30))
    expected = fuse([(h.chunk_id, h.vector_similarity) for h in vector],
                    [(h.chunk_id, h.keyword_score) for h in keyword], base)[:8]
    hybrid = searcher.search(query, base)
    assert [(h.chunk_id, pytest.approx(h.score)) for h in hybrid] == [(c, pytest.approx(s)) for c, s in expected]
    assert hybrid[0].title == "exact"


def test_collection_filter_is_applied_inside_the_search_and_still_fills_k(indexer, searcher, engine):
    crowd = {f"noise{i}": f"# noise{i}\n\nshared words about the expense policy number {i}" for i in range(300)}
    indexer.index_items(items(crowd), "big")
    few = {f"small{i}": f"# small{i}\n\nan unrelated note {i} on parking" for i in range(15)}
    indexer.index_items(items(few), "small")
    for mode in ("vector", "keyword", "hybrid"):
        params = RetrievalParams(k=10, candidates=10, mode=mode)
        query = "expense policy parking note" if mode != "keyword" else "parking note"
        hits = searcher.search(query, params, collections=["small"])
        assert len(hits) == 10, mode
        assert {h.collection for h in hits} == {"small"}, mode
    assert searcher.search("expense policy", RetrievalParams(k=3), collections=["missing"]) == []
    everywhere = searcher.search("expense policy parking note", RetrievalParams(k=50, candidates=400))
    assert {h.collection for h in everywhere} == {"big", "small"}


def test_vector_arm_uses_the_hnsw_index(indexer, engine, fake_embedder):
    from retrieval.search import build_sql, vector_literal

    indexer.index_items(items({f"d{i}": f"# d{i}\n\nword{i} other{i % 5}" for i in range(200)}), "c")
    sql = build_sql(RetrievalParams(mode="vector"), 384)
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(conn.execute(text("EXPLAIN " + sql), {
            "collections": ["c"], "candidates": 40, "k": 5, "rrf_k": 60.0, "wv": 1.0, "wk": 0.0,
            "qvec": vector_literal(fake_embedder.embed_query("word7")), "model": fake_embedder.name,
            "exclude_flagged": False,
        }).scalars())
    assert "chunks_embedding_384_idx" in plan


KOREAN = {
    "휴가 정책": "# 휴가 정책\n\n## 신청 방법\n\n"
             "휴가를 신청하려면 Northwind People 포털에서 신청서를 제출하세요. 연차는 15일입니다.",
    "출장": "# 출장\n\n출장비는 영수증과 함께 정산합니다. 항공권은 여행사를 통해 예약합니다.",
    "Leave": "# Leave\n\nEmployees request leave in the HR portal.",
}


def test_korean_keyword_search_matches_words_carrying_particles(indexer, searcher, engine):
    indexer.index_items(items(KOREAN), "ko")
    hits = searcher.search("휴가 신청은 어떻게 하나요?", RetrievalParams(mode="keyword", k=3))
    assert hits[0].title == "휴가 정책"
    assert hits[0].keyword_rank == 1 and hits[0].vector_rank is None  # keyword arm alone
    # without the morphological split, PostgreSQL's parser sees 휴가를 and 휴가 as different words
    with engine.connect() as conn:
        raw_match = conn.execute(text(
            "SELECT to_tsvector('kb_text', '휴가를 신청하려면') @@ plainto_tsquery('kb_text', '휴가 신청')")).scalar()
    assert raw_match is False


def test_acronyms_and_ids_are_found_by_keyword(indexer, searcher):
    indexer.index_items(items({
        "Security": "# Security\n\nPolicy SEC-104 requires MFA on every laptop.",
        "VPN": "# VPN\n\nError VPN-ERR-619 means the gateway refused the certificate.",
        "Misc": "# Misc\n\nSecurity is everyone's job; lock your screen.",
    }), "c")
    assert searcher.search("SEC-104", RetrievalParams(mode="keyword"))[0].title == "Security"
    assert searcher.search("what does VPN-ERR-619 mean", RetrievalParams(mode="keyword"))[0].title == "VPN"
    assert searcher.search("MFA", RetrievalParams(mode="keyword"))[0].title == "Security"


def test_concurrent_search_during_reindex_sees_old_or_new_never_neither(tmp_path, engine, indexer, searcher):
    doc = tmp_path / "kb" / "rota.md"
    doc.parent.mkdir()
    versions = [f"# Rota\n\n## Week\n\nThe on-call pelican rota, version {v}. " + ("filler text. " * 80)
                for v in range(2)]
    doc.write_text(versions[0])
    indexer.index_paths([doc.parent], "c")
    stop = threading.Event()
    seen: list[int] = []

    def reader():
        params = RetrievalParams(mode="keyword", k=10)
        while not stop.is_set():
            hits = searcher.search("pelican rota", params)
            seen.append(len({h.document_id for h in hits if "pelican" in h.text}))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 31):
            doc.write_text(versions[i % 2] + f" revision {i}")
            report = indexer.index_paths([doc.parent], "c")
            assert len(report.updated) == 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(seen) > 30
    assert set(seen) == {1}


def test_langchain_retriever_returns_documents_with_citation_metadata(indexer, searcher):
    indexer.index_items(items(KOREAN), "ko")
    retriever = KnowledgeBaseRetriever(searcher=searcher, params=RetrievalParams(k=2), collections=["ko"])
    docs = retriever.invoke("출장비 정산")
    assert len(docs) == 2
    assert docs[0].metadata["title"] == "출장"
    assert {"source", "section", "score", "collection", "chunk_id"} <= set(docs[0].metadata)
    assert "영수증" in docs[0].page_content


def test_keyword_search_reads_full_width_and_invisible_characters_as_plain(indexer, searcher):
    """A Korean input method types ＶＰＮ－ＥＲＲ－６１９; a pasted ID may carry a zero-width space."""
    indexer.index_items(items({"vpn": "VPN-ERR-619 means UDP port 51820 is blocked.",
                               "other": "The cafeteria opens at noon."}), "kb")
    for query in ("ＶＰＮ－ＥＲＲ－６１９", "VPN-ERR-\u200b619"):
        hits = searcher.search(query, RetrievalParams(k=1, mode="keyword"))
        assert hits and hits[0].title == "vpn", query


def test_the_words_of_a_question_no_document_uses_are_known(indexer, searcher):
    """Answerability reads them: "sabbatical" or "WireGuard" in a question no page mentions."""
    indexer.index_items(items({"VPN": "# VPN\n\nConnect to the VPN before opening the admin console."}), "c")
    indexer.index_items(items({"Leave": "# Leave\n\nA sabbatical is four paid weeks."}), "other")
    assert searcher.unused_words("Connect WireGuard to the VPN?", ["c"]) == ["wireguard"]
    assert searcher.unused_words("Is there a sabbatical?", ["c"]) == ["sabbat"]  # as keyword search stems it
    assert searcher.unused_words("Is there a sabbatical?") == []  # every collection
