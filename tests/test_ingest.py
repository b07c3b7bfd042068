"""Ingestion against the real PostgreSQL: formats, incremental runs, deletion, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer
from retrieval.search import RetrievalParams, Searcher
from tests.pdf import make_pdf

KEYWORD = RetrievalParams(mode="keyword", k=5)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@pytest.fixture
def indexer(engine, fake_embedder):
    return Indexer(engine, fake_embedder, ChunkingParams(size=400, overlap=40), max_file_bytes=50_000)


@pytest.fixture
def searcher(engine, fake_embedder):
    return Searcher(engine, fake_embedder)


def chunks_of(engine, source: Path) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT d.title, d.url, d.kind, c.section, c.text FROM chunks c JOIN documents d "
                 "ON d.id = c.document_id WHERE d.source = :s ORDER BY c.ordinal"),
            {"s": str(source.resolve())},
        ).mappings().all()
    return [dict(r) for r in rows]


def test_each_format_is_indexed_with_title_and_section(tmp_path, engine, indexer, searcher):
    md = write(tmp_path / "kb" / "leave.md",
               "---\nurl: https://wiki.example/leave\n---\n# Leave policy\n\nIntro.\n\n## Annual leave\n\n"
               "Staff get 15 days of annual leave, policy POL-HR-001.\n")
    txt = write(tmp_path / "kb" / "parking_rules.txt", "Parking permits are issued by facilities.\n")
    html = write(tmp_path / "kb" / "wifi.html",
                 "<html><head><title>Office Wi-Fi</title></head><body><nav>menu</nav><h1>Office Wi-Fi</h1>"
                 "<h2>Guests</h2><p>Guests join the network lighthouse-guest.</p><script>evil()</script></body></html>")
    pdf = write(tmp_path / "kb" / "handbook.pdf", make_pdf(["Fire drills happen every quarter.", "Exit route B."],
                                                           title="Safety handbook"))
    report = indexer.index_paths([tmp_path / "kb"], "docs")
    assert report.counts() == {"added": 4, "updated": 0, "unchanged": 0, "removed": 0, "failed": 0}

    assert chunks_of(engine, md)[-1] == {
        "title": "Leave policy", "url": "https://wiki.example/leave", "kind": "markdown",
        "section": "Annual leave", "text": "Staff get 15 days of annual leave, policy POL-HR-001.",
    }
    assert chunks_of(engine, txt)[0]["title"] == "parking rules"
    wifi = chunks_of(engine, html)
    assert wifi[0]["title"] == "Office Wi-Fi" and wifi[-1]["section"] == "Guests"
    assert not any("evil" in c["text"] or "menu" in c["text"] for c in wifi)
    assert [(c["title"], c["section"]) for c in chunks_of(engine, pdf)] == [
        ("Safety handbook", "page 1"), ("Safety handbook", "page 2")]

    hit = searcher.search("POL-HR-001", KEYWORD)[0]
    assert (hit.title, hit.section, hit.source, hit.url) == ("Leave policy", "Annual leave", str(md.resolve()),
                                                            "https://wiki.example/leave")


def test_long_sections_are_split_with_overlap_within_the_size_limit(tmp_path, engine, indexer):
    sentences = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(60))
    doc = write(tmp_path / "long.md", f"# Long\n\n## Part\n\n{sentences}\n")
    indexer.index_paths([doc], "docs")
    chunks = chunks_of(engine, doc)
    assert len(chunks) > 3
    assert all(len(c["text"]) <= 400 and c["section"] == "Part" for c in chunks)
    first_words = chunks[1]["text"].split()[:3]
    assert " ".join(first_words) in chunks[0]["text"]  # consecutive chunks overlap


def test_rerun_skips_unchanged_updates_changed_and_removes_deleted(tmp_path, engine, indexer, fake_embedder):
    a = write(tmp_path / "kb" / "a.md", "# A\n\nalpha original\n")
    b = write(tmp_path / "kb" / "b.md", "# B\n\nbravo\n")
    c = write(tmp_path / "kb" / "sub" / "c.txt", "charlie\n")
    first = indexer.index_paths([tmp_path / "kb"], "docs")
    assert len(first.added) == 3

    calls = fake_embedder.calls
    again = indexer.index_paths([tmp_path / "kb"], "docs")
    assert again.counts() == {"added": 0, "updated": 0, "unchanged": 3, "removed": 0, "failed": 0}
    assert fake_embedder.calls == calls  # nothing was re-embedded

    write(a, "# A\n\nalpha rewritten\n")
    c.unlink()
    report = indexer.index_paths([tmp_path / "kb"], "docs")
    assert report.updated == [str(a.resolve())]
    assert report.removed == [str(c.resolve())]
    assert report.unchanged == [str(b.resolve())]
    assert [x["text"] for x in chunks_of(engine, a)] == ["alpha rewritten"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar() == 2
        # BM25 statistics follow the rows exactly
        stats = conn.execute(text("SELECT chunks, total_length FROM collection_stats")).one()
        actual = conn.execute(text("SELECT count(*), sum(length) FROM chunks")).one()
        assert tuple(stats) == tuple(actual)
        df = dict(conn.execute(text("SELECT lexeme, df FROM lexeme_stats WHERE df > 0")).all())
        assert df.get("origin") is None and df["rewritten"] == 1


def test_indexing_one_folder_never_removes_documents_from_another(tmp_path, indexer):
    write(tmp_path / "one" / "a.md", "# A\n\nalpha\n")
    write(tmp_path / "two" / "b.md", "# B\n\nbravo\n")
    indexer.index_paths([tmp_path / "one"], "docs")
    report = indexer.index_paths([tmp_path / "two"], "docs")
    assert report.removed == [] and len(report.added) == 1


BAD_FILES = {
    "binary.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "binary"),
    "latin1.md": ("# Caf\xe9\n\nna\xefve".encode("latin-1"), "not valid UTF-8"),
    "empty.md": (b"   \n\n", "empty"),
    "locked.pdf": (make_pdf(["secret salaries"], password="pw"), "encrypted PDF"),
    "broken.pdf": (b"%PDF-1.4\n1 0 obj << /Type /Catalog", "malformed PDF"),
    "huge.txt": (b"word " * 20_000, "too large"),
    "photo.png": (b"\x89PNG", None),  # not a supported type inside a folder: ignored, not failed
}


def test_bad_files_are_reported_and_skipped_without_losing_anything(tmp_path, engine, indexer, searcher):
    good = write(tmp_path / "kb" / "good.md", "# Good\n\nThe zeppelin hangar opens at nine.\n")
    for name, (data, _) in BAD_FILES.items():
        write(tmp_path / "kb" / name, data)
    report = indexer.index_paths([tmp_path / "kb"], "docs")
    reasons = {Path(source).name: reason for source, reason in report.failed}
    for name, (_, expected) in BAD_FILES.items():
        if expected is None:
            assert name not in reasons
        else:
            assert expected in reasons[name], (name, reasons.get(name))
    assert report.added == [str(good.resolve())]
    assert searcher.search("zeppelin hangar", KEYWORD)[0].title == "Good"


def test_a_file_that_turns_bad_keeps_its_indexed_version(tmp_path, engine, indexer, searcher):
    doc = write(tmp_path / "kb" / "policy.md", "# Policy\n\nThe quokka rule applies.\n")
    indexer.index_paths([tmp_path / "kb"], "docs")
    write(doc, b"\x7fELF\x02\x01\x01\x00\x00 not text any more")
    report = indexer.index_paths([tmp_path / "kb"], "docs")
    assert [Path(s).name for s, _ in report.failed] == ["policy.md"] and report.removed == []
    assert searcher.search("quokka", KEYWORD)[0].title == "Policy"


def test_missing_paths_and_unsupported_explicit_files_are_reported(tmp_path, indexer):
    odd = write(tmp_path / "data.xlsx", b"PK\x03\x04")
    report = indexer.index_paths([tmp_path / "nope", odd], "docs")
    assert [reason for _, reason in report.failed] == ["no such file or folder", "unsupported file type .xlsx"]


def test_invalid_collection_name_is_refused(tmp_path, indexer):
    doc = write(tmp_path / "a.md", "# A\n\nalpha\n")
    with pytest.raises(ValueError, match="invalid collection name"):
        indexer.index_paths([doc], "bad name; drop table")


def test_switching_embedding_model_reembeds_the_collection(tmp_path, engine, indexer, searcher):
    from tests.fakes import FakeEmbedder

    write(tmp_path / "kb" / "a.md", "# A\n\nalpha bravo\n")
    write(tmp_path / "kb" / "b.md", "# B\n\ncharlie delta\n")
    indexer.index_paths([tmp_path / "kb"], "docs")

    other = FakeEmbedder(dim=256, tag="other")
    report = Indexer(engine, other, indexer.chunking).index_paths([tmp_path / "kb"], "docs")
    assert report.reembedded_chunks == 2 and len(report.unchanged) == 2
    with engine.connect() as conn:
        row = conn.execute(text("SELECT embedding_model, embedding_dim FROM collections")).one()
        dims = conn.execute(text("SELECT DISTINCT vector_dims(embedding) FROM chunks")).scalars().all()
    assert tuple(row) == ("fake/other-256", 256) and dims == [256]
    # the old embedder no longer matches the collection, so its vector arm finds nothing there
    assert searcher.search("charlie", RetrievalParams(mode="vector")) == []
    assert Searcher(engine, other).search("charlie delta", RetrievalParams(mode="vector"))[0].title == "B"


def pages_sharing_one_stream(pages: int, line: str) -> bytes:
    """A PDF whose ``pages`` pages all draw one content stream: bytes grow by a few dozen a page."""
    stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode("latin-1")
    head = [b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{' '.join(f'{5 + i} 0 R' for i in range(pages))}] /Count {pages} >>".encode(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> " \
           b"/Contents 4 0 R >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(head + [page] * pages, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_a_pdf_of_too_many_pages_is_refused_before_its_text_is_read(tmp_path, engine, fake_embedder, searcher):
    pdf = write(tmp_path / "kb" / "manual.pdf", make_pdf(["The ocelot manual, first edition."]))
    good = write(tmp_path / "kb" / "good.md", "# Good\n\nThe heron pond is behind building C.\n")
    indexer = Indexer(engine, fake_embedder, max_file_bytes=1_000_000)
    indexer.index_paths([tmp_path / "kb"], "docs")
    many = pages_sharing_one_stream(2500, "Every page says the same: the ocelot manual, pirated.")
    assert len(many) < 400_000  # 20,000 such pages fit in MAX_FILE_MB's 3 MB
    write(pdf, many)
    good.write_text("# Good\n\nThe heron pond moved to building D.\n", encoding="utf-8")

    report = indexer.index_paths([tmp_path / "kb"], "docs")
    assert report.failed == [(str(pdf), "too many pages: 2500, the limit is 2000 (raise MAX_FILE_PAGES to index it)")]
    assert report.updated == [str(good)] and report.removed == []  # the run went on
    assert [c["text"] for c in chunks_of(engine, pdf)] == ["The ocelot manual, first edition."]  # kept as it was
    assert searcher.search("pirated", KEYWORD) == []


def test_a_file_of_too_many_chunks_is_refused_before_it_is_embedded(tmp_path, engine, fake_embedder, searcher):
    import re

    paragraphs = "\n\n".join(f"Paragraph {i} of the walrus almanac says something long enough to stand "
                             f"alone as a chunk of its own, with words like manatee and narwhal number {i}."
                             for i in range(40))
    big = write(tmp_path / "kb" / "almanac.md", f"# Almanac\n\n{paragraphs}\n")
    good = write(tmp_path / "kb" / "good.md", "# Good\n\nThe heron pond is behind building C.\n")
    indexer = Indexer(engine, fake_embedder, ChunkingParams(size=200, overlap=20), max_file_chunks=10)
    report = indexer.index_paths([tmp_path / "kb"], "docs")
    [(source, reason)] = report.failed
    assert source == str(big)
    assert re.fullmatch(r"too many chunks: \d+, the limit is 10 \(raise MAX_FILE_CHUNKS to index it\)", reason)
    assert int(reason.split()[3].rstrip(",")) >= 40
    assert report.added == [str(good)] and chunks_of(engine, big) == []
    assert searcher.search("walrus almanac", KEYWORD) == []
