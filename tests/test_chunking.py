"""A table split across chunks keeps its header in every chunk; a code block is closed and opened again."""

from __future__ import annotations

from retrieval.chunking import ChunkingParams, chunk_document
from retrieval.loaders import ParsedDocument, Section

HEADER = "| Level | Scope | Bonus |\n|---|---|---|"


def _chunks(text: str) -> list[str]:
    doc = ParsedDocument(title="Levels", kind="md", sections=[Section(heading="SRE", text=text)])
    return [c.text for c in chunk_document(doc, ChunkingParams(size=600, overlap=100))]


def test_every_chunk_of_a_split_table_starts_with_its_header():
    rows = "\n".join(f"| L{i} | managing {i}-{i + 1} SREs in team {i} with on-call duty | {i * 1000} EUR |"
                     for i in range(1, 30))
    chunks = _chunks(f"Career levels.\n\n{HEADER}\n{rows}\n\nAfter the table, a paragraph.")
    with_rows = [c for c in chunks if "| L" in c]
    assert len(with_rows) >= 3
    assert all(c.startswith(HEADER + "\n| L") for c in with_rows)
    assert all(c.count("| Level |") == 1 for c in with_rows)
    assert "| L29 |" in with_rows[-1] and chunks[-1] == "After the table, a paragraph."


def test_a_table_without_a_header_and_text_after_a_table_get_none():
    rows = "\n".join(f"| L{i} | managing {i}-{i + 1} SREs in team {i} with on-call duty | {i * 1000} EUR |"
                     for i in range(1, 30))
    assert not any("---" in c for c in _chunks(rows))
    text = f"{HEADER}\n| L1 | one | 1 |\n\n" + "A long paragraph about bonuses. " * 40
    assert [c for c in _chunks(text) if "| Level |" in c] == [f"{HEADER}\n| L1 | one | 1 |"]


def test_a_code_block_split_across_chunks_is_closed_and_opened_again_with_its_language():
    code = "\n".join(f"const option{i} = configure({i}, 'value number {i}')" for i in range(40))
    chunks = _chunks(f"Configure it like this:\n\n```js\n{code}\n```\n\nAfter the block, prose again.")
    with_code = [c for c in chunks if "configure(" in c]
    assert len(with_code) >= 3
    for chunk in with_code:  # every piece of the block is a whole block of its own
        lines = chunk.split("\n")
        opening = next(i for i, line in enumerate(lines) if line.startswith("```"))
        assert lines[opening] == "```js" and lines[-1] == "```"
        assert all("configure(" in line for line in lines[opening + 1:-1])
    assert chunks[-1] == "After the block, prose again."  # not read as code
