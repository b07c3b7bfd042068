"""Groundedness: every number, date, code, address, link and name an answer states is in its sources."""

from __future__ import annotations

from datetime import date

from answering.grounding import check_grounding, dates, numbers

SOURCES = """[1] Contractors and Interns Policy › Vacation
Interns accrue 1.25 paid vacation days for every full month. The learning allowance is €300 (₩1,700,000 a
year for employees). Questions go to people@northwind.example or https://people.northwind.example/time-off.
Owner: Mirae Jung. Interns receive an NWL-ID such as NWL-I0112. The policy applies from 2026-03-01.
[2] 점심 식대
점심 식대는 매달 20만 원입니다. 신청은 3월 15일까지 합니다.
"""


def test_numbers_are_compared_as_values_whatever_their_notation():
    assert numbers("₩1,700,000 · 20만 원 · 3천 · 1.25") == {1_700_000, 200_000, 3_000, 1.25}
    assert dates("2026-03-01, 3월 15일, March 1st, 2026") == {date(2026, 3, 1), date(1, 3, 15)}


def test_a_faithful_answer_is_grounded_whatever_the_notation():
    answer = ("Interns get 1.25 paid vacation days per month [1]. Employees get a learning allowance of 1700000 "
              "a year. 점심 식대는 매달 ₩200,000입니다 [2]. Ask Mirae Jung at people@northwind.example or "
              "https://people.northwind.example/time-off/. It applies from March 1, 2026 (ID NWL-I0112).")
    result = check_grounding(answer, SOURCES, "How many vacation days do interns get?")
    assert result.grounded, result.unsupported
    assert {"1.25", "Mirae Jung", "people@northwind.example", "NWL-I0112", "March 1, 2026"} <= set(result.supported)
    assert result.unsupported_sentences == []


def test_an_amount_set_in_bold_keeps_its_currency():
    source = "Northwind provides an annual health budget of **€600** for dental treatment."
    assert check_grounding("The health budget is €600 a year [1].", source, "").grounded
    assert not check_grounding("The health budget is $600 a year [1].", source, "").grounded


def test_invented_numbers_codes_addresses_links_dates_and_names_are_unsupported():
    answer = ("Interns get 2.5 days per month [1]. Use code NWL-X9999, write to hr@evil.example, log in at "
              "https://evil.example/login and ask Jonas Becker before 2026-04-01. 점심 식대는 30만 원입니다.")
    result = check_grounding(answer, SOURCES, "How many vacation days do interns get?")
    assert not result.grounded
    assert set(result.unsupported) == {"2.5", "NWL-X9999", "hr@evil.example", "https://evil.example/login",
                                       "Jonas Becker", "2026-04-01", "30만"}


def test_citations_list_numbers_and_the_question_s_own_facts_are_not_invented_claims():
    answer = "1. Interns get the days in [1, 2].\n2. Check ticket SEC-104 as you asked."
    assert check_grounding(answer, SOURCES, "What about ticket SEC-104?").grounded


def test_a_sentence_made_of_words_the_sources_do_not_have_is_flagged():
    answer = "Interns accrue paid vacation days [1]. Quantum blockchain synergies revolutionise payroll forever."
    result = check_grounding(answer, SOURCES)
    assert result.unsupported_sentences == ["Quantum blockchain synergies revolutionise payroll forever."]


def test_a_number_must_count_the_same_thing_as_in_the_sources():
    sources = "Interns are employed for 3 to 6 months. | Paid vacation | 1.25 days per month |. 5 business days."
    assert check_grounding("Interns get 3 paid vacation days a month.", sources).unsupported == ["3"]
    assert check_grounding("Interns get 1.25 days a month and stay 3 to 6 months.", sources).grounded
    assert check_grounding("인턴은 매달 1.25일을 받고, 보고서는 5영업일 안에 냅니다.", sources).grounded
    assert check_grounding("It takes 6 weeks.", sources).unsupported == ["6"]
    assert check_grounding("The answer is 1.25.", sources).grounded  # no unit: the value is enough
    assert check_grounding("Coverage must be 5%.", sources).unsupported == ["5"]  # 5 days is not 5%
    assert check_grounding("Date: Dec 31; Day: Thu", "| Dec 31 | Thu |").grounded  # "Day" is the next column
