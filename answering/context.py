"""Retrieved chunks -> numbered sources that fit the model's context window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from retrieval.search import SearchHit


def heading(title: str, section: str) -> str:
    """``Title › Section`` (or the title alone), as sources are shown everywhere."""
    return f"{title} › {section}" if section else title


@dataclass(frozen=True)
class Source:
    number: int
    title: str
    section: str
    text: str
    source: str
    url: str | None
    collection: str
    document_id: int
    chunk_ids: tuple[int, ...]
    score: float
    content_hash: str | None = None  # the document's hash when the answer was made (cached answers)

    @property
    def heading(self) -> str:
        return heading(self.title, self.section)

    def render(self) -> str:
        return f"[{self.number}] {self.heading}\n{self.text}"


@dataclass
class _Group:
    hits: list[SearchHit]

    @property
    def best(self) -> SearchHit:
        return max(self.hits, key=lambda h: h.score)


def _join(a: str, b: str) -> str:
    """Concatenate consecutive chunks, dropping the overlap the chunker repeated."""
    for k in range(min(len(a), len(b), 600), 19, -1):
        if a.endswith(b[:k]):
            return a + b[k:]
    return f"{a}\n{b}"


def _heading_line(before: str, after: str) -> str:
    """The heading that opens the next section's text when two chunks of one document are joined: the part of
    its path the one before does not share ("Severity › S3/S4" after "Severity › S2": "### S3/S4"), so what
    is under it is not read as under the first chunk's heading."""
    old, new = before.split(" › ") if before else [], after.split(" › ") if after else []
    shared = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    return "### " + (" › ".join(new[shared:]) or (new[-1] if new else ""))


def _merge_adjacent(hits: list[SearchHit]) -> list[_Group]:
    """Group hits of one document whose chunks are consecutive; drop repeated texts."""
    seen_texts: set[str] = set()
    unique = []
    for hit in hits:
        key = " ".join(hit.text.split())
        if key not in seen_texts:
            seen_texts.add(key)
            unique.append(hit)
    groups: list[_Group] = []
    by_doc: dict[int, list[_Group]] = {}
    for hit in unique:
        for group in by_doc.get(hit.document_id, []):
            ordinals = {h.ordinal for h in group.hits}
            if hit.ordinal - 1 in ordinals or hit.ordinal + 1 in ordinals:
                group.hits.append(hit)
                break
        else:
            group = _Group([hit])
            groups.append(group)
            by_doc.setdefault(hit.document_id, []).append(group)
    return groups


def build_sources(hits: list[SearchHit], budget_tokens: int, count_tokens: Callable[[str], int]) -> list[Source]:
    """Number the best sources first and stop before the rendered sources exceed ``budget_tokens``.

    The first source is shortened rather than dropped if it alone is over the budget.
    """
    groups = sorted(_merge_adjacent(hits), key=lambda g: -g.best.score)
    sources: list[Source] = []
    used = 0
    for group in groups:
        ordered = sorted(group.hits, key=lambda h: h.ordinal)
        text = ordered[0].text
        for before, hit in zip(ordered, ordered[1:]):
            text = _join(text, hit.text) if hit.section == before.section else \
                f"{text}\n\n{_heading_line(before.section, hit.section)}\n\n{hit.text}"
        best = group.best
        source = Source(len(sources) + 1, best.title, ordered[0].section, text, best.source, best.url,
                        best.collection, best.document_id, tuple(h.chunk_id for h in ordered), best.score)
        cost = count_tokens(source.render()) + 2
        if used + cost > budget_tokens:
            if sources:
                break
            source = _shorten(source, budget_tokens, count_tokens)
            cost = count_tokens(source.render())
        sources.append(source)
        used += cost
    return sources


def _shorten(source: Source, budget: int, count_tokens: Callable[[str], int]) -> Source:
    def cut(text: str) -> Source:
        return Source(**{**source.__dict__, "text": text.rstrip() + " …"})

    text = source.text
    while text and count_tokens(cut(text).render()) > budget:
        text = text[: int(len(text) * 0.8)]
    return cut(text)
