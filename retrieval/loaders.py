"""Files -> text with structure. Markdown, plain text, HTML and PDF.

Every loader returns a ParsedDocument whose sections carry the heading path, so a
chunk can be cited as "Title › Section". Anything unreadable raises UnreadableFile
with a short reason that the index summary shows to the user.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.errors import UnreadableFile
from core.text import clean

SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}


@dataclass(frozen=True)
class Section:
    heading: str
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    kind: str
    sections: list[Section] = field(default_factory=list)
    url: str | None = None


def kind_of(path: Path) -> str | None:
    return SUFFIXES.get(path.suffix.lower())


def parse(data: bytes, kind: str, name: str, max_pages: int | None = None) -> ParsedDocument:
    """Parse ``data`` of ``kind``; ``name`` (a file name) is the fallback title.

    A PDF of more than ``max_pages`` pages is refused before any text is extracted.
    """
    fallback = _title_from_name(name)
    if kind == "pdf":
        doc = _parse_pdf(data, fallback, max_pages)
    else:
        text = decode_text(data)
        if kind == "markdown":
            doc = parse_markdown(text, fallback)
        elif kind == "html":
            doc = _parse_html(text, fallback)
        elif kind == "text":
            doc = ParsedDocument(title=fallback, kind="text", sections=[Section("", text)])
        else:
            raise UnreadableFile(f"unsupported file type {kind!r}")
    if not any(s.text.strip() for s in doc.sections):
        raise UnreadableFile("empty: no text to index")
    if len(doc.title) > MAX_TITLE_CHARS:  # a title is shown in every citation
        doc = dataclasses.replace(doc, title=doc.title[:MAX_TITLE_CHARS - 1].rstrip() + "…")
    return doc


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM) or BOM-marked UTF-16; refuse binary data."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return clean(data.decode("utf-16"))
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"invalid UTF-16 text at byte {exc.start}") from exc
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary file, not text")
    try:
        return clean(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from exc


def _title_from_name(name: str) -> str:
    stem = Path(name).stem
    return re.sub(r"[_-]+", " ", stem).strip() or name


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
# Front matter is a few lines of metadata; anything bigger is not worth parsing as YAML.
MAX_FRONT_MATTER_CHARS = 16_384
MAX_TITLE_CHARS = 300


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases: nested anchors ("billion laughs") expand into gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"aliases (*{event.anchor}) are not allowed",
                                              event.start_mark)
        return super().compose_node(parent, index)


def front_matter(text: str) -> tuple[dict, str]:
    """Split YAML front matter from Markdown; returns (metadata, the rest).

    Front matter that is too long, not valid YAML, not a mapping or uses aliases is
    dropped: the document still indexes, named by its heading or file name.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    rest = text[match.end():]
    if len(match.group(1)) > MAX_FRONT_MATTER_CHARS:
        return {}, rest
    try:
        loaded = yaml.load(match.group(1), Loader=_NoAliasLoader)
    except yaml.YAMLError:
        return {}, rest
    return (loaded if isinstance(loaded, dict) else {}), rest


def _scalar(value) -> str:
    """A front-matter value as text, or "" when it is a list or mapping."""
    plain = isinstance(value, (str, int, float, datetime.date)) and not isinstance(value, bool)
    return str(value).strip() if plain else ""


def parse_markdown(text: str, fallback_title: str, kind: str = "markdown") -> ParsedDocument:
    """Split Markdown into sections at headings (levels 1-4; fenced code is respected).

    The front-matter ``title`` or the first H1 names the document; front-matter ``url``
    is kept as the document's link.
    """
    from markdown_it import MarkdownIt

    meta, text = front_matter(text)
    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    headings = []  # (first line, line after, level, heading text)
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map and int(token.tag[1]) <= 4:
            headings.append((token.map[0], token.map[1], int(token.tag[1]), tokens[i + 1].content.strip()))
    h1s = [h[3] for h in headings if h[2] == 1]
    title = _scalar(meta.get("title")) or (h1s[0] if h1s else fallback_title).strip()

    sections: list[Section] = []
    path: list[tuple[int, str]] = []

    def add(start: int, end: int) -> None:
        body = "\n".join(lines[start:end]).strip()
        if body:
            names = [name for _, name in path]
            if names and names[0] == title:
                names = names[1:]
            sections.append(Section(" › ".join(names), body))

    cursor = 0
    for first, after, level, name in headings:
        add(cursor, first)
        path = [(lvl, n) for lvl, n in path if lvl < level] + [(level, name)]
        cursor = after
    add(cursor, len(lines))
    url = _scalar(meta.get("url"))
    return ParsedDocument(title=title, kind=kind, sections=sections, url=url or None)


def _parse_html(text: str, fallback_title: str) -> ParsedDocument:
    import html2text
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "template", "svg"]):
        tag.decompose()
    head_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    canonical = soup.find("link", rel="canonical")
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_links = True
    markdown = converter.handle(str(soup.body or soup))
    doc = parse_markdown(markdown, head_title or fallback_title, kind="html")
    title = head_title or doc.title
    url = canonical.get("href") if canonical else None
    return ParsedDocument(title=title, kind="html", sections=doc.sections, url=url)


def too_many(what: str, count: int, limit: int, setting: str) -> str:
    """The reason a file over a count limit is skipped, and how to index it anyway."""
    return f"too many {what}: {count}, the limit is {limit} (raise {setting} to index it)"


def _parse_pdf(data: bytes, fallback_title: str, max_pages: int | None = None) -> ParsedDocument:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        raise UnreadableFile(f"malformed PDF: {exc}") from exc
    if encrypted:
        try:
            opened = bool(reader.decrypt(""))  # some PDFs are "encrypted" with an empty password
        except Exception:
            opened = False
        if not opened:
            raise UnreadableFile("encrypted PDF: remove the password to index it")
    try:
        # Pages can share one content stream: a few megabytes can hold 20,000 pages of text to extract
        # and embed, so they are counted before any is read.
        count = len(reader.pages)
    except Exception as exc:
        raise UnreadableFile(f"malformed PDF: {exc}") from exc
    if max_pages is not None and count > max_pages:
        raise UnreadableFile(too_many("pages", count, max_pages, "MAX_FILE_PAGES"))
    try:
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except Exception as exc:
        raise UnreadableFile(f"malformed PDF: {exc}") from exc
    sections = [Section(f"page {i}", clean(text)) for i, text in enumerate(pages, 1) if text.strip()]
    if not sections:
        raise UnreadableFile("empty: the PDF has no extractable text (scanned pages need OCR first)")
    return ParsedDocument(title=str(meta_title).strip() or fallback_title, kind="pdf", sections=sections)
