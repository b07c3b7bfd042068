"""Sections -> chunks no longer than a size limit, split on paragraphs first, with overlap.

A Markdown table split across chunks repeats its header row (and the rule under it) at the top of
every later chunk, so a row never reaches search or the model without the column names that say
what its cells mean. A code block split across chunks is closed at the end of one and opened again
(with its language) at the top of the next, so neither half is read as prose, nor the prose after
it as code. Those lines are the one thing that may take a chunk past its size limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InvalidInput
from retrieval.loaders import ParsedDocument

# Bump when chunking changes in a way that should re-chunk unchanged files.
CHUNKER_VERSION = 3  # 2: table headers repeated in every chunk of a table; 3: code blocks closed and reopened


@dataclass(frozen=True)
class ChunkingParams:
    size: int = 1200
    overlap: int = 150

    def __post_init__(self) -> None:
        if self.size < 100:
            raise InvalidInput("chunk size must be at least 100 characters")
        if not 0 <= self.overlap < self.size:
            raise InvalidInput("chunk overlap must be at least 0 and smaller than the chunk size")

    @property
    def fingerprint(self) -> str:
        return f"v{CHUNKER_VERSION}/size={self.size}/overlap={self.overlap}"


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    section: str
    text: str

    def context(self, title: str) -> str:
        """What is embedded and keyword-indexed: the text with its title and section."""
        head = f"{title} › {self.section}" if self.section else title
        return f"{head}\n{self.text}"


def chunk_document(doc: ParsedDocument, params: ChunkingParams) -> list[Chunk]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=params.size,
        chunk_overlap=params.overlap,
        separators=["\n\n", "\n", ". ", "。", "? ", "! ", " ", ""],
        keep_separator="end",
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    for section in doc.sections:
        start = 0
        for piece in splitter.split_text(section.text):
            if not piece.strip():
                continue
            found = section.text.find(piece, start)
            start = found if found >= 0 else start
            text = with_fences(section.text, start, with_table_header(section.text, start, piece.strip()))
            chunks.append(Chunk(len(chunks), section.heading, text))
    return chunks


# The rule under a Markdown table's header row: |---|:--:|
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def with_table_header(text: str, offset: int, piece: str) -> str:
    """``piece`` (found at ``offset`` in ``text``) with the header of the table it starts inside, if any."""
    first = piece.lstrip().split("\n", 1)[0]
    if not first.startswith("|") or TABLE_RULE.match(first):
        return piece
    lines = piece.split("\n")
    if len(lines) > 1 and TABLE_RULE.match(lines[1]):
        return piece  # it starts with its own header
    above = text[:offset].split("\n")[:-1]  # whole lines before the piece's own
    for i in range(len(above) - 1, 0, -1):
        line = above[i].strip()
        if not line.startswith("|"):
            return piece  # the table began with no header, or this is another table
        if TABLE_RULE.match(line):
            header = above[i - 1].strip()
            return f"{header}\n{line}\n{piece}" if header.startswith("|") else piece
    return piece


# A line that opens a fenced code block: its indent, ``` or ~~~ (three or more), maybe a language.
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def closes(line: str, marker: str) -> bool:
    """Whether ``line`` closes a code block opened by ``marker`` (the same character, at least as many)."""
    stripped = line.strip()
    return len(stripped) >= len(marker) and set(stripped) == {marker[0]}


def open_fence(lines: list[str], opened: tuple[str, str] | None = None) -> tuple[str, str] | None:
    """The fence still open after ``lines`` (its marker and opening line), given the one open before them."""
    for line in lines:
        if opened is not None:
            opened = None if closes(line, opened[0]) else opened
        elif (match := FENCE.match(line)) and not (match.group(2)[0] == "`" and "`" in match.group(3)):
            opened = (match.group(2), line.strip())  # "```x```" is inline code, not a block
    return opened


def with_fences(text: str, offset: int, piece: str) -> str:
    """``piece`` (found at ``offset`` in ``text``) opened with the fence of the code block it starts inside, and
    closed if it ends inside one."""
    before = open_fence(text[:offset].split("\n")[:-1] if offset else [])
    body = piece.split("\n")
    if before:
        if closes(body[0], before[0]):
            body = body[1:]  # it starts on the closing fence: nothing of the block is in it
            piece = "\n".join(body).lstrip("\n")
        else:
            piece, body = f"{before[1]}\n{piece}", [before[1], *body]
    after = open_fence(body)
    return f"{piece}\n{after[0]}" if after else piece
