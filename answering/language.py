"""Which language a text is in, for the two our users write: Korean and English."""

from __future__ import annotations

import re

from retrieval.keywords import HANGUL

_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> str:
    """``"ko"``, ``"en"`` or ``"unknown"`` (no letters), by the share of Hangul among letters.

    Korean text often carries English names, IDs and acronyms (VPN-ERR-619, HR), so a
    text counts as Korean once a fifth of its letters are Hangul.
    """
    hangul = len(HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    if hangul + latin == 0:
        return "unknown"
    return "ko" if hangul / (hangul + latin) >= 0.2 else "en"


_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`", re.S)


def prose_language(text: str) -> str:
    """``detect_language`` of what a page says in words, its code left out: a Korean page of examples in
    JavaScript is Korean."""
    return detect_language(_CODE.sub(" ", text))


_NAME = re.compile(r"\b[A-Z][A-Za-z]*\b")
_NOT_PROSE = re.compile(r"\[[\d,\s]+\]|https?://\S+|\b[\w.+-]+@[\w.-]+\b|\b[A-Za-z]*\d[\w-]*\b|\b[A-Z]{2,}\b")


def written_in(text: str, language: str) -> bool:
    """Is ``text`` itself in ``language``, not just partly in its script?

    Code (blocks and spans), citations, URLs, e-mail addresses, IDs and acronyms (VPN-ERR-619, HR) are left
    out, and for Korean capitalised names (Kestrel, Berlin) too; then Korean text must be mostly Hangul, and
    so must its first line (no untranslated English lead-in), and English text must have no Hangul to speak
    of. Text with no words left (only code) is in no language.
    """
    prose = _NOT_PROSE.sub(" ", _CODE.sub(" ", text))
    if language == "ko":
        prose = _NAME.sub(" ", prose)
    first = next((line for line in prose.splitlines() if line.strip()), "")
    if language == "ko":
        return _hangul_share(prose) > 0.5 and _hangul_share(first) > 0.5
    return _hangul_share(prose) <= 0.05 and detect_language(first) in ("en", "unknown")


def _hangul_share(text: str) -> float:
    hangul = len(HANGUL.findall(text))
    letters = hangul + len(_LATIN.findall(text))
    return hangul / letters if letters else 0.0
