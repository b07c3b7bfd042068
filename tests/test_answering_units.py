"""Pure pieces of the answering pipeline."""

from answering.citations import check_citations
from answering.language import detect_language


def test_language_detection():
    assert detect_language("How many vacation days do interns get?") == "en"
    assert detect_language("휴가 신청은 어떻게 하나요?") == "ko"
    assert detect_language("VPN-ERR-619 오류가 나요") == "ko"
    assert detect_language("SEC-104 정책에서 MFA requirement는 무엇인가요") == "ko"
    assert detect_language("12345 ???") == "unknown"


def test_valid_citations_are_kept_and_invalid_ones_removed():
    check = check_citations("Interns get 1.25 days [2]. Contractors get none [2, 7]. Ask HR [9].", 3)
    assert check.text == "Interns get 1.25 days [2]. Contractors get none [2]. Ask HR."
    assert check.cited == [2] and check.removed == [7, 9] and check.verified


def test_an_answer_without_valid_citations_is_unverified():
    check = check_citations("The office opens at nine [4].", 3)
    assert check.text == "The office opens at nine." and check.cited == [] and not check.verified
    assert not check_citations("No sources at all.", 3).verified


def test_citation_order_and_grouping():
    check = check_citations("A [3][1]. B [1;2]. C [ 2 ].", 3)
    assert check.cited == [3, 1, 2]
    assert check.text == "A [3][1]. B [1, 2]. C [2]."
    assert check_citations("Array index [0] is not a source.", 3).removed == [0]
