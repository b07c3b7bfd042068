"""Terms: the words of a text as the checks compare them (evidence, answerability, groundedness).

English words are lower-cased with plurals and common endings folded ("volunteering", "volunteers"
and "volunteer" meet), Korean words are reduced to their content morphemes by Kiwi (the same
analysis keyword search uses), IDs are kept whole and in parts, stop words are dropped.

Kiwi is the cost (about 13 µs of CPU per Hangul character), so the terms of short texts are
remembered (the same chunks come back answer after answer), and ``TextTerms`` asks Kiwi only when
the terms it could add can change the result: an English question's words are found in a Korean
passage's Latin words and numbers without it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from retrieval.keywords import HANGUL, keyword_text

_TOKEN = re.compile(r"[0-9a-z\uac00-\ud7a3]+(?:[-_./:][0-9a-z\uac00-\ud7a3]+)*")
_STOP = frozenset("""
a about after all also an and any are as at be been before being but by can could did do does doing
for from get gets got had has have how i if in into is it its me more most my no not of on or our per
should so some than that the their them then there these they this those to up us was we were what
when where which while who whom why will with would you your yours s t d ll m re ve
하 되 있 없 않 어떻 어떻게 무엇 뭐 뭔가 어디 언제 왜 얼마 몇 것 수 등 나 저 제 우리 때 좀 더
""".split())
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
_LATIN_RUN = re.compile(r"[0-9A-Za-z]+(?:[-_./:][0-9A-Za-z]+)*")
_REMEMBERED_CHARS = 2000  # the terms of texts up to this long (passages, questions, sentences) are cached


def terms(text: str) -> set[str]:
    """The content words of ``text``, normalised so a question and a document can be compared."""
    return set(frozen_terms(text))


def frozen_terms(text: str) -> frozenset[str]:
    """``terms(text)``, frozen (and remembered for short texts): what the checks compare."""
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
    """Forget the remembered terms (to measure the checks on texts never seen before)."""
    _remembered_terms.cache_clear()


def _words(keywords: str) -> frozenset[str]:
    found: set[str] = set()
    for token in set(_TOKEN.findall(keywords.lower())):
        pieces = (token, *_SEPARATOR.split(token)) if _SEPARATOR.search(token) else (token,)
        for piece in pieces:
            if piece and piece not in _STOP:
                found.add(fold(piece))
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
                self._all = frozen_terms(self.text)
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


def fold(word: str) -> str:
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


@lru_cache(maxsize=1)
def question_words() -> frozenset[str]:
    """The terms of the words any question may use (``QUESTION_WORDS_TEXT``), as ``terms`` folds them."""
    return _words(QUESTION_WORDS_TEXT)
