"""Can the retrieved sources answer this question at all? The decision behind "I don't know".

A small logistic model (``Grader``, fitted by ``python -m evals answerability --train`` on the sample
handbook and on the development set someone else wrote) grades each question from ``Signals`` that carry
from one collection to another:

- **How close the question comes**, against the collection's own calibration (retrieval.calibration), and
  whether the vector and the keyword arm put the same document first.
- **Whether one passage says what is asked**: the closest passage's similarity less the closest chunk's.
  A page about parental leave comes close to "How many weeks does GitLab give?"; no sentence of it does.
- **Names and words the documents never use**: a name in the question no source holds (GitLab, Nuxt), and
  how much of the question's meaning rests on words in Latin letters no document of the collection has
  (much for "sabbatical" in "Do we have a sabbatical program?", little for "Lisbon" beside the hotel cap).

Confident: answered as usual. Uncertain: the closest passage is quoted under a lead-in that says so.
Out of scope: "I don't know", with no model call. Without the embedder or a calibration, the key-term
rule decides instead: close enough above the floor, and enough of the question's key terms in a source
(the further above the floor, the fewer; across languages, the similarity alone at a stricter level; a
collection indexed before calibration existed falls back to RELEVANCE_THRESHOLD).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from answering.context import Source
from answering.language import prose_language
from answering.passages import pieces, read_with
from answering.terms import question_words, terms
from core.redact import strip
from retrieval.calibration import FLOOR_SD, Calibration
from retrieval.keywords import HANGUL, morphemes
from retrieval.search import SearchHit

MIN_COVERAGE = 0.55  # the share of the question's weighted key terms one source must contain, at the floor
RELAX_PER_SD = 0.05  # ... less this much per standard deviation the question comes above the floor
LEAST_COVERAGE = 0.3  # ... but never less than this
# A term's weight is log(1 + n / (SMOOTHING + sources holding it)): one no source has weighs most, but
# not so much more than a rare one that a common word the sources put otherwise ("moved") sinks a question.
SMOOTHING = 2.0
CROSS_LANGUAGE_SD = 3.0  # sources in another language: the similarity alone must be this far above the mean
_NUMBER = re.compile(r"^[0-9.,:/-]+$")
_ID = re.compile(r"[-_./:]")
_QUESTION_WORDS = question_words()  # how much, how long, can I use ...: a source need not contain them
# Kiwi tags of the Korean morphemes that carry what a question is about: common and proper nouns,
# verb and adjective stems, roots, foreign words and Chinese characters (not adverbs, bound nouns, numerals).
_KEY_TAGS = ("NNG", "NNP", "VV", "VA", "XR", "SH")
_KOREAN_QUESTION_WORDS = frozenset("""
하 되 있 없 않 어떻 무엇 뭐 얼마 몇 어느 언제 어디 누구 왜 가능 알리 알 주 싶 보 놓 나 받 가 오 쓰 말 이
생기 필요 경우 방법 관련 정도 대하
""".split())


GRADER = Path(__file__).resolve().parent / "data" / "answerability.json"
CONFIDENT, UNCERTAIN, OUT_OF_SCOPE = "confident", "uncertain", "out_of_scope"


@dataclass(frozen=True)
class Signals:
    """What says whether the sources answer a question, in terms that carry from one collection to another
    (the share of the question's words a source holds does not: fitted on text we wrote, it refused the
    paraphrases of text we did not)."""

    z: float  # the closest source's standard deviations above its collection's probes (calibration)
    agree: bool  # the vector and the keyword arm put the same document first
    unknown_names: int  # the names the question asks about (GitLab, Nuxt, 409A) no source holds, at most 2
    closer: float  # the closest passage's similarity to the question less the closest chunk's: one sentence
    # says what is asked, rather than a page being about the same things
    unused: float  # how much of the question's meaning rests on words in Latin letters the collection never uses:
    # "sabbatical" in "Do we have a sabbatical program?" carries much, "Lisbon" in a question on the hotel cap little

    def values(self) -> list[float]:
        return [self.z, float(self.agree), float(self.unknown_names), self.closer, self.unused]


@dataclass(frozen=True)
class Grader:
    """A logistic model of P(the sources answer the question) on ``Signals``, fitted on questions of several
    corpora (``python -m evals answerability --train``), and the two probabilities that grade it: at or above
    ``confident`` the answer is given as usual, at or above ``uncertain`` the closest passage is quoted under
    an honest lead-in, below it "I don't know"."""

    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    confident: float
    uncertain: float

    def probability(self, signals: Signals) -> float:
        return self.probability_of(signals.values())

    def probability_of(self, values: list[float]) -> float:
        z = sum(w * (v - m) / s for w, v, m, s in zip(self.weights, values, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z + self.bias))))

    def grade(self, probability: float) -> str:
        return CONFIDENT if probability >= self.confident else UNCERTAIN if probability >= self.uncertain \
            else OUT_OF_SCOPE

    @classmethod
    def load(cls, path: Path = GRADER) -> Grader:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: data[k] for k in ("mean", "scale", "weights", "bias", "confident", "uncertain")})


@lru_cache(maxsize=1)
def default_grader() -> Grader | None:
    """The grader that ships (None before one was fitted: the key-term rule decides)."""
    return Grader.load() if GRADER.exists() else None


@dataclass(frozen=True)
class Answerability:
    answerable: bool
    reason: str  # "relevant", "uncertain", "no_hits", "below_floor", "key_terms", "other_language", "threshold"
    similarity: float | None = None
    floor: float | None = None
    z: float | None = None  # standard deviations above the calibration probes' mean
    coverage: float | None = None
    required: float | None = None
    missing: tuple[str, ...] = ()  # the key terms no source contains
    answering: tuple[int, ...] = ()  # the numbers of the sources that hold enough of them (or come close enough)
    across_languages: bool = False  # ... and they are all in another language than the question
    grade: str | None = None  # CONFIDENT, UNCERTAIN or OUT_OF_SCOPE, by the grader (None: decided by rule)
    probability: float | None = None  # the grader's P(answerable)
    signals: Signals | None = None

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def key_terms(question: str) -> set[str]:
    """What the question is about, as terms a source answering it should share: content words, not
    the words any question uses (how much, 어떻게 하나요), no bare numbers (a source may write a date or
    amount otherwise), IDs whole (VPN-ERR-619, not VPN and 619), and nothing of the personal data in it
    (the asker's own e-mail address or phone number says who asks, not what about)."""
    question = strip(question)
    latin = {t for t in terms(question) if not HANGUL.search(t) and not _NUMBER.match(t) and t not in _QUESTION_WORDS}
    ids = {t for t in latin if _ID.search(t) and any(c.isdigit() for c in t)}
    pieces = {p for t in ids for p in _ID.split(t)}
    korean = {m for m in morphemes(question, _KEY_TAGS) if m not in _KOREAN_QUESTION_WORDS}
    return (latin - (pieces - ids)) | korean


def coverage(wanted: set[str], have: list[set[str]], foreign: list[bool], language: str) -> list[float | None]:
    """For each source, the weighted share of ``wanted`` it contains (``have``: the terms of ``wanted`` each
    holds, see ``held``). A term in fewer sources weighs more; one in none weighs most. A source in
    another language than ``language`` (``foreign``) is measured on the terms it could share (Latin names
    and IDs in a Korean question, IDs in an English one) and those it does share; None when that leaves
    nothing to compare."""
    n = len(have)
    weight = {t: math.log(1 + n / (SMOOTHING + sum(t in h for h in have))) for t in wanted}
    shares: list[float | None] = []
    for found, other in zip(have, foreign):
        comparable = _names(wanted, language) | found if other else wanted
        shares.append(sum(weight[t] for t in found) / sum(weight[t] for t in comparable) if comparable else None)
    return shares


def held(wanted: set[str], sources: list[Source], sections: dict[int, str]) -> list[set[str]]:
    """The terms of ``wanted`` each source holds, in its text, its heading or the sections of its chunks
    (``sections``, by chunk id)."""
    return [terms(_text(src, sections)) & wanted for src in sources]


def _text(src: Source, sections: dict[int, str]) -> str:
    """A source as its words are compared: headings first ("Address and getting here" names what follows)."""
    headings = dict.fromkeys([src.heading, *(sections.get(c, "") for c in src.chunk_ids)])
    return "\n".join([*headings, src.text])


def _names(wanted: set[str], language: str) -> set[str]:
    """The terms a source in the other language may still contain: words in Latin letters in a Korean
    question, IDs (letters with digits) in an English one."""
    if language == "ko":
        return {t for t in wanted if not HANGUL.search(t)}
    return {t for t in wanted if any(c.isdigit() for c in t) and any(c.isalpha() for c in t)}


def _language(src: Source) -> str:
    return prose_language(src.text[:4000])


def assess(question: str, language: str, hits: list[SearchHit], sources: list[Source],
           calibrations: dict[str, Calibration], threshold: float, grader: Grader | None = None,
           similarity: Callable[[str, list[str]], list[float]] | None = None,
           unused: Sequence[str] = ()) -> Answerability:
    """Whether ``sources`` (built from ``hits``) can answer ``question``, asked in ``language``: by ``grader``
    (the pipeline passes ``default_grader()``) from the question's ``Signals``, else by the key-term rule.
    ``similarity``: the embedder's (question, texts) -> cosine; ``unused``: the question's words the searched
    collections never use (``Searcher.unused_words``)."""
    verdict = _by_rule(question, language, hits, sources, calibrations, threshold)
    found = signals(question, language, hits, sources, calibrations, similarity, unused)
    if grader is None or found is None:
        return verdict
    probability = grader.probability(found)
    grade = grader.grade(probability)
    reason = {CONFIDENT: "relevant", UNCERTAIN: "uncertain", OUT_OF_SCOPE: "out_of_scope"}[grade]
    return dataclasses.replace(verdict, answerable=grade != OUT_OF_SCOPE, reason=reason, grade=grade,
                               probability=probability, signals=found)


def signals(question: str, language: str, hits: list[SearchHit], sources: list[Source],
            calibrations: dict[str, Calibration], similarity: Callable[[str, list[str]], list[float]] | None,
            unused: Sequence[str] = ()) -> Signals | None:
    """The question's ``Signals`` (None when they cannot be measured: no hits, a keyword-only search, a
    collection that was never calibrated, no embedder to read the passages with)."""
    similar = {h.chunk_id: h.vector_similarity for h in hits if h.vector_similarity is not None}
    spreads = {c: cal.spread(language) for c, cal in calibrations.items() if cal.spread(language)}
    if similarity is None or not similar or not sources or any(
            h.collection not in spreads for h in hits if h.chunk_id in similar):
        return None
    zs = [max((spreads[src.collection].z(similar[c]) for c in src.chunk_ids if c in similar), default=None)
          for src in sources]
    z = max((v for v in zs if v is not None), default=None)
    if z is None:
        return None
    first = {arm: next((h.document_id for h in sorted(hits, key=lambda h: getattr(h, arm) or 10**9)
                        if getattr(h, arm) is not None), None) for arm in ("vector_rank", "keyword_rank")}
    agree = first["keyword_rank"] is not None and first["keyword_rank"] == first["vector_rank"]
    sections = {h.chunk_id: h.section for h in hits}
    text = "\n".join(_text(src, sections) for src in sources).lower()
    unknown = [name for name in names(question) if name not in text]
    read = [read_with(src.heading, piece) for src in sources for piece in pieces(src.text)]
    closest = max(similarity(question, read), default=max(similar.values()))
    return Signals(z, agree, min(2, len(unknown)), closest - max(similar.values()),
                   resting_on(question, latin(unused), similarity))


def resting_on(question: str, words: Sequence[str], similarity: Callable[[str, list[str]], list[float]]) -> float:
    """How much of ``question``'s meaning rests on ``words`` (stems, as keyword search has them): how far the
    embedder moves it when they are left out, 0 when there are none."""
    if not words:
        return 0.0
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")[\w-]*", re.IGNORECASE)
    without = " ".join(pattern.sub(" ", question).split())
    itself, rest = similarity(question, [question, without])
    return max(0.0, 1.0 - rest / itself) if itself > 0 else 0.0


def latin(words: Sequence[str]) -> list[str]:
    """The words in Latin letters that name something (not numbers, not two-letter stems)."""
    return [w for w in words if not HANGUL.search(w) and len(w) > 2 and not _NUMBER.match(w)]


# A name: a word in Latin letters with a capital after its first letter or a digit (GitLab, MacBook, 409A, v3),
# one capitalised not at the start of a sentence (Nuxt, Pinia), or any word in Latin letters in a Korean question.
_LATIN_WORD = re.compile(r"(?<![\w@/.-])[A-Za-z][\w+#-]*[A-Za-z0-9+#]|\b\d+[A-Za-z]\w*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"'(“]\s*)$")


def names(question: str) -> list[str]:
    """The names in ``question`` (lower-cased): the words a source about what it asks would have to use."""
    text = strip(question)  # the asker's own e-mail address or phone number is not what they ask about
    korean = bool(HANGUL.search(text))
    found = []
    for match in _LATIN_WORD.finditer(text):
        word = match.group()
        capital = word[0].isupper() and not _SENTENCE_START.search(text[:match.start()])
        inner = any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)
        if (korean or capital or inner) and word.lower() not in _QUESTION_WORDS and len(word) > 1:
            found.append(word.lower())
    return list(dict.fromkeys(found))


def _by_rule(question: str, language: str, hits: list[SearchHit], sources: list[Source],
             calibrations: dict[str, Calibration], threshold: float) -> Answerability:
    """The key-term rule: close enough above the floor, and enough of the question's key terms in a source."""
    if not hits or not sources:
        return Answerability(False, "no_hits")
    similar = {h.chunk_id: h.vector_similarity for h in hits if h.vector_similarity is not None}
    if not similar:  # a keyword-only search: every hit shares a word with the question
        return Answerability(True, "threshold")
    similarity = max(similar.values())
    spreads = {c: cal.spread(language) for c, cal in calibrations.items() if cal.spread(language)}
    if any(h.collection not in spreads for h in hits if h.chunk_id in similar):
        ok = similarity >= threshold  # a collection that was never calibrated: the fixed threshold
        return Answerability(ok, "threshold" if ok else "below_floor", similarity, threshold)
    # each source's standard deviations above its collection's probes (None: only the keyword arm found it)
    zs = [max((spreads[src.collection].z(similar[c]) for c in src.chunk_ids if c in similar), default=None)
          for src in sources]
    z = max((v for v in zs if v is not None), default=spreads[hits[0].collection].z(similarity))
    floor = min(spreads[h.collection].floor for h in hits if h.chunk_id in similar)
    if z < FLOOR_SD:
        return Answerability(False, "below_floor", similarity, floor, z)
    wanted = key_terms(question)
    if not wanted:  # "What about it?": nothing to compare, the similarity decides
        return Answerability(True, "relevant", similarity, floor, z)
    sections = {h.chunk_id: h.section for h in hits}
    have = held(wanted, sources, sections)
    foreign = [_language(src) not in (language, "unknown") for src in sources]
    shares = coverage(wanted, have, foreign, language)
    missing = tuple(sorted(wanted - set().union(*have)))
    passing: list[tuple[Source, bool, str, float | None, float | None]] = []  # source, foreign, reason, share, required
    best_required = None
    for src, other, share, source_z in zip(sources, foreign, shares, zs):
        if source_z is None or source_z < FLOOR_SD:
            continue
        if share is None:  # another language, nothing to compare: only a close one counts
            if source_z >= CROSS_LANGUAGE_SD:
                passing.append((src, other, "other_language", None, None))
            continue
        required = _required(source_z)
        if share >= required:
            passing.append((src, other, "relevant", share, required))
        best_required = required if best_required is None else min(best_required, required)
    if passing:
        _, _, reason, share, required = next((p for p in passing if p[2] == "relevant"), passing[0])
        return Answerability(True, reason, similarity, floor, z, share, required, missing,
                             tuple(src.number for src, *_ in passing), all(other for _, other, *_ in passing))
    best = max((v for v in shares if v is not None), default=None)
    return Answerability(False, "key_terms", similarity, floor, z, best, best_required, missing)


def answering_chunks(verdict: Answerability, sources: list[Source]) -> frozenset[int]:
    """The chunks of the sources that answer, when they are all in another language than the question."""
    if not verdict.across_languages:
        return frozenset()
    return frozenset(c for src in sources if src.number in verdict.answering for c in src.chunk_ids)


def _required(z: float) -> float:
    """The share of key terms a source must contain when it comes ``z`` standard deviations above the probes."""
    return max(LEAST_COVERAGE, MIN_COVERAGE - RELAX_PER_SD * (z - FLOOR_SD))
