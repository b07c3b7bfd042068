"""Answers that need no trust in a model: the evidence quoted, and citations a model forgot.

The extractive answer is a fixed lead-in in the asker's language and the evidence passages, each
with its source number, word for word as the documents say them. It is what ``ANSWER_MODE=auto``
gives when the generated answer cannot be trusted, and all that ``ANSWER_MODE=extractive`` gives.
"""

from __future__ import annotations

import re

from answering.citations import CITATION
from answering.context import Source
from answering.evidence import Passage
from answering.language import prose_language
from answering.terms import terms
from answering.types import Answer, Route
from answering.wellformed import sentences

LEAD_IN = {
    "en": "Here is what the documents say:",
    "ko": "문서에는 다음과 같이 나와 있습니다:",
}
# ... when a passage is in another language than the question: quoted as written, not translated
QUOTED_LEAD_IN = {
    "en": "Here is what the documents say (quoted in the original Korean):",
    "ko": "문서에는 다음과 같이 나와 있습니다 (영어 원문 그대로 인용):",
}
# ... when the sources may not answer exactly what was asked (answering.answerable: uncertain): the closest
# passage, under a lead-in that says so
UNSURE_LEAD_IN = {
    "en": "I'm not sure the documents answer exactly this; the closest passage says{quoted}:",
    "ko": "문서가 이 질문에 정확히 답하는지 확실하지 않습니다. 가장 가까운 내용은 다음과 같습니다{quoted}:",
}
_QUOTED = {"en": " (quoted in the original Korean)", "ko": " (영어 원문 그대로 인용)"}
# A sentence gets a citation from the source that holds at least this share of its content words.
MIN_COVERAGE = 0.6
_SENTENCE_END = re.compile(r"([.!?。]?)\s*$")


def extractive_text(passages: list[Passage], language: str, unsure: bool = False) -> str:
    """The lead-in and one line per passage, ending in its citation: "• Interns get … [1]". ``unsure``: the
    lead-in says the documents may not answer exactly this."""
    other = any(prose_language(p.text) not in (language, "unknown") for p in passages)  # code is in no language
    if unsure:
        lead_in = UNSURE_LEAD_IN.get(language, UNSURE_LEAD_IN["en"])
        lines = [lead_in.format(quoted=_QUOTED.get(language, "") if other else "")]
    else:
        lines = [(QUOTED_LEAD_IN if other else LEAD_IN).get(language, LEAD_IN["en"])]
    lines += [f"• {passage.text} [{passage.number}]" for passage in passages]
    return "\n".join(lines)


def extractive_answer(passages: list[Passage], sources: list[Source], language: str, unsure: bool = False) -> Answer:
    """The extractive answer as an Answer: the sources it quotes are its cited ones."""
    cited = {p.number for p in passages}
    return Answer(extractive_text(passages, language, unsure), route=Route.EXTRACTIVE,
                  language=language, sources=[src for src in sources if src.number in cited],
                  uncited=[src for src in sources if src.number not in cited], verified=True,
                  evidence=list(passages))


def attach_citations(answer: str, sources: list[Source]) -> str:
    """``answer`` with a citation after every uncited sentence that one source supports.

    A sentence is supported by the source holding the largest share (at least ``MIN_COVERAGE``) of its
    content words; sentences no source supports, and sentences already cited, are left as they are.
    """
    if not sources:
        return answer
    source_terms = [(src.number, terms(f"{src.heading}\n{src.text}")) for src in sources]
    out = answer
    for sentence in sentences(answer):
        if CITATION.search(sentence):
            continue
        words = terms(sentence)
        if len(words) < 2:
            continue
        number, share = max(((n, len(words & known) / len(words)) for n, known in source_terms),
                            key=lambda pair: pair[1])
        if share >= MIN_COVERAGE:
            cited = _SENTENCE_END.sub(lambda m: f" [{number}]{m.group(1)}", sentence, count=1)
            out = out.replace(sentence, cited, 1)
    return out
