"""What the exports read: every answer people rated or an admin corrected, with its vote counts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, text

from feedback.votes import tally


def rated(engine: Engine, since: date | None = None) -> list[dict]:
    """Every voted-on or curated interaction, oldest first, with its votes and any curated answer."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT i.id, i.question, i.rewritten_question, i.language, i.collections, i.route, i.answer,
                   i.context, i.sources, v.up, v.down, e.answer AS curated_answer, e.curated_by
            FROM interactions i
            LEFT JOIN cached_answers e ON e.interaction_id = i.id AND e.curated_by IS NOT NULL
            CROSS JOIN LATERAL (SELECT {tally()} FROM feedback f WHERE f.interaction_id = i.id) v
            WHERE (v.up + v.down > 0 OR e.id IS NOT NULL)
              AND (CAST(:since AS date) IS NULL OR i.created_at >= CAST(:since AS date))
            ORDER BY i.id
        """), {"since": since}).mappings().all()
    return [dict(r) for r in rows]
