"""The interaction log: one row per question, written whether answering succeeded or not."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from sqlalchemy import Engine, text


@dataclass
class Interaction:
    question: str
    origin: str = "cli"
    route: str = "pending"
    asker: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    rewritten_question: str | None = None
    language: str | None = None
    collections: list[str] | None = None
    prompt_version: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    fallback_reason: str | None = None
    retrieved: list[dict] = field(default_factory=list)
    answer: str | None = None
    answer_language: str | None = None
    citations: list[dict] = field(default_factory=list)
    verified: bool | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    context: str | None = None  # the sources exactly as rendered into the prompt
    sources: list[dict] = field(default_factory=list)  # every source given, with "cited" and "content_hash"
    cached_answer_id: int | None = None


_JSON = ("retrieved", "citations", "latency_ms", "sources")


def record(engine: Engine, interaction: Interaction) -> int:
    """Insert ``interaction``; returns its id."""
    values = asdict(interaction)
    for key in _JSON:
        values[key] = json.dumps(values[key], ensure_ascii=False)
    columns = ", ".join(values)
    params = ", ".join(f"CAST(:{k} AS jsonb)" if k in _JSON else f":{k}" for k in values)
    with engine.begin() as conn:
        return conn.execute(text(f"INSERT INTO interactions ({columns}) VALUES ({params}) RETURNING id"),
                            values).scalar_one()


def load(engine: Engine, interaction_id: int) -> dict:
    """Every column of interaction ``interaction_id``."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM interactions WHERE id = :i"), {"i": interaction_id}).mappings().one()
    return dict(row)


def forget_origin(engine: Engine, origin: str) -> None:
    """Delete every interaction asked from ``origin``, with its votes and any cache entry made from it."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM interactions WHERE origin = :o"), {"o": origin})
