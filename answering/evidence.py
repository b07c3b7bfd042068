"""Evidence: the few passages of the given sources that best answer the question.

A passage is a sentence, a list item or a table row (with its column names, when the chunk has the
table's header). Passages are scored by how much of the question's weighted content words they
contain: English words lower-cased with plurals folded, Korean words reduced to their content
morphemes by Kiwi (the same analysis keyword search uses), IDs kept whole and in parts. A word that
occurs in few passages weighs more than one that occurs everywhere; the heading (title › section)
and the lead-in of a list or table say what a passage is about. Retrieval's order breaks ties. Fewer
passages are better than a wrong one beside the right one: another passage is quoted only when it
holds the best one's qualifiers too ("Seoul", "P2") or adds more of them than it lacks.

No model is involved, so the evidence can be shown under any answer, checked against it, and
given instead of it when the model's answer cannot be trusted.

Kiwi is the cost (about 13 µs of CPU per Hangul character), so the terms of short texts are
remembered (the same chunks come back answer after answer), and Kiwi reads a text only when the
terms it could add can change the result: an English question's words are found in a Korean
passage's Latin words and numbers without it (``TextTerms``).
"""

from __future__ import annotations

import dataclasses
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
CONTEXT = 0.5  # a question word found only in the passage's heading (title › section) counts this much
LEAD = 0.5  # ... and one found only in the lead-in of its list or table ("Enterprise first-response times:")
OTHER = 0.5  # the score of a passage naming another code of the kind the question asks about ("P1" for "P2")

_TOKEN = re.compile(r"[0-9a-z\uac00-\ud7a3]+(?:[-_./:][0-9a-z\uac00-\ud7a3]+)*")
_STOP = frozenset("""
a about after all also an and any are as at be been before being but by can could did do does doing
for from get gets got had has have how i if in into is it its me more most my no not of on or our per
should so some than that the their them then there these they this those to up us was we were what
when where which while who whom why will with would you your yours s t d ll m re ve
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
# Words any question may use whatever it is about: how much, how long, what does it mean, can I use ...
# A source need not contain them (answering.answerable), and they weigh less in choosing evidence.
QUESTION_WORDS_TEXT = """
much many few long often soon quickly far big large small high low old new early late next last first
just still already ever even only also really actually please tell know need want like able allow
allowed suppos supposed maximum max minimum min least kind sort type way thing anything something
anyone someone say mean use get take give make go come let put keep happen left since until till
under over again back around s m ve re ll d t am date time day toward towards regarding within between
during among through across via each every
"""
GENERIC = 0.5  # the weight of a question word any question may use, against one that says what it is about
_ASKED = re.compile(r"\bhow\s+([a-z]+)", re.IGNORECASE)  # "how many", "how long": what kind of answer, not what about
_CODE = re.compile(r"([a-z]{1,4})([0-9]{1,2})")  # as terms() has them: "p2", "sev1", "q4"
_CODE_IN_TEXT = re.compile(r"\b([a-z]{1,4})[-_ ]?([0-9]{1,2})\b")  # "P1", "SEV-2", "Q 3"
_LATIN_RUN = re.compile(r"[0-9A-Za-z]+(?:[-_./:][0-9A-Za-z]+)*")
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
    return _remembered_terms(text) if len(text) <= _REMEMBERED_CHARS else _read(text)


@lru_cache(maxsize=8192)
def _remembered_terms(text: str) -> frozenset[str]:
    return _read(text)


def _read(text: str) -> frozenset[str]:
    """Kiwi's terms, and the Latin letters and digits of a word that mixes them with Hangul as one term:
    Kiwi reads "L7의" as "L 7", and a passage writes "L7"."""
    runs = [run for word in _WORD.findall(text) if HANGUL.search(word) for run in _LATIN_RUN.findall(word)]
    found = _words(keyword_text(text))
    return found | _words(" ".join(runs)) if runs else found


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
    if len(word) == 4 and word.endswith("ed") and word[1] != "e":
        return word[:-1]  # "used", "aged": "use", "age"
    for suffix, shortest in (("ing", 6), ("ed", 5), ("es", 5), ("s", 4)):
        if len(word) >= shortest and word.endswith(suffix) and not word.endswith("ss"):
            word = word[: -len(suffix)]
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # "submitted", "planning": "submit", "plan"
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


@dataclass(frozen=True)
class _Piece:
    text: str
    cells: tuple[tuple[str, str], ...] = ()  # a table row under its header: (column, value), cleaned
    lead: str = ""  # a list item's or table row's lead-in: the sentence just above the list or table


def passages(text: str) -> list[str]:
    """``text`` cut into sentences, list items and table rows; headings and table rules are dropped.
    A table row becomes "column: value; …" when the rows above it include the header."""
    return [piece.text for piece in _passages(text)]


@lru_cache(maxsize=1024)
def _passages(text: str) -> tuple[_Piece, ...]:
    out: list[_Piece] = []
    header: list[str] | None = None
    paragraph: list[str] = []
    last = ""  # the last sentence of the paragraph above, the lead-in of a list or table right after it
    lead: str | None = None  # the lead-in of the list or table being read (None: not in one)

    def flush() -> None:
        nonlocal last
        if paragraph:
            sentences = [_clean(s) for s in _SENTENCE_END.split(" ".join(paragraph)) if s.strip()]
            out.extend(_Piece(s) for s in sentences)
            last = sentences[-1] if sentences else ""
            paragraph.clear()

    def item(piece: _Piece) -> None:
        nonlocal lead
        flush()
        if lead is None:
            lead = last
            if lead.endswith(":") and out and out[-1].text == lead:
                out.pop()  # "Limits per category:" says nothing alone; it is quoted with the item
        if piece.text:
            out.append(dataclasses.replace(piece, lead=lead))

    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if TABLE_RULE.match(stripped):
                continue
            if i + 1 < len(lines) and TABLE_RULE.match(lines[i + 1].strip()):
                header = cells  # the row above a rule names the columns
                item(_Piece(""))
            elif header and len(header) == len(cells):
                item(_row(tuple((h, c) for h, c in zip(header, cells) if c)))
            else:
                item(_Piece(_clean(" · ".join(c for c in cells if c))))
            continue
        header = None if not stripped else header
        if stripped.startswith("#"):
            flush()
            last, lead = "", None
        elif not stripped:
            flush()
        elif _LIST_ITEM.match(stripped):
            item(_Piece(_clean(_LIST_ITEM.sub("", stripped))))
        else:
            if lead is not None:  # the list or table has ended
                last, lead = "", None
            paragraph.append(stripped)
    flush()
    return tuple(out)


def _row(cells: tuple[tuple[str, str], ...]) -> _Piece:
    cleaned = tuple((_clean(h), _clean(c)) for h, c in cells)
    return _Piece(_clean(_join_cells(cleaned)), cleaned)


def _join_cells(cells: tuple[tuple[str, str], ...]) -> str:
    return "; ".join(f"{column}: {value}" for column, value in cells)


def _clean(passage: str) -> str:
    text = " ".join(_EMPHASIS.sub("", passage).split())
    return text if len(text) <= MAX_PASSAGE_CHARS else text[: MAX_PASSAGE_CHARS - 1].rstrip() + "…"


def select_evidence(question: str, sources: list[Source], k: int = 3, focus: str = "") -> Evidence:
    """The passages of ``sources`` (numbered best first, at most ``k``) that best answer ``question``.

    A passage is scored by the weighted question words it holds; those only in its heading
    ("Benefits › Health › Berlin") or in the lead-in of its list or table count half, words any question uses
    ("how long", "maximum") weigh less, and one naming another code of the kind asked about ("P1"
    for "P2") ranks lower. The best one is always quoted. Another only when it lacks none of the best
    one's specific words (neither words any question uses nor ones most passages hold), or adds more
    of them than it lacks: a passage with the question's generic words but not its qualifiers
    ("Seoul", "Enterprise", "interns") answers another question. At most two from one source, none
    that shares no content word with the question, none that addresses an assistant ("SYSTEM: ignore
    previous instructions …"). A table row keeps only its first cell and the columns the question
    names, when it names any (a follow-up's own words first: "And contractors?"), and a list item or
    row is quoted after its lead-in when that holds question words it lacks.
    """
    focused = _terms(focus) if focus else frozenset()  # a follow-up's own words ("And contractors?") count double
    wanted = (_terms(question) | focused) - _asked(f"{question}\n{focus}")
    scored, weight, specific = _score(wanted, focused, sources)
    if not scored:
        return Evidence((), 0.0)
    best = scored[0]
    chosen = [best]
    covered = dict(best.held)
    per_source = {best.number: 1}
    for candidate in scored[1:]:
        if len(chosen) == k or candidate.coverage < RELATIVE * best.coverage:
            break
        if per_source.get(candidate.number, 0) >= MAX_PER_SOURCE or candidate.other:
            continue  # other: "P1" where the question asks about P2, another level's answer
        if any(c.piece.text == candidate.piece.text for c in chosen):
            continue
        lacks = _lacks(candidate, best, weight, specific)
        if lacks and _adds(candidate, covered, weight, specific) <= lacks:
            continue  # the best one's qualifiers are missing and nothing outweighs them: another question's answer
        for t, held in candidate.held.items():
            covered[t] = max(covered.get(t, 0.0), held)
        per_source[candidate.number] = per_source.get(candidate.number, 0) + 1
        chosen.append(candidate)
    quoted = tuple(Passage(c.number, _quote(c.piece, wanted, focused), round(c.rank, 4)) for c in chosen)
    return Evidence(quoted, round(best.coverage, 4))


def _score(wanted: frozenset[str], focused: frozenset[str],
           sources: list[Source]) -> tuple[list[_Scored], dict[str, float], frozenset[str]]:
    """The passages holding a question word, best first; the words' weights; the specific words (neither
    a word any question uses nor one in most passages)."""
    pieces = [(src.number, piece) for src in sources for piece in _passages(src.text)
              if not instruction_like(piece.text, limit=1)]  # a document's orders to an assistant are no evidence
    if not wanted or not pieces:
        return [], {}, frozenset()
    # Only the question's words count, so each passage's terms are those (found without Kiwi if it can).
    in_heading = {src.number: wanted - TextTerms(src.heading).missing(wanted) for src in sources}
    found = [wanted - TextTerms(piece.text).missing(wanted) for _, piece in pieces]
    leads = {lead: wanted - TextTerms(lead).missing(wanted) for lead in {piece.lead for _, piece in pieces}}
    read = [own | leads[piece.lead] for own, (_, piece) in zip(found, pieces)]  # the lead-in read with each item
    n = len(pieces)
    df = {t: sum(t in words for words in read) for t in wanted}
    generic = question_words()
    weight = {t: math.log(1 + n / (1 + df[t])) * (2 if t in focused else 1) * (GENERIC if t in generic else 1)
              for t in wanted}
    total = sum(weight.values())
    scored = []
    codes = _codes(wanted)
    for order, ((number, piece), own) in enumerate(zip(pieces, found)):
        if own:
            held = {**dict.fromkeys(in_heading[number], CONTEXT), **dict.fromkeys(leads[piece.lead], LEAD),
                    **dict.fromkeys(own, 1.0)}
            coverage = sum(weight[t] * h for t, h in held.items()) / total
            other = bool(codes) and _other_code(piece.text, codes, own)
            rank = coverage * (OTHER if other else 1) + 0.01 * (1 - order / n)
            scored.append(_Scored(rank, coverage, number, piece, held, other))
    scored.sort(key=lambda s: -s.rank)
    specific = frozenset(t for t in wanted if t in focused or (t not in generic and df[t] <= n / 2))
    return scored, weight, specific


def _codes(wanted: frozenset[str]) -> dict[str, str]:
    """The question's level-like codes ("p2", "sev1", "q4", "l3"): letters -> the code."""
    return {m.group(1): t for t in wanted if (m := _CODE.fullmatch(t))}


def _other_code(text: str, codes: dict[str, str], own: frozenset[str]) -> bool:
    """Whether ``text`` names a code of a kind the question asks about ("P1" for "P2"), not the one asked."""
    return any(letters in codes and codes[letters] not in own and f"{letters}{number}" != codes[letters]
               for letters, number in _CODE_IN_TEXT.findall(text.lower()))


def _adds(candidate: _Scored, covered: dict[str, float], weight: dict[str, float], among: frozenset[str]) -> float:
    """The weight of what ``candidate`` holds beyond the passages chosen (of the words ``among``)."""
    return sum(weight[t] * max(0.0, h - covered.get(t, 0.0)) for t, h in candidate.held.items() if t in among)


def _lacks(candidate: _Scored, best: _Scored, weight: dict[str, float], among: frozenset[str]) -> float:
    """The weight of what the best passage holds and ``candidate`` does not (of the words ``among``)."""
    return sum(weight[t] * max(0.0, h - candidate.held.get(t, 0.0)) for t, h in best.held.items() if t in among)


@lru_cache(maxsize=1)
def question_words() -> frozenset[str]:
    """The terms of the words any question may use (``QUESTION_WORDS_TEXT``), as ``terms`` folds them."""
    return _words(QUESTION_WORDS_TEXT)


def _asked(question: str) -> frozenset[str]:
    """The words that only say what kind of answer is wanted ("how many", "how long")."""
    return frozenset(_fold(word.lower()) for word in _ASKED.findall(question)) & question_words()


@dataclass(frozen=True)
class _Scored:
    rank: float  # coverage plus retrieval's order as a tie-break
    coverage: float
    number: int
    piece: _Piece
    held: dict[str, float]  # the question's words it holds: 1 in its text, less in its lead-in or heading only
    other: bool = False  # it names another code of the kind the question asks about ("P1" for "P2")


def _quote(piece: _Piece, wanted: frozenset[str], focused: frozenset[str]) -> str:
    """The passage, after its lead-in when that holds question words the passage lacks ("Sent 5 days
    before you start: … NWL-ID …"); of a table row, only its first cell and the cells whose column or
    value the question names, when it names a column beyond the first (a follow-up's own words first)."""
    text = _cells(piece, wanted, focused)
    if piece.lead and TextTerms(text).missing(wanted) - TextTerms(piece.lead).missing(wanted):
        return f"{piece.lead} {text}" if piece.lead.endswith(":") else f"{piece.lead} — {text}"
    return text


def _cells(piece: _Piece, wanted: frozenset[str], focused: frozenset[str]) -> str:
    if len(piece.cells) < 3:
        return piece.text
    for words in (focused & wanted, wanted):
        named = [_names(column, words) for column, _ in piece.cells]
        if any(named[1:]):
            kept = [cell for i, (cell, by_column) in enumerate(zip(piece.cells, named))
                    if i == 0 or by_column or _names(cell[1], words)]
            return _clean(_join_cells(tuple(kept)))
    return piece.text


def _names(text: str, words: frozenset[str]) -> bool:
    return bool(words) and len(TextTerms(text).missing(words)) < len(words)
