"""Retention: what people asked, said and did is kept for a while, then purged.

``purge`` removes, older than the cut-off: interactions (their votes and comments go with them),
comments left on answers that stay, Slack message claims and the admin audit log. The interactions
a cached answer that is not stale rests on stay while it does (its own, and those it was served in:
their votes rate it), reduced: who asked, where, the thread, the rewrite, the groundedness and
answerability records (the question's key terms) and any error go; the question and answer are
redacted (``core.redact``; values the sources give, such as a help-desk number, stay); what describes
the answer and not the asker stays (language, scope, route, sources, citations, evidence, the votes).
The cache entry's copy of the question is redacted too, and its answer unless an admin wrote it.

RETENTION_DAYS makes the Slack server run it once a day; ``python -m bot purge --older-than 90d``
runs it by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine, text

from core.errors import InvalidInput
from core.redact import keys, redact
from feedback.answer_cache import normalize

# The interactions a live (not stale) cache entry rests on: its own, and those it was served in.
_KEPT = """
    SELECT e.interaction_id FROM cached_answers e WHERE e.status <> 'stale'
    UNION ALL
    SELECT i.id FROM interactions i JOIN cached_answers e ON e.id = i.cached_answer_id WHERE e.status <> 'stale'
"""
MAX_DAYS = 365 * 100
_AGE = re.compile(r"^\s*(\d+)\s*([dhw]?)\s*$")
_UNITS = {"": "days", "d": "days", "h": "hours", "w": "weeks"}


@dataclass
class PurgeReport:
    interactions: int = 0  # deleted, with their votes and comments
    reduced: int = 0  # kept for a cached answer, reduced to its redacted question and answer
    comments: int = 0  # comments removed from answers that stay
    claims: int = 0
    admin_actions: int = 0

    def summary(self) -> str:
        return (f"{self.interactions} interactions deleted, {self.reduced} kept for cached answers and reduced, "
                f"{self.comments} comments, {self.claims} Slack claims and {self.admin_actions} admin actions "
                "removed")


def parse_age(value: str) -> timedelta:
    """``90d``, ``12h``, ``2w`` or a bare number of days."""
    m = _AGE.match(value)
    age = timedelta(**{_UNITS[m.group(2)]: min(int(m.group(1)), MAX_DAYS * 24)}) if m else None
    if age is None or not timedelta(0) < age <= timedelta(days=MAX_DAYS):
        raise InvalidInput(f"expected an age such as 90d, 12h or 2w (at most {MAX_DAYS} days), not {value!r}")
    return age


def purge(engine: Engine, older_than: timedelta) -> PurgeReport:
    """Purge everything older than ``older_than`` (see the module docstring), in one transaction."""
    report = PurgeReport()
    cut = {"cut": older_than}
    with engine.begin() as conn:
        report.reduced = _reduce_cached(conn, older_than)
        report.interactions = conn.execute(text(f"""
            DELETE FROM interactions i WHERE i.created_at < now() - :cut AND i.id NOT IN ({_KEPT})
        """), cut).rowcount
        report.comments = conn.execute(text("UPDATE feedback SET comment = NULL "
                                            "WHERE comment IS NOT NULL AND updated_at < now() - :cut"), cut).rowcount
        report.claims = conn.execute(text("DELETE FROM slack_claims WHERE claimed_at < now() - :cut"), cut).rowcount
        report.admin_actions = conn.execute(text("DELETE FROM admin_actions WHERE created_at < now() - :cut"),
                                            cut).rowcount
    return report


def _reduce_cached(conn: Connection, older_than: timedelta) -> int:
    """Reduce the old interactions cached answers rest on; returns how many changed."""
    rows = conn.execute(text(f"""
        SELECT i.id, i.question, i.rewritten_question, i.answer, i.context, i.asker, i.channel, i.thread_ts,
               i.message_ts, i.reply_ts, i.grounding, i.answerability, i.error, e.id AS entry_id,
               e.question AS cached_question, e.answer AS cached_answer, e.curated_by
        FROM interactions i LEFT JOIN cached_answers e ON e.interaction_id = i.id
        WHERE i.created_at < now() - :cut AND i.id IN ({_KEPT})
    """), {"cut": older_than}).mappings().all()
    changed = 0
    for row in rows:
        keep = keys(row["context"] or "")
        question, answer, cached_question = (row[k] and redact(row[k], keep=keep)
                                             for k in ("question", "answer", "cached_question"))
        cached_answer = row["cached_answer"] if row["curated_by"] else row["cached_answer"] and redact(
            row["cached_answer"], keep=keep)
        gone = any(row[k] is not None for k in ("rewritten_question", "asker", "channel", "thread_ts", "message_ts",
                                                 "reply_ts", "grounding", "answerability", "error"))
        if not gone and (question, answer, cached_question, cached_answer) == (
                row["question"], row["answer"], row["cached_question"], row["cached_answer"]):
            continue
        conn.execute(text("""
            UPDATE interactions SET question = :q, answer = :a, rewritten_question = NULL, asker = NULL,
                   channel = NULL, thread_ts = NULL, message_ts = NULL, reply_ts = NULL, grounding = NULL,
                   answerability = NULL, error = NULL
            WHERE id = :i
        """), {"q": question, "a": answer, "i": row["id"]})
        if row["entry_id"] is not None:
            conn.execute(text("UPDATE cached_answers SET question = :q, normalized = :n, answer = :a WHERE id = :e"),
                         {"q": cached_question, "n": normalize(cached_question), "a": cached_answer,
                          "e": row["entry_id"]})
        changed += 1
    return changed
