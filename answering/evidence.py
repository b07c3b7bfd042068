"""Evidence: the few passages of the given sources that best answer the question.

A passage is a sentence, a list item (with its hard-wrapped lines), a table row (with its column
names, when the chunk has the table's header) or a code block (its lines as written, quoted fenced
after the sentence that leads into it: "To load completions in your current shell session:").
Passages are scored by how much of the question's weighted content words they contain: English
words lower-cased with plurals folded, Korean words reduced to their content morphemes by Kiwi (the
same analysis keyword search uses), IDs kept whole and in parts. A word that occurs in few passages
weighs more than one that occurs everywhere; the heading (title › section) and the lead-in of a list,
table or code block say what a passage is about. Retrieval's order breaks ties. Fewer passages are
better than a wrong one beside the right one: another passage is quoted only when it holds the best
one's qualifiers too ("Seoul", "P2") or adds more of them than it lacks.

No model is involved, so the evidence can be shown under any answer, checked against it, and
given instead of it when the model's answer cannot be trusted.
Words are compared as answering.terms has them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Callable

from answering.answerable import names
from answering.context import Source
from answering.passages import Piece, clean, heading_name, join_cells, read_with
from answering.passages import pieces as pieces_of
from answering.terms import TextTerms, fold, frozen_terms, question_words
from answering.terms import clear_cache as clear_terms_cache
from retrieval.injection import instruction_like
from retrieval.keywords import morphemes

MAX_PER_SOURCE = 2
RELATIVE = 0.6  # a passage answering much less of the question than the best one is left out
CONTEXT = 0.5  # a question word found only in the passage's heading (title › section) counts this much
LEAD = 0.5  # ... and one found only in the lead-in of its list or table ("Enterprise first-response times:")
OTHER = 0.5  # the score of a passage naming another code of the kind the question asks about ("P1" for "P2")
# With the embedder (``similarity``), a passage's rank is its similarity to the question plus TERMS times its
# coverage of the question's words, each as standard scores among the passages compared: meaning finds the
# passage a paraphrase asks about ("annual leave" for "paid time off"), words keep names, IDs and qualifiers.
TERMS = 0.5
PARALLEL = 0.5  # the share of words two passages hold in common when one says of another thing what the other does
CLOSE = 1.5  # with the embedder: another passage is quoted only when it ranks within this many standard scores

GENERIC = 0.5  # the weight of a question word any question may use, against one that says what it is about
_ASKED = re.compile(r"\bhow\s+([a-z]+)", re.IGNORECASE)  # "how many", "how long": what kind of answer, not what about
_CODE = re.compile(r"([a-z]{1,4})([0-9]{1,2})")  # as terms() has them: "p2", "sev1", "q4"
_CODE_IN_TEXT = re.compile(r"\b([a-z]{1,4})[-_ ]?([0-9]{1,2})\b")  # "P1", "SEV-2", "Q 3"


@dataclass(frozen=True)
class Passage:
    """One quotable piece of a source: ``number`` is the source's number, as cited ([n])."""

    number: int
    text: str
    score: float  # the share of the question's weighted content words it contains (0-1), plus the rank tie-break


@dataclass(frozen=True)
class Evidence:
    passages: tuple[Passage, ...]
    support: float  # the best passage's share of the question's weighted content words (0-1); across
    # languages (closest_passages), the embedder's similarity of the question to it

    def numbers(self) -> list[int]:
        """The sources the passages come from, in order of first appearance."""
        return list(dict.fromkeys(p.number for p in self.passages))


def clear_cache() -> None:
    """Forget the remembered terms and passages (to measure the checks on texts never seen before)."""
    clear_terms_cache()
    pieces_of.cache_clear()


def select_evidence(question: str, sources: list[Source], k: int = 3, focus: str = "",
                    similarity: Callable[[str, list[str]], list[float]] | None = None) -> Evidence:
    """The passages of ``sources`` (numbered best first, at most ``k``) that best answer ``question``.

    A passage is scored by the weighted question words it holds; those only in its heading
    ("Benefits › Health › Berlin") or in the lead-in of its list or table count half, words any question uses
    ("how long", "maximum") weigh less, and one naming another code of the kind asked about ("P1"
    for "P2") ranks lower. The best one is always quoted. Another only when it lacks none of the names the
    best one holds ("Seoul", "Enterprise", "P2", "대전"), or adds more of the question's specific words
    (neither words any question uses nor ones most passages hold) than it lacks; a table row, another item
    of the best one's list or a passage saying the same of another thing must hold all of the best one's
    specific words ("interns", "결제팀"): it answers for another line. At most two from one source, none
    that shares no content word with the question, none that addresses an assistant ("SYSTEM: ignore
    previous instructions …"). Each is quoted with the sentences around it (``_around``) and under its
    heading when that holds question words it lacks. A table row keeps only its first cell and the columns
    the question names, when it names any (a follow-up's own words first: "And contractors?"), and a list
    item or row is quoted after its lead-in when that holds question words it lacks.

    Given ``similarity`` (the embedder: question, texts -> cosine), every passage is ranked by meaning as well
    (``TERMS``), so a passage that answers in other words than the question's can be the best one.
    """
    focused = frozen_terms(focus) if focus else frozenset()  # a follow-up's own words ("And contractors?") count double
    wanted = (frozen_terms(question) | focused) - _asked(f"{question}\n{focus}")
    meaning = (lambda texts: similarity(f"{question}\n{focus}".strip(), texts)) if similarity else None
    scored, weight, specific = _score(wanted, focused, sources, meaning)
    if not scored:
        return Evidence((), 0.0)
    asked = f"{question}\n{focus}"
    named = frozen_terms(" ".join(names(asked) + morphemes(asked, ("NNP",)))) & wanted  # Tokyo, P2, 대전
    qualifiers = specific & named
    best = scored[0]
    chosen = [best]
    covered = dict(best.held)
    per_source = {best.number: 1}
    for candidate in scored[1:]:
        if len(chosen) == k or (candidate.rank < best.rank - CLOSE if meaning
                                else candidate.coverage < RELATIVE * best.coverage):
            break
        if per_source.get(candidate.number, 0) >= MAX_PER_SOURCE or candidate.other:
            continue  # other: "P1" where the question asks about P2, another level's answer
        if any(c.piece.text == candidate.piece.text for c in chosen):
            continue
        alike = bool(candidate.piece.cells) or _parallel(candidate.piece.text, best.piece.text) or (
            candidate.number == best.number and candidate.piece.beside(best.piece))  # another line of the same thing
        lacks = _lacks(candidate, best, weight, specific if alike else qualifiers)
        if lacks and _adds(candidate, covered, weight, specific) <= lacks:
            continue  # the best one's qualifiers are missing and nothing outweighs them: another question's answer
        for t, held in candidate.held.items():
            covered[t] = max(covered.get(t, 0.0), held)
        per_source[candidate.number] = per_source.get(candidate.number, 0) + 1
        chosen.append(candidate)
    taken = {c.piece.text for c in chosen}
    quoted = []
    for c in chosen:
        around = _around(c, sources, codes=_codes(wanted), taken=taken,
                         fits=lambda piece, c=c: _fits(piece, c, scored, named))
        taken |= {p.text for p in around}
        text = _under(_heading_of(c, sources), _quote_around(c.piece, around, wanted, focused), wanted)
        quoted.append(Passage(c.number, text, round(c.rank, 4)))
    quoted = tuple(quoted)
    return Evidence(quoted, round(best.coverage, 4))


def closest_passages(question: str, sources: list[Source], similarity: Callable[[str, list[str]], list[float]],
                     limit: int = 24) -> Evidence:
    """The evidence when the sources that answer are in another language than the question: words
    cannot be compared, so the passage ``similarity`` (the multilingual embedder) finds closest to
    the question is quoted, read with its heading ("Project Kestrel: General availability is planned
    for … Q4 2026 in the Korea region"). At most ``limit`` passages are compared, in the sources' order;
    none that addresses an assistant.
    """
    wanted = frozen_terms(question)
    pieces = [(src, piece) for src in sources for piece in pieces_of(src.text)
              if _quotable(piece)][:limit]
    if not pieces:
        return Evidence((), 0.0)
    read = [read_with(src.heading, piece) for src, piece in pieces]
    close = similarity(question, read)
    best = max(range(len(pieces)), key=lambda i: (close[i], -i))
    src, piece = pieces[best]
    around = _around(_Scored(0.0, 0.0, src.number, piece, {}), [src], codes={}, taken={piece.text})
    return Evidence((Passage(src.number, _quote_around(piece, around, wanted, frozenset()), round(close[best], 4)),),
                    round(close[best], 4))


def _score(wanted: frozenset[str], focused: frozenset[str], sources: list[Source],
           meaning: Callable[[list[str]], list[float]] | None = None
           ) -> tuple[list[_Scored], dict[str, float], frozenset[str]]:
    """The passages holding a question word (with ``meaning``: every passage), best first; the words' weights;
    the specific words (neither a word any question uses nor one in most passages)."""
    pieces = [(src.number, piece) for src in sources for piece in pieces_of(src.text)
              if _quotable(piece)]
    if not pieces or not (wanted or meaning):
        return [], {}, frozenset()
    headings = {src.number: src.heading for src in sources}
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
    total = sum(weight.values()) or 1.0
    scored = []
    codes = _codes(wanted)
    for order, ((number, piece), own) in enumerate(zip(pieces, found)):
        if own or meaning:
            held = {**dict.fromkeys(in_heading[number], CONTEXT), **dict.fromkeys(leads[piece.lead], LEAD),
                    **dict.fromkeys(own, 1.0)} if own else {}
            coverage = sum(weight[t] * h for t, h in held.items()) / total
            other = bool(codes) and _other_code(piece.text, codes, own)
            rank = coverage * (OTHER if other else 1) + 0.01 * (1 - order / n)
            scored.append(_Scored(rank, coverage, number, piece, held, other, order))
    if meaning and scored:
        close = meaning([read_with(headings[s.number], s.piece) for s in scored])
        by_meaning, by_words = _standard(close), _standard([s.coverage for s in scored])
        scored = [dataclasses.replace(s, rank=m + TERMS * w - (1.0 if s.other else 0.0) + 0.001 * s.rank)
                  for s, m, w in zip(scored, by_meaning, by_words)]
    scored.sort(key=lambda s: -s.rank)
    specific = frozenset(t for t in wanted if t in focused or (t not in generic and df[t] <= n / 2))
    return scored, weight, specific


_LINK_ONLY = re.compile(r"\s*(?:!?\[[^\]]*\]\([^)]*\)\s*)+[.:]?\s*")


def _quotable(piece: Piece) -> bool:
    """A passage that may be evidence: not a document's orders to an assistant, not a link alone ("[Try it in
    the Playground](https://play.vuejs.org/#eNp9…)" says nothing of its own)."""
    return not instruction_like(piece.text, limit=1) and (bool(piece.code) or not _LINK_ONLY.fullmatch(piece.text))


def _heading_of(scored: _Scored, sources: list[Source]) -> str:
    """The heading a passage is under: the nearest one above it in its source's text, or its source's section's
    last part ("S3/S4 - Low and Medium Severity", "Q. Does Sourcegraph match my 401k?")."""
    if scored.piece.heading:
        return scored.piece.heading
    section = next((src.section for src in sources if src.number == scored.number), "")
    return heading_name(section.split(" › ")[-1]) if section else ""


def _under(heading: str, text: str, wanted: frozenset[str]) -> str:
    """An excerpt quoted after the heading it is under when that holds question words the excerpt lacks, as a
    list item after its lead-in: "Not at this time." alone answers nothing, "Q. Does Sourcegraph match my
    401k? — Not at this time." does."""
    missing = TextTerms(text).missing(wanted)
    if not heading or not missing or len(TextTerms(heading).missing(missing)) == len(missing):
        return text
    return f"{heading.rstrip(':')} — {text}"


def _standard(values: list[float]) -> list[float]:
    """Each value as standard scores among ``values`` (all 0 when they do not differ)."""
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / spread if spread > 1e-9 else 0.0 for v in values]


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


def _asked(question: str) -> frozenset[str]:
    """The words that only say what kind of answer is wanted ("how many", "how long")."""
    return frozenset(fold(word.lower()) for word in _ASKED.findall(question)) & question_words()


@dataclass(frozen=True)
class _Scored:
    rank: float  # coverage plus retrieval's order as a tie-break
    coverage: float
    number: int
    piece: Piece
    held: dict[str, float]  # the question's words it holds: 1 in its text, less in its lead-in or heading only
    other: bool = False  # it names another code of the kind the question asks about ("P1" for "P2")
    at: int = 0  # its place among the passages of the sources, in their order


def _around(best: _Scored, sources: list[Source], codes: dict[str, str], taken: set[str],
            fits: Callable[[Piece], bool] = lambda piece: True) -> tuple[Piece, Piece]:
    """The passages just before and after ``best`` in its source (empty pieces where there are none to
    quote): under the same heading, not table rows (another row answers for another line of the table),
    not naming another code of the kind asked about, not addressing an assistant, not quoted already, and
    ``fits`` (not lacking the best one's qualifiers: "Lisbon" beside "Tokyo"). The sentence before says what
    a passage is about ("Q. Does Sourcegraph match my 401k?"), the one after often finishes it ("Following 4
    weeks of paid leave, …")."""
    source = next(src for src in sources if src.number == best.number)
    found = pieces_of(source.text)
    at = next((i for i, p in enumerate(found) if p == best.piece), None)
    if at is None or best.piece.cells or best.piece.code:  # a code block is quoted with its lead-in only
        return Piece(""), Piece("")

    def usable(i: int) -> Piece:
        if not 0 <= i < len(found):
            return Piece("")
        piece = found[i]
        if (piece.part != best.piece.part or piece.cells or piece.text in taken or not _quotable(piece)
                or (codes and _other_code(piece.text, codes, frozenset())) or not fits(piece)):
            return Piece("")
        return piece

    return usable(at - 1), usable(at + 1)


def _fits(piece: Piece, best: _Scored, scored: list[_Scored], named: frozenset[str]) -> bool:
    """Whether ``piece`` may be quoted beside ``best``: it lacks none of the names the best one holds
    ("Lisbon" beside "Tokyo" answers for another office) nor, saying much the same, any of its question words
    ("부산" beside "대전"), and is no other item of the same list unless it
    holds question words too ("Laptop: shipped to your home." beside "Badge number: …" is another item's
    answer; "Not at this time." after the question it answers is not)."""
    mine = next((s for s in scored if s.piece == piece and s.number == best.number), None)
    if mine is None or not mine.held:
        return not piece.beside(best.piece)
    if any(t in named and t not in mine.held for t in best.held):
        return False
    lacks = any(h == 1.0 and mine.held.get(t, 0.0) < 1.0 for t, h in best.held.items())
    sibling = piece.beside(best.piece)  # another item of the same list or table
    return not (lacks and (sibling or _parallel(piece.text, best.piece.text)))


def _parallel(a: str, b: str) -> bool:
    """Two passages that say the same thing of different things ("부산 오피스 방문객은 주차가 1시간 무료입니다." and
    "대전 오피스 …"): most of their words are shared."""
    x, y = frozen_terms(a), frozen_terms(b)
    return bool(x | y) and len(x & y) >= PARALLEL * len(x | y)


def _quote_around(piece: Piece, around: tuple[Piece, Piece], wanted: frozenset[str], focused: frozenset[str]) -> str:
    """``piece`` quoted between the passages ``around`` it, as one excerpt (a list item keeps its lead-in
    once; a code block stays on lines of its own)."""
    before, after = around
    parts = [_quote(before, wanted, focused) if before.text else "", _quote(piece, wanted, focused),
             (after.text if not after.code else _quote(after, wanted, focused)) if after.text else ""]
    if before.text and before.lead and before.lead == piece.lead:
        parts[1] = piece.text if not piece.code else parts[1]
    text = ""
    for part in filter(None, parts):
        text = part if not text else f"{text}\n{part}" if "```" in part or "```" in text[-4:] else f"{text} {part}"
    return text


def _quote(piece: Piece, wanted: frozenset[str], focused: frozenset[str]) -> str:
    """The passage, after its lead-in when that holds question words the passage lacks ("Sent 5 days
    before you start: … NWL-ID …"); of a table row, only its first cell and the cells whose column or
    value the question names, when it names a column beyond the first (a follow-up's own words first)."""
    if piece.code:  # the block fenced as written, under its lead-in whatever it holds
        block = "```\n" + piece.text.replace("```", "`\u02cb`") + "\n```"  # a fence inside cannot end it
        return f"{piece.lead}\n{block}" if piece.lead else block
    text = _cells(piece, wanted, focused)
    if piece.lead and TextTerms(text).missing(wanted) - TextTerms(piece.lead).missing(wanted):
        return f"{piece.lead} {text}" if piece.lead.endswith(":") else f"{piece.lead} — {text}"
    return text


def _cells(piece: Piece, wanted: frozenset[str], focused: frozenset[str]) -> str:
    if len(piece.cells) < 3:
        return piece.text
    for words in (focused & wanted, wanted):
        named = [_names(column, words) for column, _ in piece.cells]
        if any(named[1:]):
            kept = [cell for i, (cell, by_column) in enumerate(zip(piece.cells, named))
                    if i == 0 or by_column or _names(cell[1], words)]
            return clean(join_cells(tuple(kept)))
    return piece.text


def _names(text: str, words: frozenset[str]) -> bool:
    return bool(words) and len(TextTerms(text).missing(words)) < len(words)
