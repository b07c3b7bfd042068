"""The interaction log: one row per question, written whether answering succeeded or not, and the
Slack message that carries each answer."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Container

from sqlalchemy import Engine, text

from core.redact import find, redact
from core.text import fold


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
    evidence: list[dict] = field(default_factory=list)  # the passages quoted under the answer
    grounding: dict | None = None  # the groundedness check of a generated answer
    fallback: str | None = None  # why a generated answer was replaced by its evidence
    answerability: dict | None = None  # could the sources answer it (answering.answerable)
    place: str | None = None  # "public": asked in a public channel; "private" or None: anywhere else (never shown)


_JSON = ("retrieved", "citations", "latency_ms", "sources", "evidence", "grounding", "answerability")


_REDACTED = ("question", "rewritten_question", "answer")


def record(engine: Engine, interaction: Interaction, redact_personal: bool = True,
           keep: Container[str] = frozenset()) -> int:
    """Insert ``interaction``; returns its id. With ``redact_personal``, personal data in the question, its
    rewrite, the answer, the groundedness record (its claims and a withheld draft) and the answerability
    record (the question's key terms) is stored redacted (``core.redact``), except values in ``keep`` (the
    keys of what the sources themselves say, such as a help-desk number)."""
    values = asdict(interaction)
    if redact_personal:
        personal = [fold(f.value) for key in _REDACTED if values[key]
                    for f in find(values[key]) if f.key not in keep]
        for key in _REDACTED:
            values[key] = values[key] and redact(values[key], keep=keep)
        for key in ("grounding", "answerability"):
            values[key] = _redacted(values[key], keep, personal)
    for key in _JSON:
        values[key] = None if values[key] is None else json.dumps(values[key], ensure_ascii=False)
    columns = ", ".join(values)
    params = ", ".join(f"CAST(:{k} AS jsonb)" if k in _JSON else f":{k}" for k in values)
    with engine.begin() as conn:
        return conn.execute(text(f"INSERT INTO interactions ({columns}) VALUES ({params}) RETURNING id"),
                            values).scalar_one()


def _redacted(value, keep: Container[str], personal: list[str]):
    """``value`` (JSON) with its strings redacted; a claim or term that is a piece of a redacted value (the
    groundedness check reads 010-1234-5678 as 010, 1234 and 5678) becomes "[redacted]"."""
    if isinstance(value, str):
        piece = len(value) >= 3 and any(fold(value) in p for p in personal)
        return "[redacted]" if piece else redact(value, keep=keep)
    if isinstance(value, list):
        return [_redacted(v, keep, personal) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v, keep, personal) for k, v in value.items()}
    return value


def load(engine: Engine, interaction_id: int) -> dict:
    """Every column of interaction ``interaction_id``."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM interactions WHERE id = :i"), {"i": interaction_id}).mappings().one()
    return dict(row)


def draft_verdicts(engine: Engine, model: str, collections: list[str] | None, last: int) -> list[str]:
    """What auto mode's checks made of the ``last`` drafts ``model`` wrote for questions searching ``collections``
    (None: every collection): "passed", or why a draft was not given ("unsupported", "uncited", …), newest
    first. Evaluations' questions (origin "eval") do not count."""
    with engine.connect() as conn:
        return list(conn.execute(text("""
            SELECT grounding->>'review' FROM interactions
            WHERE model_name = :m AND grounding ? 'review' AND origin <> 'eval'
              AND collections IS NOT DISTINCT FROM CAST(:c AS text[])
            ORDER BY id DESC LIMIT :n"""), {"m": model, "c": collections, "n": last}).scalars())


def forget_origin(engine: Engine, origin: str) -> None:
    """Delete every interaction asked from ``origin``, with its votes and any cache entry made from it."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM interactions WHERE origin = :o"), {"o": origin})


def bot_answered_thread(engine: Engine, channel: str, thread_ts: str) -> bool:
    """Has the bot replied in this thread (so a follow-up there is meant for it)?"""
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM interactions WHERE origin = 'slack' AND channel = :c "
                                 "AND thread_ts = :t AND reply_ts IS NOT NULL)"),
                            {"c": channel, "t": thread_ts}).scalar_one()


def set_reply(engine: Engine, interaction_id: int, reply_ts: str) -> None:
    """Remember the Slack message that carries the answer, so reactions on it find their interaction."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE interactions SET reply_ts = :ts WHERE id = :i"),
                     {"ts": reply_ts, "i": interaction_id})


def interaction_for_reply(engine: Engine, channel: str, reply_ts: str) -> int | None:
    """The interaction whose answer is the message ``reply_ts``, if any."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM interactions WHERE channel = :c AND reply_ts = :ts"),
                            {"c": channel, "ts": reply_ts}).scalar()


def has_asked_before(engine: Engine, user: str) -> bool:
    """Has ``user`` asked the bot anything in Slack before?"""
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM interactions WHERE origin = 'slack' AND asker = :u)"),
                            {"u": user}).scalar_one()


def question_of(engine: Engine, interaction_id: int | None) -> dict | None:
    """Where, what and against which collections was asked, and where it was answered (``reply_ts``:
    the channel message carrying the answer; None for an ephemeral reply); None for no such interaction
    (a button may outlive its row)."""
    if interaction_id is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, question, asker, channel, thread_ts, reply_ts, language, collections "
                                "FROM interactions WHERE id = :i"), {"i": interaction_id}).mappings().first()
    return dict(row) if row else None
