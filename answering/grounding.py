"""Groundedness: does a generated answer state only what its sources (or the question) say?

The facts a small model most often invents are checked one by one: numbers and amounts (thousands
separators, currency symbols and Korean units such as 만 and 원 normalised, so "₩200,000", "20만 원"
and "200000 won" are one value; a number that counts something, "3 days", must occur counting the
same thing, "3일"), dates, IDs and codes, e-mail addresses, URLs, and capitalised
names. Each must occur in the sources or the question. Code is copied, not written: each line of a code
block, and each code span, must occur whole in the sources. A sentence most of whose content words occur
in neither is flagged too. Citation markers ([1]) and list numbering are not claims.

Kiwi reads the sources only for a sentence whose verdict depends on their Korean words
(``TextTerms``): an English answer over Korean sources is usually judged without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from answering.citations import CITATION
from answering.terms import TextTerms, terms
from answering.wellformed import CODE_BLOCK, sentences

_LIST_NUMBER = re.compile(r"^\s*\d+[.)]\s+", re.M)
_URL = re.compile(r"https?://[^\s<>()\[\]|\"']+", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_KO_DATE = re.compile(r"(?:(\d{4})\s*년\s*)?(\d{1,2})\s*월\s*(\d{1,2})\s*일")
_MONTHS = {m: i for i, m in enumerate(("january february march april may june july august september october "
                                       "november december").split(), 1)}
_EN_DATE = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?\b", re.I)
_CODE = re.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b"
                   r"|\b[A-Z]{2,}\d+[A-Z0-9]*\b")
# A number with optional thousands separators and decimals, and an optional Korean unit after it.
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(만|천|억)?")
_UNITS = {"천": 1_000, "만": 10_000, "억": 100_000_000}
# What a number counts, in one vocabulary for both languages: "3 paid vacation days" and "3일" are
# both (3, "day"); "3 to 6 months" gives 3 the unit "month".
_MEASURES = {
    "day": "day", "days": "day", "일": "day", "영업일": "day", "근무일": "day",
    "week": "week", "weeks": "week", "주": "week", "주일": "week",
    "month": "month", "months": "month", "개월": "month", "달": "month",
    "year": "year", "years": "year", "년": "year",
    "hour": "hour", "hours": "hour", "시간": "hour", "minute": "minute", "minutes": "minute", "분": "minute",
    "percent": "%", "%": "%", "퍼센트": "%", "won": "won", "원": "won", "krw": "won", "₩": "won",
    "euro": "eur", "euros": "eur", "eur": "eur", "€": "eur", "dollar": "usd", "dollars": "usd", "usd": "usd",
    "$": "usd", "people": "person", "persons": "person", "employees": "person", "명": "person",
}
_KO_MEASURE = re.compile(r"\s*(영업일|근무일|개월|주일|시간|퍼센트|일|주|년|분|원|달|명)")
_WORD = re.compile(r"[A-Za-z]+|%|€|₩|\$")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)+)\b", re.M)
# What documentation answers are made of, each compared as written: code spans (`v-model.lazy`), versions
# (1.0.2, v3.5.0: not the number 1.0), command-line options (--force, -n) and one-word names with a capital
# inside (MySQL, PostgreSQL, defineModel, MicroK8s). A wrong one changes the answer as much as a wrong number.
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_CODE_WORD = re.compile(r"[A-Za-z0-9]")
_VERSION = re.compile(r"(?<![\w.])v?\d+(?:\.\d+){2,}(?![\w.]*\d)")
_OPTION = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*|(?<=\s)-[A-Za-z]\b(?!-)")
_INNER_CAPITAL = re.compile(  # GitLab, defineModel (not the Korean particle after it: defineModel이라는)
    r"(?<![\w-])(?=[A-Za-z0-9_]*[a-z])[A-Za-z][A-Za-z0-9_]*?[a-z0-9][A-Z][A-Za-z0-9_]*(?![A-Za-z0-9_])")
_NAME_STOP = frozenset("I The This That These Those It If In On At For To Of And Or But A An Yes No".split())


@dataclass
class Grounding:
    supported: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # claims found in neither the sources nor the question
    unsupported_sentences: list[str] = field(default_factory=list)  # mostly words the sources do not have
    withheld: str | None = None  # why the answer must not be sent at all (answering.guard)

    @property
    def grounded(self) -> bool:
        return not self.unsupported

    def as_dict(self) -> dict:
        return {"grounded": self.grounded, "supported": self.supported, "unsupported": self.unsupported,
                "unsupported_sentences": self.unsupported_sentences, "withheld": self.withheld}


def numbers(text: str) -> set[float]:
    """Every number in ``text`` as a value: separators dropped, Korean units multiplied out."""
    values = set()
    for whole, decimals, unit in _NUMBER.findall(text):
        value = float(whole.replace(",", "") + (decimals or ""))
        values.add(value * _UNITS[unit] if unit else value)
    return values


def stated_numbers(answer: str) -> set[float]:
    """The numbers an answer states, citation markers and list numbering left out."""
    return numbers(_LIST_NUMBER.sub("", CITATION.sub(" ", answer)))


def measured(text: str) -> set[tuple[float, str | None]]:
    """Every number in ``text`` with what it counts (a day, a month, won, …) when a unit follows it:
    directly in Korean ("3일", "20만 원"), within three words in English ("3 paid vacation days")."""
    found = set()
    for match in _NUMBER.finditer(text):
        value = next(iter(numbers(match.group(0))))
        found.add((value, _measure(text, match.end(), match.start())))
    return found


def _measure(text: str, end: int, start: int) -> str | None:
    korean = _KO_MEASURE.match(text, end)
    if korean:
        return _MEASURES[korean.group(1)]
    before = text[max(0, start - 4):start].strip(" *_`")[-1:]  # "€600", "€ 600", "**€600**"
    if before in ("€", "$", "₩"):
        return _MEASURES[before]
    after = re.sub(r"^[\d\s.,~–-]*(?:to\s+)?[\d.,]*", "", text[end:end + 40])
    for word in _WORD.findall(re.split(r"[;:|,()\n]", after, maxsplit=1)[0])[:3]:  # within its phrase
        if word.lower() in ("a", "an", "per", "each", "every"):
            break  # "1,700,000 a year": a rate, not what the number counts
        if word.lower() in _MEASURES:
            return _MEASURES[word.lower()]
    return None


def dates(text: str) -> set[date]:
    found = set()
    for y, m, d in _ISO_DATE.findall(text):
        found.add(_date(int(y), int(m), int(d)))
    for y, m, d in _KO_DATE.findall(text):
        found.add(_date(int(y) if y else 1, int(m), int(d)))
    for month, d, y in _EN_DATE.findall(text):
        found.add(_date(int(y) if y else 1, _MONTHS[month.lower()], int(d)))
    return found - {None}


def _date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _same_day(day: date, known: set[date]) -> bool:
    """A date without a year (stored as year 1) matches that day in any year, and the other way round."""
    return any(day == k or ((day.year == 1 or k.year == 1) and (day.month, day.day) == (k.month, k.day))
               for k in known)


def urls(text: str) -> set[str]:
    """Every http(s) URL in ``text``, normalised (``normal_url``)."""
    return {normal_url(u) for u in _URL.findall(text)}


def normal_url(url: str) -> str:
    """A URL as compared: trailing punctuation and slash dropped, lower case."""
    return url.rstrip(".,;:!?").rstrip("/").lower()


def code_lines(answer: str) -> list[str]:
    """The lines of the code blocks in ``answer``, spaces collapsed; lines of punctuation alone ("});") left out."""
    return list(dict.fromkeys(
        " ".join(line.split()) for block in CODE_BLOCK.finditer(answer) for line in block.group("body").splitlines()
        if len(_CODE_WORD.findall(line)) >= 2))


def _quoted(code: str, text: str) -> bool:
    """``code`` occurs in ``text`` whole: "--all" is not in "--all-namespaces"."""
    return re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text) is not None


# How often: the period a figure is given per ("1.25 days per month", "분기별 1인당 70,000원", "$300 a night").
_PERIODS = {
    "day": "day", "daily": "day", "하루": "day", "매일": "day", "일당": "day",
    "week": "week", "weekly": "week", "매주": "week", "주당": "week", "일주일": "week",
    "month": "month", "monthly": "month", "매달": "month", "매월": "month", "달마다": "month", "월마다": "month",
    "한 달": "month", "quarter": "quarter", "quarterly": "quarter", "분기": "quarter",
    "year": "year", "yearly": "year", "annually": "year", "annual": "year", "매년": "year", "연간": "year",
    "해마다": "year", "한 해": "year", "night": "night", "nightly": "night", "박당": "night",
}
_EN_PERIOD = r"(day|week|month|quarter|year|night)"
_ASKED_PERIOD = re.compile(rf"\b(?:per|a|an|each|every)\s+{_EN_PERIOD}\b|\b(daily|weekly|monthly|quarterly|yearly|"
                           r"annually|nightly)\b|(하루|매일|일당|매주|주당|일주일|매달|매월|달마다|월마다|한\s?달|분기|"
                           r"매년|연간|해마다|한\s?해|박당)", re.I)
_RATE_AFTER = re.compile(rf"(?:(?!\.\s)[^;:|\n]){{0,40}}?(?:\b(?:per|a|an|each|every)\s+|/)(?:full\s+)?{_EN_PERIOD}s?\b"
                         r"|\s*(?:\S+\s+){0,2}?(daily|weekly|monthly|quarterly|yearly|annually|nightly)\b", re.I)
_RATE_BEFORE = re.compile(r"(하루|매일|일당|매주|주당|일주일|매달|매월|달마다|월마다|한\s?달|분기\S*|매년|연간|"
                          r"해마다|한\s?해|박당)[^.,;:\n]{0,12}$")


def asked_period(question: str) -> str | None:
    """The period a question asks a figure per ("per month", "nightly", "한 달에"), if it asks for one."""
    match = _ASKED_PERIOD.search(question)
    return _period(next(g for g in match.groups() if g)) if match else None


def rates(text: str) -> set[tuple[float, str]]:
    """Every number in ``text`` given per a period, with the period: "1.25 days for every full month" is
    (1.25, "month"), "분기별 1인당 70,000원" is (70000.0, "quarter"); "7.5 days" is none."""
    found = set()
    for match in _NUMBER.finditer(text):
        after = _RATE_AFTER.match(text, match.end())
        before = _RATE_BEFORE.search(text[max(0, match.start() - 24):match.start()])
        said = next((g for g in after.groups() if g), None) if after else before.group(1) if before else None
        if said:
            found.add((next(iter(numbers(match.group(0)))), _period(said)))
    return found


def _period(word: str) -> str:
    word = " ".join(word.lower().split())
    return _PERIODS.get(word) or _PERIODS.get(word.rstrip("s")) or ("quarter" if word.startswith("분기") else word)


def check_grounding(answer: str, sources_text: str, question: str = "") -> Grounding:
    """Which facts ``answer`` states that occur in ``sources_text`` or ``question``, and which do not."""
    given = CITATION.sub(" ", f"{sources_text}\n{question}")  # a source's number ([1]) is no fact
    text = _LIST_NUMBER.sub("", CITATION.sub(" ", answer))
    result = Grounding()

    def judge(claim: str, ok: bool) -> None:
        if claim not in result.supported and claim not in result.unsupported:
            (result.supported if ok else result.unsupported).append(claim)

    lowered = given.lower()
    flat = " ".join(lowered.split())
    for line in code_lines(text):  # code is copied, not written: each line as the sources have it
        judge(f"`{line}`", _quoted(line.lower(), flat))
    text = CODE_BLOCK.sub(" ", text)
    known_urls = urls(given)
    for url in dict.fromkeys(_URL.findall(text)):
        judge(url.rstrip(".,;:!?"), normal_url(url) in known_urls)
    text = _URL.sub(" ", text)
    for email in dict.fromkeys(_EMAIL.findall(text)):
        judge(email, email.lower() in lowered)
    text = _EMAIL.sub(" ", text)
    known_dates = dates(given)
    for match in [*_ISO_DATE.finditer(text), *_KO_DATE.finditer(text), *_EN_DATE.finditer(text)]:
        day = next(iter(dates(match.group(0))), None)
        if day is not None:
            judge(match.group(0), _same_day(day, known_dates))
    text = _EN_DATE.sub(" ", _KO_DATE.sub(" ", _ISO_DATE.sub(" ", text)))
    for span in dict.fromkeys(_CODE_SPAN.findall(text)):
        judge(f"`{span}`", _quoted(" ".join(span.split()).lower(), flat))
    text = _CODE_SPAN.sub(" ", text)
    for kind in (_VERSION, _OPTION, _INNER_CAPITAL):
        for token in dict.fromkeys(kind.findall(text)):
            judge(token, token.lower() in lowered)
        text = kind.sub(" ", text)
    for code in dict.fromkeys(_CODE.findall(text)):
        judge(code, code.lower() in lowered)
    text = _CODE.sub(" ", text)
    known = measured(_VERSION.sub(" ", given))  # the sources' 1.0.2 is a version, not the number 1.0
    for match in _NUMBER.finditer(text):
        value = next(iter(numbers(match.group(0))))
        unit = _measure(text, match.end(), match.start())
        ok = (value, unit) in known if unit else any(v == value for v, _ in known)
        judge(match.group(0).strip(), ok)
    for name in dict.fromkeys(_NAME.findall(text)):
        words = [w for w in name.split() if w not in _NAME_STOP]
        if len(words) >= 2:
            judge(" ".join(words), " ".join(words).lower() in lowered)
    known = TextTerms(given)
    for sentence in sentences(CODE_BLOCK.sub("\n", answer)):  # code lines: checked above
        words = {w for w in terms(CITATION.sub(" ", sentence)) if not w[0].isdigit()}  # numbers: checked above
        # words - known.plain bounds the missing words: when that is half or fewer, no need to ask Kiwi
        if len(words) >= 3 and len(words - known.plain) > len(words) / 2 and len(known.missing(words)) > len(words) / 2:
            result.unsupported_sentences.append(sentence)
    return result
