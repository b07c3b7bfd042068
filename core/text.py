"""Text from outside (a Slack message, a document, a model's output): cleaned once where it enters,
folded for every check that reads it.

    clean(text)       what is stored and shown: the text as written, minus what no reader sees and an
                      attacker uses to split a word (zero-width and bidi controls, other format
                      characters, Hangul fillers, C0 controls but newline and tab); newlines as "\\n"
    normalise(text)   clean + Unicode NFKC: full-width letters and digits (０１０, ｐａｓｓｗｏｒｄ),
                      ligatures and compatibility forms become the plain characters they stand for
    fold(text)        normalise + letters that look like Latin ones (Cyrillic о, е, Greek ο, …, from
                      Unicode's confusables table) folded to them + case folded: what phrase checks,
                      host checks and keyword search compare
    fold_chars(text)  fold, character by character and of the same length as ``text``, so that a match
                      found in it is at the same place in the original (redaction, link rewriting)

A check that reads raw text is a check one zero-width space gets past: read ``fold(text)`` instead.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib import resources

# Zero-width and joiner characters, bidi embeddings/overrides/isolates and marks, the invisible
# separators, the BOM, soft hyphen, Mongolian vowel separator, tag characters, Hangul fillers.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0e\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Emoji keep their zero-width joiner (👩‍💻) and variation selector 16 (❤️): a joiner between two
# pictographs is put back after the cut.
_EMOJI_JOIN = re.compile("([\u2600-\u27bf\U0001f000-\U0001faff])\u200d(?=[\u2600-\u27bf\U0001f000-\U0001faff])")
_SCRIPTS_KEPT = ("HANGUL", "CJK", "HIRAGANA", "KATAKANA")


def clean(text: str) -> str:
    """``text`` as written, minus invisible and control characters; CR and CRLF become LF."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _EMOJI_JOIN.sub("\\1\x01", _CONTROL.sub("", text))  # \x01 (never left in text) marks a joiner kept
    return _INVISIBLE.sub("", text).replace("\x01", "\u200d")


def normalise(text: str) -> str:
    """``clean(text)`` in Unicode NFKC: full-width and compatibility forms become plain characters."""
    return unicodedata.normalize("NFKC", clean(text))


def fold(text: str) -> str:
    """What checks compare: ``normalise(text)`` with Latin look-alikes folded and case folded."""
    return "".join(_fold_char(c) for c in normalise(text))


def fold_chars(text: str) -> str:
    """``fold`` one character at a time, keeping the length: a character whose fold is not one character
    (a ligature, an invisible one) stays as it is."""
    out = []
    for c in text:
        f = _fold_char(unicodedata.normalize("NFKC", c)) if c.isprintable() or c in "\n\t" else c
        out.append(f if len(f) == 1 else c)
    return "".join(out)


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    if len(c) != 1:
        return "".join(_fold_char(x) for x in c)
    if c.isascii():
        return c.lower()
    return _confusables().get(c, c).casefold()


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Unicode's confusables (via confusable-homoglyphs): each non-ASCII letter that looks like one ASCII
    letter or digit, to that one; Hangul and CJK are left alone."""
    table = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    found: dict[str, str] = {}
    for char, entries in table.items():
        if len(char) != 1 or char.isascii() or unicodedata.name(char, "").startswith(_SCRIPTS_KEPT):
            continue
        for entry in entries:
            if len(entry["c"]) == 1 and entry["c"].isascii() and entry["c"].isalnum():
                found[char] = entry["c"]
                break
    return found
