"""A generated answer's shape: loops cut, length capped, stubs recognised."""

from __future__ import annotations

from answering.wellformed import is_stub, tidy


def test_a_looping_answer_is_cut_at_its_first_repeat():
    looping = "Interns get 1.25 days per month [1]. " * 6 + "Interns get"
    assert tidy(looping) == "Interns get 1.25 days per month [1]."
    assert tidy("- one\n- two\n- one\n- three") == "- one\n- two"


def test_an_answer_keeps_at_most_five_sentences_and_its_lines():
    assert tidy("A one. B two. C three. D four. E five. F six.") == "A one. B two. C three. D four. E five."
    assert tidy("Steps:\n\n1. Open the portal [1].\n2. Pick a day [1].") == \
        "Steps:\n\n1. Open the portal [1].\n2. Pick a day [1]."
    assert tidy("Version 2.1 costs €1.50 [2]. 휴가는 포털에서 신청합니다 [1].") == \
        "Version 2.1 costs €1.50 [2]. 휴가는 포털에서 신청합니다 [1]."


def test_a_lead_in_without_an_answer_is_a_stub():
    for stub in ("", "  ", "[1]", "The answer to this question is:", "Based on the sources, the answer is:",
                 "답변:", "The answer [1]."):
        assert is_stub(stub), stub
    for answer in ("The answer is: 1.25", "Interns get 1.25 days [1].", "포털에서 신청합니다 [1]."):
        assert not is_stub(answer), answer


def test_the_prompts_markup_never_reaches_the_user():
    from answering.wellformed import tidy

    assert tidy("Interns get 1.25 days [1].</sources> <|im_end|>") == "Interns get 1.25 days [1]."
    assert tidy("< sources >휴가는 15일입니다 [1].") == "휴가는 15일입니다 [1]."


def test_a_loop_inside_one_sentence_is_cut_where_it_starts_again():
    looping = ("옵션 API를 쓰는 경우, [이 FAQ](/guide/faq) 는 평가 중인 경우 3.5에서 focus 주려면, "
               "[이 FAQ](/guide/faq) 는 평가 중인 경우 3.5에서 focus 주려면, [이 FAQ](/guide/faq) 는")
    assert tidy(looping) == "옵션 API를 쓰는 경우, [이 FAQ](/guide/faq) 는 평가 중인 경우 3.5에서 focus 주려면,"


def test_an_answer_stops_where_the_model_opens_a_turn_of_its_own():
    assert tidy("It is fine [1].\n\nQuestion: What is the difference between `v-if` and `v-show` [1]?") == \
        "It is fine [1]."
    assert tidy("No [1].\n\n**Q: Is there a fee [1]?**\nA: It is free [2].") == "No [1]."
    assert tidy("괜찮아요 [1].\n질문: 다른 방법은?") == "괜찮아요 [1]."
    assert tidy("Quick answer: yes [1].") == "Quick answer: yes [1]."


def test_a_code_block_is_kept_whole_and_counts_as_one_sentence():
    code = "```js\n}\n}\nfoo()\n}\n```"
    assert tidy(f"Do this [1]:\n{code}\nThen done. Then done.") == f"Do this [1]:\n{code}\nThen done."
    lines = "\n".join(f"line({i})" for i in range(8))
    assert tidy(f"A.\n```\n{lines}\n```\nB. C. D. E. F.") == f"A.\n```\n{lines}\n```\nB. C. D."
