"""Votes and comments on answers, and what they add up to: vote rates, popular questions, the 👎 review.

``tally`` is the one way votes are counted; the stats here, the approved-answer cache and the
exports all use it.
"""

from __future__ import annotations

from typing import Callable, Collection

from sqlalchemy import Engine, text

from core.redact import redact


def tally(f: str = "f", *, people: bool = False) -> str:
    """SQL select-list terms ``up, down``: the 👍 and 👎 among the ``feedback`` rows aliased ``f``.

    ``people`` counts distinct voters rather than votes: the same on one answer (a person has
    one vote there), fewer across several answers when someone voted on more than one.
    """
    counted = f"DISTINCT {f}.user_id" if people else "*"
    return (f"count({counted}) FILTER (WHERE {f}.vote = 1) AS up, "
            f"count({counted}) FILTER (WHERE {f}.vote = -1) AS down")


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


def comment(engine: Engine, interaction_id: int, user: str, body: str, redact_personal: bool = True) -> bool:
    """``user``'s comment on an answer they rated (the comment modal opens after a 👎; a vote withdrawn since
    still counts), with personal data redacted unless told otherwise; False, and nothing stored, when they
    never rated it: a comment cannot reach an answer its writer was not shown."""
    body = redact(body) if redact_personal else body
    with engine.begin() as conn:
        return conn.execute(text("UPDATE feedback SET comment = :c, updated_at = now() "
                                 "WHERE interaction_id = :i AND user_id = :u RETURNING 1"),
                            {"i": interaction_id, "u": user, "c": body}).first() is not None


def popular_questions(engine: Engine, shown: Callable[[list[str] | None], bool], channels: Collection[str],
                      limit: int = 3, candidates: int = 200) -> list[str]:
    """The questions with the most net 👍, most recent first among equals, of those asked in a public
    channel among ``channels`` (those that let theirs be shown) and that ``shown`` lets through: it is given
    each question's scope (the collections it was asked against) and says whether the audience may see it.
    A question asked anywhere private (a DM, a group DM, a private channel, the assistant panel, /ask) or
    outside Slack is never one of them, not even for its asker."""
    if not channels:
        return []
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT i.question, i.collections FROM interactions i JOIN feedback f ON f.interaction_id = i.id
            WHERE i.route IN ('answer', 'extractive') AND i.place = 'public' AND i.channel = ANY(:channels)
            GROUP BY i.question, i.collections HAVING sum(f.vote) > 0
            ORDER BY sum(f.vote) DESC, max(i.created_at) DESC LIMIT :n
        """), {"n": candidates, "channels": list(channels)}).all()
    visible = (question for question, scope in rows if shown(scope))
    return list(dict.fromkeys(visible))[:limit]


def answer_stats(engine: Engine) -> dict:
    """Answer counts by route and vote rates, for /kb status."""
    with engine.connect() as conn:
        routes = dict(conn.execute(text("SELECT route, count(*) FROM interactions WHERE origin = 'slack' "
                                        "GROUP BY route")).all())
        up, down = conn.execute(text(f"SELECT {tally()} FROM feedback f")).one()
    return {"routes": routes, "up": up, "down": down}


def downvoted(engine: Engine, shown: Callable[[list[str] | None], bool], limit: int = 10,
              candidates: int = 200) -> list[dict]:
    """The most recent answers with an open 👎 that ``shown`` lets through (given each one's scope, as
    in ``popular_questions``): question, answer, sources, votes, comments."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT i.id, i.created_at, i.question, i.answer, i.route, i.citations, i.language, i.collections,
                   {tally()},
                   coalesce(array_agg(f.comment ORDER BY f.updated_at) FILTER (WHERE f.comment IS NOT NULL),
                            '{{}}') AS comments,
                   max(f.updated_at) FILTER (WHERE f.vote = -1) AS last_down,
                   (SELECT e.curated_by FROM cached_answers e WHERE e.interaction_id = i.id) AS curated_by
            FROM interactions i JOIN feedback f ON f.interaction_id = i.id
            GROUP BY i.id HAVING bool_or(f.vote = -1)
            ORDER BY last_down DESC, i.id DESC LIMIT :n
        """), {"n": candidates}).mappings().all()
    return [dict(r) for r in rows if shown(r["collections"])][:limit]


def answer_to_correct(engine: Engine, interaction_id: int) -> str | None:
    """The text an admin's correction of ``interaction_id`` starts from: its curated answer, else the logged one."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(e.answer, i.answer) FROM interactions i "
                                 "LEFT JOIN cached_answers e ON e.interaction_id = i.id WHERE i.id = :i"),
                            {"i": interaction_id}).scalar()
