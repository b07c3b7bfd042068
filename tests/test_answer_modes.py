"""ANSWER_MODE on the sample handbook: auto gives the evidence instead of an answer it cannot trust,
generate keeps the model's answer (checked and logged), extractive never calls a model. Real
PostgreSQL and retrieval; a scripted chat model stands in for a model that errs in a given way."""

from __future__ import annotations

import pytest

from answering import prompts
from answering.extractive import LEAD_IN, attach_citations
from answering.pipeline import Pipeline
from answering.types import Question, Route
from bot.settings import Settings
from feedback.log import load
from retrieval.search import Searcher
from tests.fakes import ScriptedChat, ScriptedModels

INTERNS = "How many paid vacation days do interns get per month?"


@pytest.fixture
def build(handbook_db, e5_embedder):
    engine = handbook_db[0]

    def build(*replies: str, **values) -> tuple[Pipeline, ScriptedChat]:
        chat = ScriptedChat(replies=list(replies) or ["unused"])
        s = Settings(_env_file=None, model_policy="local", **values)
        return Pipeline(s.pipeline_config, Searcher(engine, e5_embedder), ScriptedModels(chat), engine), chat

    return build


def row(pipeline: Pipeline, answer) -> dict:
    return load(pipeline.engine, answer.interaction_id)


def test_an_invented_number_is_replaced_by_the_evidence_in_auto_mode(build):
    pipeline, _ = build("Interns get 11.5 paid vacation days per month [1].")
    answer = pipeline.answer(Question(INTERNS))
    assert answer.route == Route.EXTRACTIVE and answer.fallback == "unsupported"
    assert answer.text.startswith(LEAD_IN["en"]) and "1.25" in answer.text and "11.5" not in answer.text
    assert answer.verified and "contractors-and-interns-policy.md" in {s.source.rsplit("/", 1)[-1]
                                                                       for s in answer.sources}
    assert answer.draft.text == "Interns get 11.5 paid vacation days per month [1]." and answer.model_calls == 1
    logged = row(pipeline, answer)
    assert logged["route"] == "extractive" and logged["fallback"] == "unsupported"
    assert logged["grounding"]["unsupported"] == ["11.5"] and logged["grounding"]["draft"] == answer.draft.text
    assert [e["number"] for e in logged["evidence"]] == [p.number for p in answer.evidence]
    assert logged["verified"] is True and logged["answer"] == answer.text


@pytest.mark.parametrize("reply, reason", [
    ("The answer to this question is:", "stub"),
    ("", "stub"),
    ("Please ask your manager about it.", "unsupported"),  # no claim to check, but the sources say nothing like it
    ("Interns get paid vacation days per month [1].", "stub"),  # the question said back
    ("Interns are employed for 3 to 6 months [1].", "off_evidence"),  # true, but not the answer
    ("Interns get paid vacation for every full month of their internship [1].", "no_figure"),  # asked how many
    ("The answer is: 7.5 [1].", "no_figure"),  # a 6-month intern's total, where the question asks per month
])
def test_a_stub_or_uncited_answer_is_replaced_by_the_evidence(build, reply, reason):
    pipeline, _ = build(reply)
    answer = pipeline.answer(Question(INTERNS))
    assert (answer.route, answer.fallback) == (Route.EXTRACTIVE, reason)
    assert "1.25" in answer.text


def test_a_supported_answer_without_citations_gets_them_attached(build):
    pipeline, _ = build("Interns get 1.25 days of paid vacation per month of internship.")
    answer = pipeline.answer(Question(INTERNS))
    assert answer.route == Route.ANSWER and answer.verified and answer.fallback is None
    assert answer.text.endswith("internship [1].") or "internship [" in answer.text
    assert answer.grounding.grounded and answer.evidence
    assert prompts.UNVERIFIED["en"] not in answer.notices
    assert row(pipeline, answer)["grounding"]["grounded"] is True


def test_an_answer_in_the_wrong_language_after_the_retry_is_replaced(build):
    pipeline, chat = build("Interns get 1.25 days per month [1].")
    answer = pipeline.answer(Question("인턴은 한 달에 유급 휴가를 며칠 받나요?"))
    assert answer.route == Route.EXTRACTIVE and answer.fallback == "language" and len(chat.prompts) == 2
    assert answer.text.startswith(LEAD_IN["ko"])


def test_generate_mode_keeps_the_models_answer_and_logs_what_is_unsupported(build):
    pipeline, _ = build("Interns get 11.5 paid vacation days per month [1].", answer_mode="generate")
    answer = pipeline.answer(Question(INTERNS))
    assert answer.route == Route.ANSWER and answer.text == "Interns get 11.5 paid vacation days per month [1]."
    assert answer.grounding.unsupported == ["11.5"] and answer.evidence
    logged = row(pipeline, answer)
    assert logged["route"] == "answer" and logged["fallback"] is None and logged["grounding"]["grounded"] is False


def test_extractive_mode_quotes_the_evidence_without_a_model(build):
    pipeline, chat = build(answer_mode="extractive")
    answer = pipeline.answer(Question(INTERNS))
    assert answer.route == Route.EXTRACTIVE and answer.model_calls == 0 and not chat.prompts
    assert "1.25" in answer.text and answer.fallback is None
    assert all(f"[{p.number}]" in answer.text for p in answer.evidence)
    korean = pipeline.answer(Question("휴가 신청은 어떻게 하나요?"))
    assert korean.route == Route.EXTRACTIVE and korean.text.startswith(LEAD_IN["ko"])
    assert "vacation-policy-ko.md" in {s.source.rsplit("/", 1)[-1] for s in korean.sources}


@pytest.mark.parametrize("question, source, fact", [
    # the English page shares one name with the question; a Korean page shares more words and answers nothing
    ("Kestrel 프로젝트는 한국 리전에 언제 정식 출시될 예정인가요?", "engineering-glossary.md",
     "Q4 2026 in the Korea region"),
    ("SEV1 장애가 해결되고 나면 포스트모템은 언제까지 작성해야 하나요?", "on-call-and-incident-response.md",
     "due within 5 business days"),
])
def test_a_question_only_another_languages_page_answers_gets_that_pages_passage(build, question, source, fact):
    from answering.answerable import Grader

    pipeline, chat = build(answer_mode="extractive")
    # whether to answer at all is the grader's (tests/test_answerable.py); here it is unsure, and the question
    # is which passage is quoted
    pipeline.grader = Grader([0.0] * 5, [1.0] * 5, [0.0] * 5, 0.0, confident=0.9, uncertain=0.1)
    answer = pipeline.answer(Question(question))
    assert answer.route == Route.EXTRACTIVE and not chat.prompts
    assert [s.source.rsplit("/", 1)[-1] for s in answer.sources] == [source]
    lead_in = answer.text.splitlines()[0]  # quoted as written, and said so (sure of it or not)
    assert fact in answer.text and lead_in.endswith("(영어 원문 그대로 인용):")
    assert row(pipeline, answer)["answerability"]["across_languages"] is True


def test_a_question_can_ask_for_its_own_mode(build):
    pipeline, chat = build("Interns get 3 days [1].", answer_mode="generate")
    answer = pipeline.answer(Question(INTERNS, mode="extractive"))
    assert answer.route == Route.EXTRACTIVE and not chat.prompts
    with pytest.raises(ValueError, match="auto, generate, extractive"):
        Question(INTERNS, mode="creative")


def test_out_of_scope_questions_still_get_i_dont_know_without_a_model_in_every_mode(build):
    for mode in ("auto", "generate", "extractive"):
        pipeline, chat = build(answer_mode=mode)
        answer = pipeline.answer(Question("Who won the 2018 FIFA World Cup final?"))
        assert answer.route == Route.DONT_KNOW and answer.model_calls == 0 and not chat.prompts


def test_attached_citations_name_the_source_holding_the_sentence():
    from answering.context import Source

    sources = [Source(1, "Travel", "", "Trains are booked by the travel desk.", "t.md", None, "h", 1, (1,), 1.0),
               Source(2, "Leave", "", "Interns get 1.25 vacation days per month.", "l.md", None, "h", 2, (2,), 1.0)]
    text = attach_citations("Interns get 1.25 vacation days per month. Ask your manager about it.", sources)
    assert text == "Interns get 1.25 vacation days per month [2]. Ask your manager about it."
    assert attach_citations("Already cited [1].", sources) == "Already cited [1]."


def test_auto_mode_quotes_the_evidence_at_once_for_a_model_whose_drafts_the_checks_reject(build):
    """No waiting for a draft that will be thrown away: the record is the checks' verdicts on the model's last
    drafts for the same collections; one question in ten still gets a draft, to keep the record current."""
    from answering.drafts import DRAFTS_MEASURED

    wrong = "Interns get 11.5 paid vacation days per month [1]."
    pipeline, chat = build(*[wrong] * (DRAFTS_MEASURED + 2), skip_drafts_rejected=0.8)
    pipeline.explore = lambda: False
    scope = ("handbook", "test-drafts-record")  # a record of its own: other tests' drafts are not in it

    def ask(**values):
        return pipeline.answer(Question(INTERNS, collections=scope, **values))

    for _ in range(DRAFTS_MEASURED):  # measuring: each draft is asked for and rejected
        answer = ask()
        assert answer.model_calls == 1 and answer.fallback == "unsupported"
    assert row(pipeline, answer)["grounding"]["review"] == "unsupported"
    answer = ask()
    assert answer.model_calls == 0 and answer.route == Route.EXTRACTIVE and answer.fallback == "drafts_rejected"
    assert "1.25" in answer.text and row(pipeline, answer)["fallback"] == "drafts_rejected"
    assert ask(origin="eval").model_calls == 1  # an evaluation measures the model itself
    assert ask(mode="generate").model_calls == 1  # asked for the model's answer: given
    pipeline.explore = lambda: True
    assert ask().model_calls == 1  # now and then a draft all the same
    pipeline.explore = lambda: False
    other = pipeline.answer(Question(INTERNS, collections=("handbook", "test-drafts-other")))
    assert other.fallback != "drafts_rejected"  # another scope has its own record


def test_a_draft_thrown_away_is_replaced_by_evidence_from_every_source_not_only_those_the_model_read(
        handbook_db, e5_embedder):
    """A small model's window holds a source or two; the evidence given instead of its draft is chosen from all
    the sources the question retrieved, as in extractive mode."""
    engine = handbook_db[0]
    chat = ScriptedChat(replies=["Please ask your manager about it."])
    s = Settings(_env_file=None, model_policy="local", max_tokens=200)
    small = Pipeline(s.pipeline_config, Searcher(engine, e5_embedder), ScriptedModels(chat, context_tokens=900),
                     engine)
    extractive = Pipeline(Settings(_env_file=None, answer_mode="extractive").pipeline_config,
                          Searcher(engine, e5_embedder), ScriptedModels(chat), engine)
    question = "Do contractors and interns get paid vacation, and how much?"
    answer = small.answer(Question(question))
    read = chat.prompts[-1][-1].content.count("\n[")  # the sources the model was given
    assert answer.route == Route.EXTRACTIVE and answer.fallback == "unsupported"
    assert max(src.number for src in answer.sources + answer.uncited) > read
    assert answer.text == extractive.answer(Question(question)).text
