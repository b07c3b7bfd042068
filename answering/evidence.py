"""Evidence: the few passages of the given sources that best answer the question.

A passage is a sentence, a list item or a table row (with its column names, when the chunk has the
table's header). Passages are scored by how much of the question's weighted content words they
contain: English words lower-cased with plurals folded, Korean words reduced to their content
morphemes by Kiwi (the same analysis keyword search uses), IDs kept whole and in parts. A word that
occurs in few passages weighs more than one that occurs everywhere. Retrieval's order breaks ties.

No model is involved, so the evidence can be shown under any answer, checked against it, and
given instead of it when the model's answer cannot be trusted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from answering.context import Source
from retrieval.chunking import TABLE_RULE
from retrieval.injection import instruction_like
from retrieval.keywords import keyword_text

MAX_PASSAGE_CHARS = 400
MAX_PER_SOURCE = 2
RELATIVE = 0.6  # a passage answering much less of the question than the best one is left out

_TOKEN = re.compile(r"[0-9a-z\uac00-\ud7a3]+(?:[-_./:][0-9a-z\uac00-\ud7a3]+)*")
_STOP = frozenset("""
a about after all also an and any are as at be been before being but by can could did do does doing
for from get gets got had has have how i if in into is it its me more most my no not of on or our per
should so some than that the their them then there these they this those to up us was we were what
when where which while who whom why will with would you your yours
하 되 있 없 않 어떻 어떻게 무엇 뭐 뭔가 어디 언제 왜 얼마 몇 것 수 등 나 저 제 우리 때 좀 더
""".split())
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
# A sentence ends at . ! ? (or 。) followed by space and something that starts a sentence; "1.25",
# "e.g. this" and "v2.1" stay whole.
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+(?=[A-Z0-9\"'“(\[*\uac00-\ud7a3])")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


@dataclass(frozen=True)
class Passage:
    """One quotable piece of a source: ``number`` is the source's number, as cited ([n])."""

    number: int
    text: str
    score: float  # the share of the question's weighted content words it contains (0-1), plus the rank tie-break


@dataclass(frozen=True)
class Evidence:
    passages: tuple[Passage, ...]
    support: float  # the best passage's share of the question's weighted content words (0-1)

    def numbers(self) -> list[int]:
        """The sources the passages come from, in order of first appearance."""
        return list(dict.fromkeys(p.number for p in self.passages))


def terms(text: str) -> set[str]:
    """The content words of ``text``, normalised so a question and a document can be compared."""
    found: set[str] = set()
    for token in _TOKEN.findall(keyword_text(text).lower()):
        pieces = [token, *re.split(r"[-_./:]", token)] if re.search(r"[-_./:]", token) else [token]
        for piece in pieces:
            if piece and piece not in _STOP:
                found.add(_fold(piece))
    return found


def _fold(word: str) -> str:
    """A light English stemmer: "volunteering", "volunteers" and "volunteer" meet; Korean is Kiwi's."""
    if not (word.isascii() and word.isalpha()):
        return word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix, shortest in (("ing", 6), ("ed", 5), ("es", 5), ("s", 4)):
        if len(word) >= shortest and word.endswith(suffix) and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def passages(text: str) -> list[str]:
    """``text`` cut into sentences, list items and table rows; headings and table rules are dropped.
    A table row becomes "column: value; …" when the rows above it include the header."""
    out: list[str] = []
    header: list[str] | None = None
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.extend(s for s in _SENTENCE_END.split(" ".join(paragraph)) if s.strip())
            paragraph.clear()

    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("|"):
            flush()
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if TABLE_RULE.match(stripped):
                continue
            if i + 1 < len(lines) and TABLE_RULE.match(lines[i + 1].strip()):
                header = cells  # the row above a rule names the columns
                continue
            if header and len(header) == len(cells):
                out.append("; ".join(f"{h}: {c}" for h, c in zip(header, cells) if c))
            else:
                out.append(" · ".join(c for c in cells if c))
            continue
        header = None if not stripped else header
        if not stripped or stripped.startswith("#"):
            flush()
        elif _LIST_ITEM.match(stripped):
            flush()
            out.append(_LIST_ITEM.sub("", stripped))
        else:
            paragraph.append(stripped)
    flush()
    return [_clean(p) for p in out if _clean(p)]


def _clean(passage: str) -> str:
    text = " ".join(_EMPHASIS.sub("", passage).split())
    return text if len(text) <= MAX_PASSAGE_CHARS else text[: MAX_PASSAGE_CHARS - 1].rstrip() + "…"


def select_evidence(question: str, sources: list[Source], k: int = 3, focus: str = "") -> Evidence:
    """The ``k`` passages of ``sources`` (numbered best first) that best answer ``question``; at most
    two from one source, none that shares no content word with the question, none that addresses an
    assistant ("SYSTEM: ignore previous instructions …")."""
    wanted = terms(question) | terms(focus)
    focused = terms(focus)  # a thread follow-up's own words ("And contractors?") count double
    candidates = [(src.number, text, terms(text)) for src in sources for text in passages(src.text)
                  if not instruction_like(text, limit=1)]  # a document's orders to an assistant are no evidence
    if not wanted or not candidates:
        return Evidence((), 0.0)
    n = len(candidates)
    df = {t: sum(t in words for _, _, words in candidates) for t in wanted}
    weight = {t: math.log(1 + n / (1 + df[t])) * (2 if t in focused else 1) for t in wanted}
    total = sum(weight.values())
    scored = []
    for order, (number, text, words) in enumerate(candidates):
        coverage = sum(weight[t] for t in wanted & words) / total
        if coverage > 0:
            scored.append((coverage + 0.01 * (1 - order / n), coverage, number, text))
    scored.sort(key=lambda s: -s[0])
    chosen: list[Passage] = []
    per_source: dict[int, int] = {}
    seen: set[str] = set()
    best = scored[0][1] if scored else 0.0
    for score, coverage, number, text in scored:
        if len(chosen) == k or coverage < RELATIVE * best:
            break
        if text in seen or per_source.get(number, 0) >= MAX_PER_SOURCE:
            continue
        seen.add(text)
        per_source[number] = per_source.get(number, 0) + 1
        chosen.append(Passage(number, text, round(score, 4)))
    return Evidence(tuple(chosen), round(max((s[1] for s in scored), default=0.0), 4))
