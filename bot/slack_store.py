"""What the Slack side keeps in PostgreSQL: question claims, answer messages, votes, admin actions."""

from __future__ import annotations

import json

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

PROBE_SECONDS = 2


def claim(engine: Engine, channel: str, message_ts: str) -> bool:
    """True for the first caller only: the one that answers this Slack message."""
    with engine.begin() as conn:
        row = conn.execute(text("INSERT INTO slack_claims (channel, message_ts) VALUES (:c, :ts) "
                                "ON CONFLICT DO NOTHING RETURNING 1"), {"c": channel, "ts": message_ts}).first()
    return row is not None


def probe_engine(engine: Engine) -> Engine:
    """A one-connection engine for health checks that gives up within seconds: the main pool's
    connects have no timeout, so a check through it could hang as long as the network does."""
    return create_engine(engine.url, pool_size=1, max_overflow=1, pool_timeout=PROBE_SECONDS, pool_pre_ping=True,
                         connect_args={"connect_timeout": PROBE_SECONDS, "application_name": "team-kb-health",
                                       "options": f"-c statement_timeout={PROBE_SECONDS * 1000}"})


def database_problem(probe: Engine) -> str | None:
    """None when ``SELECT 1`` works; else why not, in one line."""
    try:
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
    return None


def bot_answered_thread(engine: Engine, channel: str, thread_ts: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM interactions WHERE origin = 'slack' AND channel = :c "
                                 "AND thread_ts = :t AND reply_ts IS NOT NULL)"),
                            {"c": channel, "t": thread_ts}).scalar_one()


def set_reply(engine: Engine, interaction_id: int, reply_ts: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE interactions SET reply_ts = :ts WHERE id = :i"),
                     {"ts": reply_ts, "i": interaction_id})


def interaction_for_reply(engine: Engine, channel: str, reply_ts: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM interactions WHERE channel = :c AND reply_ts = :ts"),
                            {"c": channel, "ts": reply_ts}).scalar()


def interaction_exists(engine: Engine, interaction_id: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM interactions WHERE id = :i)"),
                            {"i": interaction_id}).scalar_one()


def vote(engine: Engine, interaction_id: int, user: str, value: int, via: str) -> None:
    """Record ``user``'s vote (+1 / -1) on an answer; a later vote replaces an earlier one."""
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO feedback (interaction_id, user_id, vote, via) VALUES (:i, :u, :v, :via)
            ON CONFLICT (interaction_id, user_id)
            DO UPDATE SET vote = EXCLUDED.vote, via = EXCLUDED.via, updated_at = now()
        """), {"i": interaction_id, "u": user, "v": value, "via": via})


def withdraw(engine: Engine, interaction_id: int, user: str, value: int) -> None:
    """A removed reaction withdraws that vote, unless the user has voted otherwise since."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE feedback SET vote = 0, via = 'reaction', updated_at = now() "
                          "WHERE interaction_id = :i AND user_id = :u AND vote = :v"),
                     {"i": interaction_id, "u": user, "v": value})


def comment(engine: Engine, interaction_id: int, user: str, body: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO feedback (interaction_id, user_id, vote, via, comment) VALUES (:i, :u, -1, 'modal', :c)
            ON CONFLICT (interaction_id, user_id) DO UPDATE SET comment = EXCLUDED.comment, updated_at = now()
        """), {"i": interaction_id, "u": user, "c": body})


def votes(engine: Engine, interaction_id: int) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT user_id, vote, via, comment FROM feedback WHERE interaction_id = :i"),
                            {"i": interaction_id}).mappings().all()
    return {r["user_id"]: dict(r) for r in rows}


def log_admin(engine: Engine, user: str, action: str, allowed: bool, detail: dict | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO admin_actions (user_id, action, allowed, detail) "
                          "VALUES (:u, :a, :ok, CAST(:d AS jsonb))"),
                     {"u": user, "a": action, "ok": allowed, "d": json.dumps(detail or {}, ensure_ascii=False)})


def has_asked_before(engine: Engine, user: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM interactions WHERE origin = 'slack' AND asker = :u)"),
                            {"u": user}).scalar_one()


def popular_questions(engine: Engine, limit: int = 3) -> list[str]:
    """The questions with the most net 👍, most recent first among equals."""
    with engine.connect() as conn:
        return list(conn.execute(text("""
            SELECT i.question FROM interactions i JOIN feedback f ON f.interaction_id = i.id
            WHERE i.route = 'answer' GROUP BY i.question HAVING sum(f.vote) > 0
            ORDER BY sum(f.vote) DESC, max(i.created_at) DESC LIMIT :n
        """), {"n": limit}).scalars())


def answer_stats(engine: Engine) -> dict:
    """Answer counts by route and vote rates, for /kb status."""
    with engine.connect() as conn:
        routes = dict(conn.execute(text("SELECT route, count(*) FROM interactions WHERE origin = 'slack' "
                                        "GROUP BY route")).all())
        up, down = conn.execute(text("SELECT count(*) FILTER (WHERE vote = 1), count(*) FILTER (WHERE vote = -1) "
                                     "FROM feedback")).one()
    return {"routes": routes, "up": up, "down": down}


def question_of(engine: Engine, interaction_id: int) -> dict | None:
    """Where and what was asked, for re-asking an answered question."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, question, channel, thread_ts, language FROM interactions WHERE id = :i"),
                           {"i": interaction_id}).mappings().first()
    return dict(row) if row else None


def downvoted(engine: Engine, limit: int = 10) -> list[dict]:
    """The most recent answers with an open 👎: question, answer, sources, votes, comments."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT i.id, i.created_at, i.question, i.answer, i.route, i.citations, i.language,
                   count(*) FILTER (WHERE f.vote = 1) AS up, count(*) FILTER (WHERE f.vote = -1) AS down,
                   coalesce(array_agg(f.comment ORDER BY f.updated_at) FILTER (WHERE f.comment IS NOT NULL),
                            '{}') AS comments,
                   max(f.updated_at) FILTER (WHERE f.vote = -1) AS last_down,
                   (SELECT e.curated_by FROM cached_answers e WHERE e.interaction_id = i.id) AS curated_by
            FROM interactions i JOIN feedback f ON f.interaction_id = i.id
            GROUP BY i.id HAVING count(*) FILTER (WHERE f.vote = -1) > 0
            ORDER BY last_down DESC, i.id DESC LIMIT :n
        """), {"n": limit}).mappings().all()
    return [dict(r) for r in rows]
