"""Whether a generated answer may be given: the checks it must pass (``review``), and the evidence it is
checked against and shown with (``choose_evidence``)."""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

from answering.citations import CitationCheck
from answering.context import Source
from answering.evidence import Evidence, closest_passages, select_evidence
from answering.grounding import Grounding, asked_period, numbers, rates, stated_numbers
from answering.types import Answer
from answering.wellformed import is_stub


def review(draft: Answer, check: CitationCheck, grounding: Grounding, evidence: Evidence,
           question: str) -> str | None:
    """Why a generated answer should not be given (auto mode), or None when it passes every check."""
    if is_stub(draft.text, question) or not check.text:
        return "stub"
    if draft.language_ok is False:
        return "language"
    if not grounding.grounded or grounding.unsupported_sentences:
        return "unsupported"
    if not check.verified:
        return "uncited"
    quoted = numbers(" ".join(p.text for p in evidence.passages))
    stated = stated_numbers(check.text)
    if quoted and stated - quoted - numbers(question):
        return "off_evidence"  # a number the sources have, but not where the question is answered
    if quoted and not stated & quoted and _ASKS_FOR_A_FIGURE.search(question):
        return "no_figure"  # "How long …?" answered around the figure the evidence gives
    period = asked_period(question)
    per = {value for value, said in rates(" ".join(p.text for p in evidence.passages)) if said == period}
    if per and not stated & per:
        return "no_figure"  # asked per month, answered with the total for six months ("7.5" for "1.25 per month")
    return None


# A question whose answer is a figure: an amount, a count, a duration, a date.
_ASKS_FOR_A_FIGURE = re.compile(
    r"\bhow\s+(?:much|many|long|soon|often|far|old|big|large|high|early|late)\b|\bwhen\b|\bby\s+what\b"
    r"|\bwhat\s+(?:date|time|day|year|percentage|amount|age|share)\b|몇|얼마|언제|며칠", re.I)


def choose_evidence(question: str, sources: list[Source], similarity: Callable[[str, list[str]], list[float]],
                    answering: frozenset[int] = frozenset(), focus: str = "") -> Evidence:
    """The passages that best answer ``question``: by its words and their meaning (answering.evidence), or by
    meaning alone when only sources in another language answer it (``answering``: their chunks, from
    answering.answerable)."""
    if answering:
        chosen = [src for src in sources if answering & set(src.chunk_ids)]
        if chosen:
            return closest_passages(question, chosen, similarity)
    return select_evidence(question, sources, focus=focus, similarity=similarity)


def evidence_record(evidence: Evidence) -> list[dict]:
    return [dataclasses.asdict(p) for p in evidence.passages]


def source_text(sources: list[Source]) -> str:
    """What the sources say, headings included, as the groundedness check reads it."""
    return "\n\n".join(f"{src.heading}\n{src.text}" for src in sources)
