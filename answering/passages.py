"""Passages: a source's text cut into the units evidence quotes.

A passage is a sentence, a list item (with the lines wrapped under it), a table row (with its column
names, when the chunk has the table's header) or a code block (its lines as written). A list item, a
table row or a code block carries its lead-in, the sentence just above it ("Limits per category:",
"To load completions in your current shell session:"), which says what it is about.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from functools import lru_cache

from retrieval.chunking import FENCE, TABLE_RULE, closes

MAX_PASSAGE_CHARS = 400
MAX_CODE_CHARS = 600  # a longer code block is cut at a line, and a line "…" says so

_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
# A sentence ends at . ! ? (or 。) followed by space and something that starts a sentence; "1.25",
# "e.g. this" and "v2.1" stay whole.
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+(?=[A-Z0-9\"'“(\[*\uac00-\ud7a3])")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
# HTML that only wraps text (Vue's docs: <div class="composition-api"> … </div>): a line of nothing else is a
# blank line, a <span> tag inside a line is dropped. <Teleport>, <template> and the like are what text is about.
_WRAPPER_LINE = re.compile(r"^(?:</?(?:div|span|p|section|details|summary|aside|center|br|hr)\b[^>]*>\s*)+$", re.I)
_WRAPPER_TAG = re.compile(r"</?span\b[^>]*>", re.I)
_HEADING_ID = re.compile(r"\s*\{#[^{}\s]*\}\s*$")
_LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)|https?://\S+")


@dataclass(frozen=True)
class Piece:
    text: str
    cells: tuple[tuple[str, str], ...] = ()  # a table row under its header: (column, value), cleaned
    lead: str = ""  # a list item's, table row's or code block's lead-in: the sentence just above it
    code: bool = False  # a code block: ``text`` is its lines as written (never cleaned), quoted fenced
    part: int = 0  # the headings above it in its text: passages of one part are under the same heading
    heading: str = ""  # the heading just above it in its text, if any ("S3/S4 - Low and Medium Severity")
    group: int = 0  # the list or table it is an item or row of (0: none); items of one list share it

    def beside(self, other: Piece) -> bool:
        """Whether the two are items of one list or rows of one table: each answers for another line of it."""
        return bool(self.group) and self.group == other.group


def read_with(heading: str, piece: Piece) -> str:
    """A passage as the embedder reads it: under its source's heading ("Title › Section"; under a heading in
    the text, "Title › that heading"), after its lead-in."""
    if piece.heading:
        heading = f"{heading.split(' › ')[0]} › {piece.heading}"
    return f"{heading}: {piece.lead} {piece.text}" if piece.lead else f"{heading}: {piece.text}"


def passages(text: str) -> list[str]:
    """``text`` cut into sentences, list items, table rows and code blocks; headings and table rules are
    dropped. A table row becomes "column: value; …" when the rows above it include the header; a code
    block keeps its lines as written."""
    return [piece.text for piece in pieces(text)]


@lru_cache(maxsize=1024)
def pieces(text: str) -> tuple[Piece, ...]:
    """``passages``, with what each is: its lead-in, its table cells, whether it is code (remembered)."""
    return _Reader().read(text)


class _Reader:
    """Reads Markdown a line at a time, keeping the paragraph, list item and lead-in being read."""

    def __init__(self) -> None:
        self.out: list[Piece] = []
        self.header: list[str] | None = None
        self.paragraph: list[str] = []
        self.item_lines: list[str] = []  # the list item being read: its first line and the lines wrapped under it
        self.last = ""  # the last sentence of the paragraph above: the lead-in of a list, table or block after it
        self.lead: str | None = None  # the lead-in of the list or table being read (None: not in one)
        self.groups = 0  # the lists and tables read so far
        self.parts: list[int] = []  # where a heading starts a new part: the number of passages above it
        self.headings: list[str] = []  # ... and that heading's text

    def flush(self) -> None:
        if self.item_lines:
            joined = clean(" ".join(self.item_lines))
            if joined:
                self.out.append(Piece(joined, lead=self.lead or "", group=self.groups))
            self.item_lines.clear()
        if self.paragraph:
            sentences = [clean(s) for s in _SENTENCE_END.split(" ".join(self.paragraph)) if s.strip()]
            self.out.extend(Piece(s) for s in sentences)
            self.last = sentences[-1] if sentences else ""
            self.paragraph.clear()

    def item(self, piece: Piece) -> None:
        self.flush()
        if self.lead is None:
            self.lead = self.last
            self.groups += 1
            if self.lead.endswith(":") and self.out and self.out[-1].text == self.lead:
                self.out.pop()  # "Limits per category:" says nothing alone; it is quoted with the item
        if piece.text:
            self.out.append(replace(piece, lead=self.lead, group=self.groups))

    def code(self, block: list[str]) -> None:
        """A code block, read with the sentence above it (or, in a list, the item above it ending in ':')."""
        after_item = bool(self.item_lines)
        self.flush()
        body = _code(block)
        if not body:
            return
        above = self.out[-1] if self.out else None
        if self.lead is None:
            intro = self.last
        else:  # in a list or table: "1. Install the CLI:" leads into the block under it
            intro = above.text if after_item and above and above.text.endswith(":") else ""
        if intro.endswith(":") and above and above.text == intro and not above.code and not above.cells:
            self.out.pop()  # "To load completions in your current shell session:" is quoted with the block
        self.out.append(Piece(body, lead=intro, code=True))
        self.last = ""

    def read(self, text: str) -> tuple[Piece, ...]:
        lines = text.splitlines()
        i, blank = 0, True  # blank: the line above is blank, or there is none
        while i < len(lines):
            line = lines[i]
            fence = FENCE.match(line)
            if fence and not (fence.group(2)[0] == "`" and "`" in fence.group(3)):  # "```x```" is inline code
                marker, indent = fence.group(2), _indent(line)
                end = next((j for j in range(i + 1, len(lines)) if closes(lines[j], marker)), len(lines))
                self.code([_dedent(inner, indent) for inner in lines[i + 1:end]])
                i, blank, self.header = end + 1, False, None
                continue
            if line.strip() and blank and self.lead is None and _indent(line) >= 4:  # an indented code block
                end = i
                while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= 4):
                    end += 1
                while not lines[end - 1].strip():
                    end -= 1
                self.code([_dedent(inner, 4) for inner in lines[i:end]])
                i, blank, self.header = end, False, None
                continue
            i += 1
            blank = self.line(line, lines[i] if i < len(lines) else "", blank)
        self.flush()
        parts = [bisect_right(self.parts, i) for i in range(len(self.out))]
        return tuple(replace(piece, part=part, heading=self.headings[part - 1] if part else "")
                     for part, piece in zip(parts, self.out))

    def line(self, line: str, following: str, blank: bool) -> bool:
        """Read one line that opens no code block (``following``: the next); whether it is blank."""
        stripped = "" if _WRAPPER_LINE.match(line.strip()) else _WRAPPER_TAG.sub("", line).strip()
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if TABLE_RULE.match(stripped):
                return False
            if TABLE_RULE.match(following.strip()):
                self.header = cells  # the row above a rule names the columns
                self.item(Piece(""))
            elif self.header and len(self.header) == len(cells):
                self.item(_row(tuple((h, c) for h, c in zip(self.header, cells) if c)))
            else:
                self.item(Piece(clean(" · ".join(c for c in cells if c))))
            return False
        self.header = None if not stripped else self.header
        if stripped.startswith("#"):
            self.flush()
            self.last, self.lead = "", None
            self.parts.append(len(self.out))
            self.headings.append(heading_name(stripped.lstrip("#")))
        elif not stripped:
            if not self.item_lines:  # a list item may go on, indented, after a blank line
                self.flush()
        elif _LIST_ITEM.match(stripped):
            self.item(Piece(""))
            self.item_lines.append(_LIST_ITEM.sub("", stripped))
        elif self.item_lines and (not blank or _indent(line) >= 2):
            self.item_lines.append(stripped)  # the item's own line, hard-wrapped (or its paragraph, indented under it)
        else:
            if self.item_lines:
                self.flush()
            if self.lead is not None:  # the list or table has ended
                self.last, self.lead = "", None
            self.paragraph.append(stripped)
        return not stripped


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _dedent(line: str, indent: int) -> str:
    """``line`` without its block's indentation (at most ``indent`` columns, a tab to the next multiple of
    4); trailing space dropped. Tabs further in are kept as written."""
    cut = width = 0
    while cut < len(line) and width < indent and line[cut] in " \t":
        width += 4 - width % 4 if line[cut] == "\t" else 1
        cut += 1
    return line[cut:].rstrip()


def _code(block: list[str]) -> str:
    """A code block's lines as written, without the blank ones around them; past MAX_CODE_CHARS, cut at a
    line and ended with a line "…"."""
    while block and not block[0].strip():
        block = block[1:]
    while block and not block[-1].strip():
        block = block[:-1]
    kept: list[str] = []
    size = 0
    for line in block:
        if size + len(line) + 2 > MAX_CODE_CHARS:  # room for the line "…"
            if not kept:
                kept.append(line[: MAX_CODE_CHARS - 3].rstrip())
            kept.append("…")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def _row(cells: tuple[tuple[str, str], ...]) -> Piece:
    cleaned = tuple((clean(h), clean(c)) for h, c in cells)
    return Piece(clean(join_cells(cleaned)), cleaned)


def join_cells(cells: tuple[tuple[str, str], ...]) -> str:
    return "; ".join(f"{column}: {value}" for column, value in cells)


def heading_name(heading: str) -> str:
    """A heading as a passage is quoted under it: without an explicit anchor ("Once Watchers {#once-watchers}")
    or emphasis marks ("**Q. What is Sequoia?**")."""
    return clean(_HEADING_ID.sub("", heading))


def clean(passage: str) -> str:
    """A passage as quoted: emphasis marks dropped, whitespace collapsed, at most MAX_PASSAGE_CHARS."""
    text = " ".join(_EMPHASIS.sub("", passage).split())
    if len(text) <= MAX_PASSAGE_CHARS:
        return text
    cut = MAX_PASSAGE_CHARS - 1
    while (link := next((m for m in _LINK.finditer(text) if m.start() < cut < m.end()), None)) is not None:
        if not link.group().startswith("["):  # never cut inside an address: before it, or without it
            if link.start():
                return text[:link.start()].rstrip() + "…"
            text = text[link.end():].lstrip()
            continue
        text = text[:link.start()] + link.group()[1:link.group().index("](")] + text[link.end():]  # its words
    return text if len(text) <= MAX_PASSAGE_CHARS else text[:cut].rstrip() + "…"
