"""Text for keyword search: Korean words are split into their content morphemes.

Korean glues particles and endings to words (휴가를, 휴가는, 신청하려면), so the
whitespace-delimited word rarely matches between a question and a document. Kiwi, a
Korean morphological analyser, turns 휴가를 into 휴가 + 를; we keep the content
morphemes (nouns, verb and adjective stems, roots, foreign words, numbers) and drop
particles and endings. Words without Hangul pass through untouched, so English, IDs
and acronyms are left to PostgreSQL's parser exactly as written.
"""

from __future__ import annotations

import re
import threading

from core.text import normalise

# Hangul syllables, jamo and compatibility jamo; also how answering tells Korean text from English.
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_WORD = re.compile(r"\S+")
# Kiwi tags kept for search: nouns, pronouns, numerals, verb/adjective stems, roots,
# adverbs, foreign words, Chinese characters, numbers.
_CONTENT_TAGS = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "MAG", "SL", "SH", "SN")

_kiwi = None
_kiwi_lock = threading.Lock()


def _analyser():
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                _kiwi = Kiwi()
    return _kiwi


def keyword_text(text: str) -> str:
    """Return ``text`` in NFKC (full-width letters and digits as plain ones, invisible controls removed) with
    each Hangul word replaced by its content morphemes."""
    text = normalise(text)
    if not HANGUL.search(text):
        return text
    kiwi = _analyser()
    tokens = kiwi.tokenize(text)
    out: list[str] = []
    i = 0
    for word in _WORD.finditer(text):
        start, end = word.span()
        if not HANGUL.search(word.group()):
            out.append(word.group())
            continue
        morphemes = []
        while i < len(tokens) and tokens[i].start < end:
            token = tokens[i]
            if token.start >= start and token.tag.startswith(_CONTENT_TAGS):
                morphemes.append(token.form)
            i += 1
        out.append(" ".join(morphemes) if morphemes else word.group())
    return " ".join(out)


def morphemes(text: str, tags: tuple[str, ...]) -> list[str]:
    """The morphemes of ``text``'s Hangul words whose Kiwi tag starts with one of ``tags`` (no fallback to
    the whole word, unlike keyword_text); words without Hangul are left out."""
    if not HANGUL.search(text):
        return []
    return [t.form for t in _analyser().tokenize(text) if t.tag.startswith(tags) and HANGUL.search(t.form)]
