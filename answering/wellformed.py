"""A generated answer's shape: loops cut, length capped as the prompt asks, stubs recognised.

Small models repeat a sentence until the token limit, or stop after a lead-in ("The answer to
this question is:"). Both are generation failures, whatever the sources say.
"""

from __future__ import annotations

import re

from answering.citations import CITATION
from answering.terms import terms

MAX_SENTENCES = 5  # the answer prompt asks for at most five sentences
_BOUNDARY = re.compile(r"((?<=[.!?。])[ \t]+|\n+)")  # kept, so lines and lists keep their shape
_LEAD_INS = frozenset({"answer", "question", "following", "based", "source", "답변", "질문", "다음"})


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences and lines, without the boundaries."""
    return [piece.strip() for piece in _BOUNDARY.split(text)[::2] if piece.strip()]


# The prompt's own markup and chat-template tokens a small model echoes ("</sources>", "<|im_end|>"): never shown.
_PROMPT_MARKUP = re.compile(r"<\s*/?\s*sources\s*>|<\|[^|<>\n]{1,40}\|>", re.IGNORECASE)


def tidy(text: str, max_sentences: int = MAX_SENTENCES) -> str:
    """``text`` without the prompt's markup, up to its first repeated sentence and at most ``max_sentences``
    sentences."""
    text = _PROMPT_MARKUP.sub("", text)
    seen: set[str] = set()
    kept: list[str] = []
    count = 0
    for piece in _BOUNDARY.split(text):
        key = " ".join(CITATION.sub("", piece).lower().split()).strip(" .!?。")
        if not key:
            kept.append(piece)  # a boundary, or a citation on its own
            continue
        if key in seen or count == max_sentences:
            break
        seen.add(key)
        kept.append(piece)
        count += 1
    return "".join(kept).strip()


def is_stub(text: str, question: str = "") -> bool:
    """Nothing but a lead-in, the question said back, or nothing at all: "The answer to this question is:"."""
    body = CITATION.sub("", text).strip()
    return not body or body.endswith((":", "：")) or not (terms(body) - _LEAD_INS - terms(question))
