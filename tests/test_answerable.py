"""Answerability: "I don't know" from the collection's own calibration and the question's key terms,
not from one similarity threshold tuned on one corpus. Real PostgreSQL, the real default embedder, the
sample handbook; a scripted chat model shows whether the pipeline would have asked a model."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from answering.answerable import key_terms
from answering.language import detect_language
from answering.pipeline import Pipeline
from answering.types import Question, Route
from bot.settings import Settings
from feedback.log import load
from retrieval.calibration import load_calibrations, probes
from retrieval.ingest import Indexer
from retrieval.search import Searcher
from tests.fakes import ScriptedChat, ScriptedModels


@pytest.mark.parametrize("question, expected", [
    ("How much is the home office stipend?", {"home", "offic", "stipend"}),  # "how much" is no topic
    ("What does VPN-ERR-619 mean?", {"vpn-err-619"}),  # an ID whole, not VPN and 619
    ("Who has to approve an expense claim of €7,000?", {"approv", "expens", "claim"}),  # no bare numbers
    ("What's the longest we can keep a contractor?", {"longest", "contractor"}),
    ("휴가 신청은 어떻게 하나요?", {"휴가", "신청"}),  # not 어떻게, 하나요
    ("Kestrel 프로젝트는 언제 출시되나요?", {"kestrel", "프로젝트", "출시"}),  # Latin names kept
    ("2026년 추석 연휴는 언제인가요?", {"추석", "연휴"}),
])
def test_key_terms_are_what_the_question_is_about(question, expected):
    assert key_terms(question) == expected


def test_indexing_calibrates_the_collection_once_per_change(handbook_db, e5_embedder):
    engine, first, second = handbook_db
    assert first.calibrated and not second.calibrated  # unchanged files: the floor stands
    assert set(first.floors) == {"en", "ko"} and not second.floors
    with engine.connect() as conn:
        calibration = load_calibrations(conn, e5_embedder.name)["handbook"]
    assert set(calibration.languages) == set(probes()) == {"en", "ko"}
    for spread in calibration.languages.values():
        assert spread.n == 24 and 0.5 < spread.mean < spread.floor < 0.95
    with engine.connect() as conn:  # another embedding model's calibration does not count
        assert load_calibrations(conn, "some-other-model") == {}


@pytest.fixture
def build(handbook_db, e5_embedder):
    engine = handbook_db[0]

    def build(reply: str = "unused", **values) -> tuple[Pipeline, ScriptedChat]:
        chat = ScriptedChat(replies=[reply])
        s = Settings(_env_file=None, model_policy="local", answer_mode="generate", **values)
        return Pipeline(s.pipeline_config, Searcher(engine, e5_embedder), ScriptedModels(chat), engine), chat

    return build


@pytest.mark.parametrize("question, missing, near", [
    # close, but off the page ("stock" is in "stock options": missing only when that chunk is not retrieved):
    # not sure enough to refuse, so the closest passage, said to be only that; never a model's answer
    ("What is the stock ticker of Northwind Labs?", {"ticker"}, True),
    ("회사에 복장 규정이 있나요?", {"복장"}, True),
    ("Who wrote Pride and Prejudice?", set(), False),
    ("세계에서 가장 긴 강은 어디인가요?", set(), False),
])
def test_a_question_the_sources_do_not_cover_gets_i_dont_know_without_a_model(build, question, missing, near):
    from answering.extractive import UNSURE_LEAD_IN

    pipeline, chat = build(relevance_threshold=0.0)  # the fixed threshold no longer decides for a calibrated collection
    answer = pipeline.answer(Question(question))
    assert answer.model_calls == 0 and not chat.prompts
    logged = load(pipeline.engine, answer.interaction_id)["answerability"]
    if near and answer.route == Route.EXTRACTIVE:
        assert logged["grade"] == "uncertain"
        assert answer.text.startswith(UNSURE_LEAD_IN[answer.language].format(quoted=""))
    else:
        assert answer.route == Route.DONT_KNOW
        assert logged["answerable"] is False and logged["grade"] == "out_of_scope"
    assert missing <= set(logged["missing"])


@pytest.mark.parametrize("question", [
    "How many desks are there in the Berlin office?",
    "What is the address of the Berlin office?",  # "address" is a heading of a merged chunk, not its text
    "인턴은 한 달에 휴가가 며칠인가요?",
])
def test_a_covered_question_reaches_the_model(build, question):
    reply = "출처에 나와 있습니다 [1]." if detect_language(question) == "ko" else "From the sources [1]."
    pipeline, chat = build(reply, relevance_threshold=0.99)  # ignored: the collection is calibrated
    answer = pipeline.answer(Question(question))
    assert answer.route == Route.ANSWER and len(chat.prompts) == 1
    logged = load(pipeline.engine, answer.interaction_id)["answerability"]
    assert logged["answerable"] is True and logged["z"] >= 1


def test_an_uncalibrated_collection_falls_back_to_the_fixed_threshold(engine, e5_embedder, tmp_path):
    (tmp_path / "doc.md").write_text("# Parking\n\nThe garage has 40 spaces for bicycles.\n", encoding="utf-8")
    Indexer(engine, e5_embedder).index_paths([tmp_path], "old")
    with engine.begin() as conn:  # as a collection indexed before calibration existed
        conn.execute(text("UPDATE collections SET calibration = NULL"))
    chat = ScriptedChat(replies=["The garage has 40 spaces [1]."])
    for threshold, route in ((0.0, Route.ANSWER), (0.99, Route.DONT_KNOW)):
        s = Settings(_env_file=None, model_policy="local", answer_mode="generate", relevance_threshold=threshold)
        pipeline = Pipeline(s.pipeline_config, Searcher(engine, e5_embedder), ScriptedModels(chat), engine)
        answer = pipeline.answer(Question("How many bicycle spaces does the garage have?"))
        assert answer.route == route
        assert load(engine, answer.interaction_id)["answerability"]["reason"] in ("threshold", "below_floor")
    # indexing again measures it, though no file changed
    report = Indexer(engine, e5_embedder).index_paths([tmp_path], "old")
    assert report.calibrated and not report.added and not report.updated


def test_a_follow_up_keeps_its_threads_topic_when_the_rewrite_loses_it(handbook_db, e5_embedder):
    engine = handbook_db[0]
    chat = ScriptedChat(replies=["Who is the leader?", "Kestrel is led by the platform team [1]."])  # a poor rewrite
    s = Settings(_env_file=None, model_policy="local", answer_mode="generate")
    pipeline = Pipeline(s.pipeline_config, Searcher(engine, e5_embedder), ScriptedModels(chat), engine)
    answer = pipeline.answer(Question("Who leads it?", history=(("user", "What is Project Kestrel?"),
                                                                ("assistant", "A workflow engine [1]."))))
    assert answer.route == Route.ANSWER and len(chat.prompts) == 2
    assert load(engine, answer.interaction_id)["answerability"]["answerable"] is True


@pytest.mark.parametrize("question, expected", [
    ("How many weeks of parental leave does GitLab give?", ["gitlab"]),  # a product or company name
    ("What's the current 409A valuation?", ["409a"]),  # letters with digits
    ("Nuxt 3에서 useFetch는 언제 써요?", ["nuxt", "usefetch"]),  # Latin words in a Korean question
    ("Is there a dress code when we visit customers?", []),  # a capital that only starts the sentence
    ("My MacBook is slow. Can I get a new one?", ["macbook"]),
])
def test_names_are_the_words_a_source_about_the_question_would_use(question, expected):
    from answering.answerable import names

    assert names(question) == expected


def test_a_word_the_question_rests_on_weighs_more_than_one_said_in_passing(e5_embedder):
    """"sabbatical" is what "Do we have a sabbatical program?" asks about; "Lisbon" is only where the asker's
    offsite is: leaving each out moves the question that much."""
    from answering.answerable import resting_on
    from answering.similarity import PassageSimilarity

    similarity = PassageSimilarity(e5_embedder)
    topic = resting_on("Do we have a sabbatical program?", ["sabbat"], similarity)
    passing = resting_on("Booking hotels for our team offsite in Lisbon: what's the nightly cap?", ["lisbon"],
                         similarity)
    assert topic > passing > 0
    assert resting_on("Do we have a sabbatical program?", [], similarity) == 0.0


def test_the_grader_grades_by_its_two_probabilities():
    from answering.answerable import CONFIDENT, OUT_OF_SCOPE, UNCERTAIN, Grader, Signals

    grader = Grader([0.0] * 5, [1.0] * 5, [1.0, 0.0, -1.0, 0.0, 0.0], 0.0, confident=0.8, uncertain=0.3)
    close, far = Signals(3.0, True, 0, 0.05, 0), Signals(-2.0, False, 2, -0.02, 2)
    assert grader.probability(close) > 0.9 > 0.1 > grader.probability(far)
    assert [grader.grade(p) for p in (0.95, 0.5, 0.1)] == [CONFIDENT, UNCERTAIN, OUT_OF_SCOPE]


def test_an_uncertain_question_gets_the_closest_passage_under_an_honest_lead_in_and_no_model(build):
    """Never a bare "I couldn't find this" while a close passage exists: between confident and out of scope,
    the closest passage is quoted and said to be only that."""
    from answering.answerable import Grader
    from answering.extractive import UNSURE_LEAD_IN

    pipeline, chat = build()
    pipeline.grader = Grader([0.0] * 5, [1.0] * 5, [0.0] * 5, 0.0, confident=0.9, uncertain=0.1)  # always 0.5
    for question, language in (("How many desks are there in the Berlin office?", "en"),
                               ("인턴은 한 달에 휴가가 며칠인가요?", "ko")):
        answer = pipeline.answer(Question(question))
        assert answer.route == Route.EXTRACTIVE and answer.model_calls == 0 and not chat.prompts
        assert answer.text.startswith(UNSURE_LEAD_IN[language].format(quoted="")) and len(answer.evidence) == 1
        assert answer.fallback == "uncertain"
        assert load(pipeline.engine, answer.interaction_id)["answerability"]["grade"] == "uncertain"
