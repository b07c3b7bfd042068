from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from feedback.log import Interaction, load, record
from retrieval.db import current_revision, downgrade, make_engine, upgrade


def test_an_interaction_round_trips_with_its_details(engine):
    sent = Interaction(
        question="휴가 신청은?", origin="slack", route="generated", asker="U1", channel="C1", thread_ts="1.2",
        language="ko", collections=["handbook"], prompt_version="answer-v1", model_name="llamacpp/x.gguf",
        retrieved=[{"chunk_id": 7, "score": 0.03}], answer="포털에서 신청하세요 [1].",
        citations=[{"number": 1, "chunk_ids": [7]}], verified=True, input_tokens=300, output_tokens=20,
        latency_ms={"rewrite": 0.0, "retrieve": 31.5, "generate": 812.0},
    )
    got = load(engine, record(engine, sent))
    assert got["question"] == "휴가 신청은?" and got["collections"] == ["handbook"]
    assert got["retrieved"] == [{"chunk_id": 7, "score": 0.03}] and got["latency_ms"]["generate"] == 812.0
    assert got["verified"] is True and got["error"] is None and got["created_at"] is not None


def test_a_failed_question_is_logged_with_its_error(engine):
    got = load(engine, record(engine, Interaction(question="q", route="error", error="ModelUnavailable: down")))
    assert (got["route"], got["error"], got["answer"]) == ("error", "ModelUnavailable: down", None)


def test_migrations_go_down_and_up_again(server_url):
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "kb_migrations_test" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "kb_migrations_test"'))
    engine = make_engine(server_url.set(database="kb_migrations_test"))
    try:
        upgrade(engine)
        downgrade(engine, "base")
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == "0010"
        downgrade(engine, "0003")
        assert current_revision(engine) == "0003"
        upgrade(engine)
        assert current_revision(engine) == "0010"
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "kb_migrations_test" WITH (FORCE)'))
        admin.dispose()
