"""Evidence: the few passages of the given sources that best answer the question.

A passage is a sentence, a list item or a table row (with its column names, when the chunk has the
table's header). Passages are scored by how much of the question's weighted content words they
contain: English words lower-cased with plurals folded, Korean words reduced to their content
morphemes by Kiwi (the same analysis keyword search uses), IDs kept whole and in parts. A word that
occurs in few passages weighs more than one that occurs everywhere. Retrieval's order breaks ties.

No model is involved, so the evidence can be shown under any answer, checked against it, and
given instead of it when the model's answer cannot be trusted.

Kiwi is the cost (about 13 µs of CPU per Hangul character), so the terms of short texts are
remembered (the same chunks come back answer after answer), and Kiwi reads a text only when the
terms it could add can change the result: an English question's words are found in a Korean
passage's Latin words and numbers without it (``TextTerms``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from answering.context import Source
from retrieval.chunking import TABLE_RULE
from retrieval.injection import instruction_like
from retrieval.keywords import HANGUL, keyword_text

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
_WORD = re.compile(r"\S+")  # a word as keyword_text splits them
_SEPARATOR = re.compile(r"[-_./:]")
_HANGUL_CHARS = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f"  # as retrieval.keywords.HANGUL
_OTHER_ALNUM = re.compile(rf"[^\W_{_HANGUL_CHARS}]")  # str.isalnum() and not Hangul
_UNUSUAL_ALNUM = re.compile(rf"[^\W_0-9A-Za-z{_HANGUL_CHARS}]")  # ... and not ASCII either
_REMEMBERED_CHARS = 2000  # the terms of texts up to this long (passages, questions, sentences) are cached


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
    return set(_terms(text))


def _terms(text: str) -> frozenset[str]:
    return _remembered_terms(text) if len(text) <= _REMEMBERED_CHARS else _words(keyword_text(text))


@lru_cache(maxsize=8192)
def _remembered_terms(text: str) -> frozenset[str]:
    return _words(keyword_text(text))


def clear_cache() -> None:
    """Forget the remembered terms and passages (to measure the checks on texts never seen before)."""
    _remembered_terms.cache_clear()
    _passages.cache_clear()


def _words(keywords: str) -> frozenset[str]:
    found: set[str] = set()
    for token in set(_TOKEN.findall(keywords.lower())):
        pieces = (token, *_SEPARATOR.split(token)) if _SEPARATOR.search(token) else (token,)
        for piece in pieces:
            if piece and piece not in _STOP:
                found.add(_fold(piece))
    return frozenset(found)


class TextTerms:
    """The terms of one text, asking Kiwi only when needed: ``missing(words)`` is exactly
    ``words - terms(text)``.

    Words without Hangul pass keyword_text unchanged, so their terms (``plain``) need no Kiwi, and
    Kiwi adds terms without Hangul only from words that mix Hangul with Latin letters or digits
    ("VPN-ERR-619가", "20만"), as pieces of them: a plain word that is not a piece of such a word
    cannot be a term. Only Hangul words, or such pieces, make Kiwi read the text.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        plain_words, mixed = [], []
        for word in _WORD.findall(text):
            if not HANGUL.search(word):
                plain_words.append(word)
            elif _OTHER_ALNUM.search(word):
                mixed.append(word)
        self.plain = _words(" ".join(plain_words))
        self._mixed = [word.lower() for word in mixed]
        # Kiwi may rewrite letters and digits that are not ASCII (full-width ones, say): anything goes then.
        self._unusual = any(_UNUSUAL_ALNUM.search(word) for word in mixed)
        self._all: frozenset[str] | None = None

    def missing(self, words: set[str] | frozenset[str]) -> set[str]:
        outside = set(words - self.plain)
        if any(HANGUL.search(w) or self._may_come_from_mixed(w) for w in outside):
            if self._all is None:
                self._all = _terms(self.text)
            outside -= self._all
        return outside

    def _may_come_from_mixed(self, term: str) -> bool:
        if not self._mixed:
            return False
        if self._unusual:
            return True
        # the pieces _fold turns into ``term``: itself, a plural in -s, or one in -ies
        pieces = (term, term + "s", term[:-1] + "ies") if term.endswith("y") else (term, term + "s")
        return any(p in word for word in self._mixed for p in pieces)


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
    return list(_passages(text))


@lru_cache(maxsize=1024)
def _passages(text: str) -> tuple[str, ...]:
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
    return tuple(cleaned for cleaned in map(_clean, out) if cleaned)


def _clean(passage: str) -> str:
    text = " ".join(_EMPHASIS.sub("", passage).split())
    return text if len(text) <= MAX_PASSAGE_CHARS else text[: MAX_PASSAGE_CHARS - 1].rstrip() + "…"


def select_evidence(question: str, sources: list[Source], k: int = 3, focus: str = "") -> Evidence:
    """The ``k`` passages of ``sources`` (numbered best first) that best answer ``question``; at most
    two from one source, none that shares no content word with the question, none that addresses an
    assistant ("SYSTEM: ignore previous instructions …")."""
    focused = _terms(focus) if focus else frozenset()  # a follow-up's own words ("And contractors?") count double
    wanted = _terms(question) | focused
    texts = [(src.number, text) for src in sources for text in _passages(src.text)
             if not instruction_like(text, limit=1)]  # a document's orders to an assistant are no evidence
    if not wanted or not texts:
        return Evidence((), 0.0)
    # Only the question's words count, so each passage's terms are those (found without Kiwi if it can).
    candidates = [(number, text, wanted - TextTerms(text).missing(wanted)) for number, text in texts]
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
