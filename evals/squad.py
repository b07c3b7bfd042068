"""SQuAD-layout files (SQuAD v1.1 and the Korean set in benchmarks/data): their paragraphs as documents and
their questions, for the evaluations and the benchmarks alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.errors import InvalidInput
from retrieval.ingest import SourceItem


def scratch_collection(squad_json: Path) -> str:
    """One scratch collection per file, so --reuse-index keeps each data set's index."""
    return "bench-" + re.sub(r"[^a-z0-9.]+", "-", Path(squad_json).stem.lower()).strip("-")


def load_squad(path: Path) -> tuple[list[SourceItem], list[tuple[str, str]]]:
    """Distinct paragraphs as items, and (question, paragraph source) pairs."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:  # a file named on the command line
        raise InvalidInput(str(exc)) from exc
    by_text: dict[str, SourceItem] = {}
    questions: list[tuple[str, str]] = []
    for article in data["data"]:
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].strip()
            item = by_text.get(context)
            if item is None:
                item = by_text[context] = SourceItem(f"squad:{len(by_text)}", "text", data=context.encode("utf-8"),
                                                     title=title)
            questions.extend((qa["question"], item.source) for qa in paragraph["qas"])
    return list(by_text.values()), questions
