"""The answer assertion suite itself: its cases are well-formed and its checks can fail."""

from __future__ import annotations

from answering.context import Source
from answering.evidence import Passage
from answering.extractive import QUOTED_LEAD_IN, extractive_text
from answering.types import Answer, Route
from evals.answers import check, load_cases, summarise, variants

INTERNS = "Interns get 1.25 paid vacation days per month."


def source(name: str, number: int = 1, text: str = INTERNS) -> Source:
    return Source(number, "T", "S", text, f"/kb/{name}", None, "handbook", 1, (1,), 0.1)


CASE = {"id": "interns", "question": "How many vacation days do interns get?", "language": "en", "route": "answer",
        "expect_sources": ["contractors-and-interns-policy.md"], "must_contain": [["1.25", "1,25"]],
        "must_not_contain": ["20 days"], "max_chars": 200}


def test_the_handbook_cases_cover_both_languages_and_out_of_scope_questions():
    cases = load_cases()
    answers = [c for c in cases if c["route"] == "answer"]
    out = [c for c in cases if c["route"] == "dont_know"]
    assert len(answers) >= 30 and len(out) >= 5
    assert {c["language"] for c in answers} == {c["language"] for c in out} == {"en", "ko"}
    assert sum(bool(c.get("history")) for c in answers) >= 3


def test_a_correct_cited_answer_passes_every_assertion():
    answer = Answer("Interns get 1.25 days per month [1].", "answer", "en",
                    sources=[source("contractors-and-interns-policy.md")], evidence=[Passage(1, INTERNS, 1.0)])
    assert check(CASE, answer) == {"route": True, "cited_source": True, "must_contain": True,
                                   "must_not_contain": True, "grounded": True, "evidence": True, "language": True,
                                   "length": True, "language_first_try": True}


def test_each_assertion_can_fail():
    wrong = Answer("인턴은 20 days 받습니다. " * 20, "answer", "en", sources=[source("vacation-policy.md")],
                   language_retried=True, evidence=[Passage(1, "Employees get 20 days.", 0.5)])
    results = check(CASE, wrong)
    assert results.pop("route") is True and not any(results.values())
    refused = check(CASE, Answer("I couldn't find this.", "dont_know", "en"))
    assert refused["route"] is False and "language_first_try" not in refused


def test_an_untranslated_english_lead_in_fails_the_korean_language_check():
    case = {**CASE, "language": "ko", "must_contain": ["1.25"]}
    lead_in = Answer("The answer is:\n인턴은 한 달에 1.25일의 유급 휴가를 받습니다 [1].", "answer", "ko",
                     sources=[source("contractors-and-interns-policy.md")])
    assert check(case, lead_in)["language"] is False
    korean = Answer("인턴은 매달 1.25일의 유급 휴가를 받습니다 [1].", "answer", "ko",
                    sources=[source("contractors-and-interns-policy.md")])
    assert check(case, korean)["language"] is True


def test_one_auto_answer_gives_every_mode():
    src = source("contractors-and-interns-policy.md")
    draft = Answer("Interns get 3 days [1].", "answer", "en", sources=[src], evidence=[Passage(1, INTERNS, 1.0)])
    auto = Answer(f"Here is what the documents say:\n• {INTERNS} [1]", Route.EXTRACTIVE, "en", sources=[src],
                  evidence=[Passage(1, INTERNS, 1.0)], draft=draft, fallback="unsupported")
    modes = variants(auto)
    assert modes["generate"] is draft and modes["extractive"] is auto
    assert check(CASE, modes["generate"])["grounded"] is False and check(CASE, auto)["grounded"] is True
    kept = variants(draft)
    assert kept["auto"] is draft and kept["extractive"].route == Route.EXTRACTIVE
    assert INTERNS in kept["extractive"].text


def test_out_of_scope_gate_fails_when_a_model_was_called():
    case = {"id": "oos", "question": "Who won?", "language": "en", "route": "dont_know"}
    called = Answer("No idea.", "answer", "en", model_calls=1)
    row = {"id": "oos", "language": "en", "expected_route": "dont_know", "route": "answer",
           "checks": check(case, called), "model_calls": 1, "latency_ms": {}}
    result = summarise([row], "m", 1.0)
    assert result["gates_passed"] is False and result["gates"]["out_of_scope_zero_model_calls"] is False


def test_an_english_passage_quoted_for_a_korean_question_is_the_documents_words_not_the_answers():
    case = {**CASE, "language": "ko", "must_contain": ["1.25"]}
    src = source("contractors-and-interns-policy.md")
    quoted = Answer(extractive_text([Passage(1, INTERNS, 0.9)], "ko"), Route.EXTRACTIVE, "ko", sources=[src],
                    evidence=[Passage(1, INTERNS, 0.9)])
    assert quoted.text.startswith(QUOTED_LEAD_IN["ko"]) and check(case, quoted)["language"] is True
    english_lead_in = Answer(extractive_text([Passage(1, INTERNS, 0.9)], "en"), Route.EXTRACTIVE, "ko",
                             sources=[src], evidence=[Passage(1, INTERNS, 0.9)])
    assert check(case, english_lead_in)["language"] is False  # the bot's own words must still be Korean


def test_the_loss_counts_facts_retrieval_found_and_the_answer_kept():
    """"The answer kept N of the M facts retrieval found", per language and for cross-language questions."""
    from evals.answers import loss

    def row(language, source_language, top1, top3, kept, answered=True):
        return {"language": language, "source_language": source_language, "expected_route": "answer",
                "retrieved": {"top1": top1, "top3": top3},
                "checks": {"must_contain": kept, "route": answered, "cited_source": kept}}

    rows = [row("en", "en", True, True, True), row("en", "en", False, True, False, answered=False),
            row("ko", "en", False, False, False), row("ko", "ko", True, True, True),
            {"language": "en", "expected_route": "dont_know", "retrieved": None, "checks": {"route": True}}]
    found = loss(rows)
    assert found["all"] == {"cases": 4, "top1": 2, "top3": 3, "kept": 2, "contains": 2, "answered": 3, "cited": 2}
    assert found["cross-language"]["cases"] == 1 and found["en"]["kept"] == 1 and found["ko"]["top3"] == 1


def test_suites_name_their_cases_documents_and_mode():
    import pytest

    from core.errors import InvalidInput
    from evals.answers import CASES, suite

    assert suite("sample").cases == CASES and suite("sample").mode == "auto" and suite("sample").strict
    dev = suite("dev:extractive")
    assert dev.mode == "extractive" and dev.collection == "devset" and not dev.strict
    for bad in ("nope", "dev:fast"):
        with pytest.raises(InvalidInput):
            suite(bad)


def test_a_suite_that_is_not_strict_is_gated_only_on_errors():
    case = {"id": "oos", "question": "Who won?", "language": "en", "route": "dont_know"}
    called = Answer("No idea.", "answer", "en", model_calls=1)
    row = {"id": "oos", "language": "en", "expected_route": "dont_know", "route": "answer",
           "checks": check(case, called), "model_calls": 1, "latency_ms": {}}
    assert summarise([row], "m", 1.0, strict=False)["gates"] == {"no_errors": True}


def test_the_grader_is_fitted_and_its_thresholds_chosen_on_corpora_it_was_not_fitted_on():
    """Each corpus is predicted by a model fitted without it; "I don't know" below the threshold with the best
    balanced accuracy, "confident" where few out-of-scope questions remain."""
    import random

    from evals.answerability import fit, held_out_predictions, measure, thresholds

    rng = random.Random(3)

    def row(corpus, answerable):
        z = rng.gauss(4.0 if answerable else 1.5, 1.0)
        return {"corpus": corpus, "answerable": answerable,
                "signals": [z, rng.random(), float(answerable and rng.random() < 0.8), rng.random(), 0.0, 0.0]}

    rows = [row(c, a) for c in ("one", "two") for a in [True] * 40 + [False] * 20]
    predicted = held_out_predictions(rows)
    uncertain, confident = thresholds(rows, predicted)
    assert 0.05 <= uncertain <= confident <= 0.95
    grader = fit(rows)
    grader = type(grader)(grader.mean, grader.scale, grader.weights, grader.bias, confident, uncertain)
    assert grader.weights[0] > 0  # closer means more likely answerable
    for corpus in measure(rows, predicted, grader).values():
        assert corpus["answered"] >= 0.8 * corpus["answerable"] and corpus["refused"] >= 0.8 * corpus["out_of_scope"]
