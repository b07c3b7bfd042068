"""Retention: what people asked, said and did is kept for a while, then purged.

``purge`` removes, older than the cut-off: interactions (their votes and comments go with them),
comments left on answers that stay, Slack message claims and the admin audit log. An interaction
that an approved or curated cached answer rests on stays, reduced to what the cache needs: its
question and answer, redacted (``core.redact``; values its sources give, such as a help-desk number,
stay), its language, scope, route and sources. Who asked, where, what the thread said and the
model's withheld draft go, and the cached copy of the question and answer is redacted as well.

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
    if not m or int(m.group(1)) <= 0:
        raise InvalidInput(f"expected an age such as 90d, 12h or 2w, not {value!r}")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def purge(engine: Engine, older_than: timedelta) -> PurgeReport:
    """Purge everything older than ``older_than`` (see the module docstring), in one transaction."""
    report = PurgeReport()
    cut = {"cut": older_than}
    with engine.begin() as conn:
        report.reduced = _reduce_cached(conn, older_than)
        report.interactions = conn.execute(text("""
            DELETE FROM interactions i WHERE i.created_at < now() - :cut
              AND NOT EXISTS (SELECT 1 FROM cached_answers e WHERE e.interaction_id = i.id)
        """), cut).rowcount
        report.comments = conn.execute(text("UPDATE feedback SET comment = NULL "
                                            "WHERE comment IS NOT NULL AND updated_at < now() - :cut"), cut).rowcount
        report.claims = conn.execute(text("DELETE FROM slack_claims WHERE claimed_at < now() - :cut"), cut).rowcount
        report.admin_actions = conn.execute(text("DELETE FROM admin_actions WHERE created_at < now() - :cut"),
                                            cut).rowcount
    return report


def _reduce_cached(conn: Connection, older_than: timedelta) -> int:
    """Reduce the old interactions cached answers rest on; returns how many changed."""
    rows = conn.execute(text("""
        SELECT i.id, i.question, i.rewritten_question, i.answer, i.context, i.asker, i.channel, i.thread_ts,
               i.message_ts, i.reply_ts, i.grounding, i.error, e.id AS entry_id, e.question AS cached_question,
               e.answer AS cached_answer
        FROM interactions i JOIN cached_answers e ON e.interaction_id = i.id
        WHERE i.created_at < now() - :cut
    """), {"cut": older_than}).mappings().all()
    changed = 0
    for row in rows:
        keep = keys(row["context"] or "")
        question, answer, cached_question, cached_answer = (
            row[k] and redact(row[k], keep=keep) for k in ("question", "answer", "cached_question", "cached_answer"))
        gone = any(row[k] is not None for k in ("rewritten_question", "asker", "channel", "thread_ts", "message_ts",
                                                 "reply_ts", "grounding", "error"))
        if not gone and (question, answer, cached_question, cached_answer) == (
                row["question"], row["answer"], row["cached_question"], row["cached_answer"]):
            continue
        conn.execute(text("""
            UPDATE interactions SET question = :q, answer = :a, rewritten_question = NULL, asker = NULL,
                   channel = NULL, thread_ts = NULL, message_ts = NULL, reply_ts = NULL, grounding = NULL, error = NULL
            WHERE id = :i
        """), {"q": question, "a": answer, "i": row["id"]})
        conn.execute(text("UPDATE cached_answers SET question = :q, normalized = :n, answer = :a WHERE id = :e"),
                     {"q": cached_question, "n": normalize(cached_question), "a": cached_answer, "e": row["entry_id"]})
        changed += 1
    return changed
