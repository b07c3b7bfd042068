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
