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
# A line that opens a new turn ("Question: …", "**Q:** …"): the model has stopped answering and is writing
# a conversation of its own.
_NEW_TURN = re.compile(r"^[ \t>*_#-]*(?:q|question|질문)[ \t]*\d*[ \t]*[*_]*[ \t]*[:：]", re.IGNORECASE | re.MULTILINE)
# A fenced code block, also one opened after a list marker ("• ```", as extractive answers quote one) or closed
# before a citation ("``` [1]"); one never closed runs to the end.
CODE_BLOCK = re.compile(r"^[ \t]*(?:[-*•][ \t]+)?(```|~~~)[^\n]*\n(?P<body>.*?)"
                        r"(?:^[ \t]*\1[ \t]*(?:\[\d+(?:,\s*\d+)*\][ \t]*)?$|\Z)", re.S | re.M)
_WORD = re.compile(r"\w+")
LOOP = 6  # words: a run this long said a second time in the same answer is a loop


def tidy(text: str, max_sentences: int = MAX_SENTENCES) -> str:
    """``text`` without the prompt's markup, up to a new turn of its own, its first repeated sentence or run of
    LOOP words, and at most ``max_sentences`` sentences (a code block counts as one, and is kept whole)."""
    text = _PROMPT_MARKUP.sub("", text)
    turn = _NEW_TURN.search(text)
    text = text[:_loop_start(text[:turn.start()] if turn else text)]
    seen: set[str] = set()
    kept: list[str] = []
    count = 0
    for piece in _pieces(text):
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


def _pieces(text: str) -> list[str]:
    """``text`` as its sentences, the boundaries between them, and its code blocks whole."""
    found, start = [], 0
    for block in CODE_BLOCK.finditer(text):
        found += _BOUNDARY.split(text[start:block.start()]) + [block.group(0)]
        start = block.end()
    return found + _BOUNDARY.split(text[start:])


def _loop_start(text: str) -> int:
    """Where ``text`` (outside its code) first says again a run of LOOP words it has said, or its end."""
    blank = lambda m: " " * len(m.group(0))  # noqa: E731 (positions are kept)
    words = [(m.start(), m.group(0).lower()) for m in _WORD.finditer(CITATION.sub(blank, CODE_BLOCK.sub(blank, text)))]
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words) - LOOP + 1):
        run = tuple(w for _, w in words[i:i + LOOP])
        if run in seen:  # cut before the word that starts it, with whatever is attached to it ("[이 FAQ")
            return max(text.rfind(" ", 0, words[i][0]), text.rfind("\n", 0, words[i][0])) + 1
        seen.add(run)
    return len(text)


def is_stub(text: str, question: str = "") -> bool:
    """Nothing but a lead-in, the question said back, or nothing at all: "The answer to this question is:"."""
    body = CITATION.sub("", text).strip()
    return not body or body.endswith((":", "：")) or not (terms(body) - _LEAD_INS - terms(question))
