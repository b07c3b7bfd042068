"""Groundedness: every number, date, code, address, link and name an answer states is in its sources."""

from __future__ import annotations

from datetime import date

import pytest

from answering.grounding import asked_period, check_grounding, dates, numbers, rates

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


DOCS = """[1] Deploying › Database
Install the PostgreSQL chart with `helm install pg bitnami/postgresql --version 1.0.2`. Pass `--atomic` to roll back
a failed upgrade. To see what runs, use `kubectl get pods -n kube-system`. To list releases:
```bash
helm list --all-namespaces
helm status pg
```
[2] 폼 입력 바인딩 › 수식어
`change` 이벤트 후에 동기화하려면 `v-model.lazy` 수식어를 추가할 수 있습니다. Vue 3.4부터 `defineModel()`을 씁니다.
"""

# (question, an answer auto mode must not give, the kind of mistake): wrong answers without a number in them
WRONG = [
    ("Which chart installs the database?", "Install the MySQL chart with helm [1].", "another product"),
    ("Which chart installs the database?", "Install the MariaDB chart with helm [1].", "another product"),
    ("Which chart version do we pin?", "Pin the chart to version 1.0.3 [1].", "another version"),
    ("Which chart version do we pin?", "We pin the chart at 1.0 [1].", "a version cut short"),
    ("How do I roll back a failed upgrade?", "Pass --force to helm upgrade [1].", "another option"),
    ("How do I see what runs?", "Run `kubectl get services -n default` [1].", "another command"),
    ("How do I list releases?", "Run this [1]:\n```bash\nhelm list --all\n```", "a command block changed"),
    ("How do I list releases?", "Run this [1]:\n```bash\nslack.command.run(\"list\")\n```", "an invented block"),
    ("입력이 끝난 뒤에만 동기화하려면?", "`v-model.trim` 수식어를 추가하세요 [2].", "another modifier"),
    ("컴포넌트 v-model은 어떻게 만드나요?", "`useModel()`을 쓰면 됩니다 [2].", "another API"),
    ("컴포넌트 v-model은 어떻게 만드나요?", "useModel이라는 매크로를 씁니다 [2].", "another API, a particle attached"),
]
RIGHT = [
    ("Which chart installs the database?", "Install the PostgreSQL chart with helm [1]."),
    ("Which chart version do we pin?", "Pin the chart to version 1.0.2 [1]."),
    ("How do I roll back a failed upgrade?", "Pass --atomic to helm upgrade [1]."),
    ("How do I see what runs?", "Run `kubectl get pods -n kube-system` [1]."),
    ("How do I list releases?", "Run this [1]:\n```bash\nhelm list   --all-namespaces [1]\nhelm status pg\n```"),
    ("입력이 끝난 뒤에만 동기화하려면?", "`v-model.lazy` 수식어를 추가하세요 [2]."),
    ("컴포넌트 v-model은 어떻게 만드나요?", "Vue 3.4부터는 `defineModel()`을 씁니다 [2]."),
    # a particle is no part of the name
    ("컴포넌트 v-model은 어떻게 만드나요?", "defineModel이라는 매크로를 씁니다 [2]."),
]


@pytest.mark.parametrize("question, answer, mistake", WRONG)
def test_a_wrong_answer_without_numbers_is_unsupported(question, answer, mistake):
    assert not check_grounding(answer, DOCS, question).grounded, mistake


@pytest.mark.parametrize("question, answer", RIGHT)
def test_the_right_answer_in_the_same_words_is_grounded(question, answer):
    assert check_grounding(answer, DOCS, question).grounded


def test_a_code_block_quoted_after_a_list_marker_is_read_as_code():
    sources = "Register it:\n```\n<input v-focus />\n```\n:::tip\nThis directive is more useful than autofocus.\n:::"
    quoted = "The documents say:\n• ```\n<input v-focus />\n``` [2]\nThis directive is more useful than autofocus."
    assert check_grounding(quoted, sources).grounded
    assert not check_grounding(quoted.replace("v-focus", "v-blur"), sources).grounded


@pytest.mark.parametrize("text, expected", [
    ("Interns accrue 1.25 paid vacation days for every full month. A 6-month intern has 7.5 days.", {(1.25, "month")}),
    ("Wellness allowance: €50 (₩70,000) per month", {(50.0, "month"), (70000.0, "month")}),
    ("a $300 USD per night maximum spend limit", {(300.0, "night")}),
    ("Internet/WiFi plan: $50/month", {(50.0, "month")}),
    ("인턴은 매달 1.25일의 유급 휴가가 생깁니다. 6개월 인턴은 7.5일입니다.", {(1.25, "month")}),
    ("팀 행사비는 분기별 70,000원입니다.", {(70000.0, "quarter")}),
    ("Interns get 7.5 days. Per month they get 1.25.", set()),  # a period in another sentence counts nothing
])
def test_a_figure_given_per_a_period_is_read_with_it(text, expected):
    assert rates(text) == expected


def test_the_period_a_question_asks_a_figure_per():
    assert asked_period("How many paid vacation days do interns get per month?") == "month"
    assert asked_period("What's the nightly cap for hotels?") == "night"
    assert asked_period("인턴은 한 달에 유급 휴가를 며칠 받나요?") == "month"
    assert asked_period("How do I request vacation?") is None
