"""Sections -> chunks no longer than a size limit, split on paragraphs first, with overlap."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidInput
from retrieval.loaders import ParsedDocument

# Bump when chunking changes in a way that should re-chunk unchanged files.
CHUNKER_VERSION = 1


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
        for piece in splitter.split_text(section.text):
            if piece.strip():
                chunks.append(Chunk(len(chunks), section.heading, piece.strip()))
    return chunks
