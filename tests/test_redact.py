"""Personal data is found in English and Korean formats, and nothing else is (core.redact)."""

from __future__ import annotations

from collections import Counter

import pytest

from core.redact import Pseudonyms, find, keys, redact, strip

PERSONAL = [
    ("Write to jane.doe@northwind.example today", "email", "jane.doe@northwind.example"),
    ("mailto:HR@Example.co.kr", "email", "mailto:HR@Example.co.kr"),
    ("call 010-1234-5678 after lunch", "phone", "010-1234-5678"),
    ("제 번호는 01012345678 입니다", "phone", "01012345678"),
    ("010 1234 5678로 연락 주세요", "phone", "010 1234 5678"),
    ("서울 사무실 +82 2 3456 7890", "phone", "+82 2 3456 7890"),
    ("mobile +82-10-1234-5678.", "phone", "+82-10-1234-5678"),
    ("대표번호 02-345-6789", "phone", "02-345-6789"),
    ("번호는010-1234-5678입니다", "phone", "010-1234-5678"),
    ("경기 031-123-4567", "phone", "031-123-4567"),
    ("Berlin office +49 30 1234567", "phone", "+49 30 1234567"),
    ("US desk (555) 123-4567", "phone", "(555) 123-4567"),
    ("or 555-123-4567", "phone", "555-123-4567"),
    ("서울 02)345-6789", "phone", "02)345-6789"),
    ("Seoul (02) 345-6789", "phone", "(02) 345-6789"),
    ("Jane (010-1234-5678, after six)", "phone", "010-1234-5678"),
    ("US desk (555-123-4567)", "phone", "555-123-4567"),
    ("010.1234.5678으로", "phone", "010.1234.5678"),
    ("IP phone 0505-123-4567", "phone", "0505-123-4567"),
    ("주민등록번호 900101-1234567 입니다", "rrn", "900101-1234567"),
    ("card 4111-1111-1111-1111 expires", "card", "4111-1111-1111-1111"),
    ("card 4111 1111 1111 1111", "card", "4111 1111 1111 1111"),
    ("카드번호 5500000000000004", "card", "5500000000000004"),
    ("ask <@U0123ABCD> about it", "mention", "<@U0123ABCD>"),
    ("ping <@W99|jane>", "mention", "<@W99|jane>"),
    # Resident registration numbers without their hyphen (core.redact._rrn): born 1930-1999, or a check digit
    # that holds, or a word near that says what they are.
    ("제 주민번호는 9001011234567입니다", "rrn", "9001011234567"),
    ("9001011234567", "rrn", "9001011234567"),
    ("0501013123457 is mine", "rrn", "0501013123457"),
    ("My RRN: 0501013123456", "rrn", "0501013123456"),
    ("외국인등록번호 0501017123456", "rrn", "0501017123456"),
    ("0501013123456 (주민등록번호)", "rrn", "0501013123456"),
    # Typed full-width (Korean input methods), with ideographic spaces, full-width dots or other hyphens.
    ("９００１０１－１２３４５６７", "rrn", "９００１０１－１２３４５６７"),
    ("생년 9001０1-1234567", "rrn", "9001０1-1234567"),
    ("０１０-２２２２-３３３３로 연락 주세요", "phone", "０１０-２２２２-３３３３"),
    ("０１０－２２２２－３３３３", "phone", "０１０－２２２２－３３３３"),
    ("０１０ ２２２２ ３３３３", "phone", "０１０ ２２２２ ３３３３"),
    ("010\u30002222\u30003333", "phone", "010\u30002222\u30003333"),
    ("０１０．２２２２．３３３３", "phone", "０１０．２２２２．３３３３"),
    ("０１０２２２２３３３３", "phone", "０１０２２２２３３３３"),
    ("010 2222 3333", "phone", "010 2222 3333"),
    ("010.2222.3333", "phone", "010.2222.3333"),
    ("Call 010\u20132222\u20133333", "phone", "010\u20132222\u20133333"),
    ("（０２）３４５-６７８９", "phone", "（０２）３４５-６７８９"),
    ("카드 ４１１１ １１１１ １１１１ １１１１", "card", "４１１１ １１１１ １１１１ １１１１"),
    ("ＪＡＮＥ＠ｎｏｒｔｈｗｉｎｄ．ｅｘａｍｐｌｅ", "email", "ＪＡＮＥ＠ｎｏｒｔｈｗｉｎｄ．ｅｘａｍｐｌｅ"),
    # A card number with more digits after it: the whole groups that pass the Luhn check.
    ("card 4111 1111 1111 1111 123 (CVC)", "card", "4111 1111 1111 1111"),
    ("4111-1111-1111-1111-123", "card", "4111-1111-1111-1111"),
    ("4111111111111111 123", "card", "4111111111111111"),
]

NOT_PERSONAL = [
    "The holiday is on 2026-11-21 and 2026.12.25, or 20261121.",
    "Meet at 10:39 or 09:00-18:00 KST.",
    "VPN-ERR-619 and INC-2026-0042 are IDs, so is SEV1 and JIRA-12345.",
    "The limit is 1,400,000원 (₩1,400,000) or €600 or $1,234.56 or 85,000 won.",
    "Use UDP port 51820, TCP 443 or postgres on 127.0.0.1:5432.",
    "Upgrade to version 2.14.1, v0.10.2 or 1.2.3-rc1.",
    "The server is 192.168.0.1 and 10.0.0.254.",
    "Order 4111111111111112 fails the Luhn check; 1234567890123 starts wrong.",
    "Account 110-123-456789 and ISBN 978-3-16-148410-0.",
    "주민등록번호 형식은 YYMMDD-NNNNNNN 입니다; 991332-1234567 is no date.",
    "Version 3.11.7, build 20260401.1, 25 working days, 1.25 days per month.",
    "Ticket 2026-0001 and room 7-123.",
    "주문번호 2026-1121-0001, 사번 2026-0412-1234, 송장번호 1234-5678-9012, 123-4567-8901.",
    "build 2026.1121.0930 and shipping 1234 5678 9012.",
    "See https://example.com/doc/2026-1121-0001 or /tickets/555-123-4567 or /s/4111111111111111?id=0101234567",
    "Retina icons icon@2x.png and logo@3x.webp.",
    "A channel is not a person: <#C0123|general>.",
    "휴일은 2026년 11월 21일이고 한도는 1,400,000원, 식대는 85,000원까지입니다.",
    # Numbers that look like the formats above, written without separators or full-width.
    "Unix time 1733580000, in milliseconds 1733580000123 or 1710123456789 (a date 17-10-12, a wrong check digit).",
    "Slack ts 1733580000.123456, thread_ts=1733580000.123456, archives/C0123/p1733580000123456.",
    "Orders ORD-20261207-0001, 2026120712345 and 2501151234567 (a date 25-01-15, a wrong check digit).",
    "Versions 1.2.3, v10.4.12 and 2026.12.1.",
    "Dates 2026-12-07, 20261207, 2026. 12. 7., 2026-12-07T09:30:00+09:00 and 2026-12-07T00:30:00.123456Z.",
    "Hosts 10.20.30.40:8443, [2001:db8::1]:443 and 0.0.0.0, port 65535.",
    "It costs 1,400,000원, ₩1,234,567,890, $3,300 or １，４００，０００원.",
    "ISBN 978-89-01-23456-7 or 9788901234567.",
    "https://northwind.example/tickets/9001011234567?ref=4111111111111111&tel=01022223333",
    "Error VPN-ERR-619 or E-1001-2026.",
    "9013011234567 has no 13th month, 9001019234567 no such century digit, 0501013123456 no check digit nor word.",
    "4111 1111 1111 1112 123 passes the Luhn check in no whole groups.",
    "Full-width ２０２６-１２-０７, １７３３５８００００１２３ and １.２.３.",
]


@pytest.mark.parametrize(("text", "kind", "value"), PERSONAL)
def test_personal_data_is_found(text, kind, value):
    found = find(text)
    assert [(f.kind, f.value) for f in found] == [(kind, value)]


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_dates_ids_amounts_ports_versions_are_not_personal_data(text):
    assert find(text) == []


def test_redact_replaces_and_counts_but_keeps_what_the_documents_give():
    counts: Counter = Counter()
    text = "Call the help desk at 02-345-6789 or Jane at 010-1234-5678 (jane@northwind.example)."
    assert redact(text, counts) == "Call the help desk at [phone] or Jane at [phone] ([email])."
    assert counts == Counter(phone=2, email=1)
    kept = redact(text, keep=keys("IT help desk: 02 345 6789"))
    assert kept == "Call the help desk at 02-345-6789 or Jane at [phone] ([email])."
    assert strip("How do I get a laptop? 010-1234-5678") == "How do I get a laptop?  "  # what answerability reads


def test_pseudonyms_hide_consistently_and_reveal_only_their_own_placeholders():
    names = Pseudonyms()
    question = names.hide("Is 010-1234-5678 Jane's number? Mail jane@northwind.example")
    source = names.hide("Jane: 010 1234 5678, jane@northwind.example; desk +82 2 3456 7890")
    assert "010" not in question + source and "jane@" not in question + source
    assert question == "Is [PHONE_1] Jane's number? Mail [EMAIL_1]"
    assert source == "Jane: [PHONE_1], [EMAIL_1]; desk [PHONE_2]"
    assert names.hide("<mailto:jane@northwind.example|mail>") == "<mailto:[EMAIL_1]|mail>"
    reply = "Yes, [PHONE_1] is hers [1]; [PHONE_9] and [card] stay as written."
    assert names.reveal(reply) == "Yes, 010-1234-5678 is hers [1]; [PHONE_9] and [card] stay as written."


def test_full_width_digits_are_the_same_number_and_stay_as_written():
    text = "전화 ０１０-２２２２-３３３３, 주민번호 9001011234567."
    assert redact(text) == "전화 [phone], 주민번호 [id number]."
    assert redact("desk ０２-３４５-６７８９", keep=keys("IT help desk: 02-345-6789")) == "desk ０２-３４５-６７８９"
    names = Pseudonyms()
    hidden = names.hide(text)
    assert hidden == "전화 [PHONE_1], 주민번호 [RRN_1]." and names.reveal(hidden) == text
    assert names.hide("or 010-2222-3333?") == "or [PHONE_1]?"  # the same number, typed plainly
