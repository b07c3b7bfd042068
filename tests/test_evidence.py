"""Evidence selection: the passages of the given sources that best answer a question (no model)."""

from __future__ import annotations

from answering.context import Source
from answering.evidence import TextTerms, clear_cache, passages, select_evidence, terms

POLICY = """# Contractors and Interns Policy

Interns are students on a fixed-term contract of **3 to 6 months**. They receive an NWL-ID, e.g. `NWL-I0112`.

| Benefit | Interns | Contractors |
|---|---|---|
| Paid vacation | **Yes: 1.25 days per month** | **No paid vacation** |
| Company laptop | Yes | Only if the work requires it |

## Vacation

Interns accrue 1.25 paid vacation days for every full month. Unused days are paid out at the end.
"""
VPN = """## VPN error codes

- VPN-ERR-619: the tunnel could not be established; UDP port 51820 is blocked.
- VPN-ERR-401: your certificate expired.
"""
KOREAN = """## 휴가 신청 방법

휴가를 신청하려면 HR 포털인 Northwind People에 로그인한 뒤 신청서를 작성하면 됩니다. 매니저는 3영업일 이내에 승인합니다.

점심 식대는 매달 20만 원입니다.
"""


def source(number: int, text: str) -> Source:
    return Source(number, f"doc{number}", "", text, f"doc{number}.md", None, "c", number, (number,), 1.0 / number)


def test_passages_are_sentences_list_items_and_table_rows_with_their_column_names():
    cut = passages(POLICY)
    assert "Interns are students on a fixed-term contract of 3 to 6 months." in cut
    assert "They receive an NWL-ID, e.g. NWL-I0112." in cut  # "e.g." does not end a sentence
    assert "Benefit: Paid vacation; Interns: Yes: 1.25 days per month; Contractors: No paid vacation" in cut
    assert "Interns accrue 1.25 paid vacation days for every full month." in cut  # "1.25" stays whole
    assert not any(p.startswith(("#", "|")) or "---" in p for p in cut)
    assert passages(VPN)[0] == "VPN-ERR-619: the tunnel could not be established; UDP port 51820 is blocked."


def test_a_table_row_without_its_header_in_the_chunk_keeps_its_cells():
    assert passages("| Paid vacation | Yes: 1.25 days | No |") == ["Paid vacation · Yes: 1.25 days · No"]


def test_terms_fold_plurals_drop_question_words_and_split_ids_and_korean():
    assert terms("How many paid vacation days do interns get?") == {"many", "paid", "vacation", "day", "intern"}
    assert {"vpn-err-619", "vpn", "err", "619"} <= terms("What does VPN-ERR-619 mean?")
    assert {"휴가", "신청"} <= terms("휴가를 신청하려면 어떻게 하나요?")
    assert not {"어떻게", "하"} & terms("휴가를 신청하려면 어떻게 하나요?")


def test_the_best_passages_answer_the_question_in_english_and_korean():
    sources = [source(1, POLICY), source(2, VPN), source(3, KOREAN)]
    interns = select_evidence("How many paid vacation days do interns get per month?", sources)
    assert "1.25" in interns.passages[0].text and interns.passages[0].number == 1
    assert interns.support > 0.5
    vpn = select_evidence("What does VPN-ERR-619 mean?", sources)
    assert vpn.passages[0].text.startswith("VPN-ERR-619") and vpn.numbers()[0] == 2
    korean = select_evidence("휴가 신청은 어떻게 하나요?", sources)
    assert "Northwind People" in korean.passages[0].text and korean.passages[0].number == 3


def test_at_most_two_passages_from_one_source_and_none_without_a_shared_word():
    sources = [source(1, POLICY), source(2, VPN)]
    evidence = select_evidence("paid vacation interns contractors laptop", sources, k=3)
    assert len(evidence.passages) == 2 and evidence.numbers() == [1]
    nothing = select_evidence("Who won the 2018 FIFA World Cup?", sources)
    assert nothing.passages == () and nothing.support == 0.0
    assert select_evidence("", sources).passages == () and select_evidence("vacation", []).passages == ()


def test_text_terms_finds_exactly_the_missing_words_with_or_without_asking_kiwi():
    mixed = "VPN-ERR-619가 나면 HR포털에서 3영업일 안에 20만 원까지 policies를 신청합니다. Café를 씁니다 (SEC-104)."
    words = {"vpn", "err", "619", "20", "policy", "hr", "caf", "intern", "vacation", "휴가", "신청", "포털", "없는말"}
    for text in (POLICY, VPN, KOREAN, mixed, POLICY + KOREAN):
        found = terms(text)
        assert TextTerms(text).missing(words) == words - found, text
    assert TextTerms(mixed).plain == {"sec-104", "sec", "104"}  # the one word without Hangul


def test_remembered_terms_are_copies_and_give_the_same_evidence_as_fresh_ones():
    first = terms(KOREAN)
    first.add("changed")
    assert "changed" not in terms(KOREAN)
    sources = [source(1, POLICY), source(2, VPN), source(3, KOREAN)]
    warm = select_evidence("휴가 신청은 어떻게 하나요?", sources)
    clear_cache()
    assert select_evidence("휴가 신청은 어떻게 하나요?", sources) == warm
